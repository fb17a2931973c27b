"""Sanity checks of two popular kinds of explanation: probing classifiers (with control tasks) and attention.

**Probing** (Belinkov 2022) trains a small classifier to read a linguistic property off a frozen model's hidden
states, layer by layer, and takes its accuracy as evidence that the layer "encodes" the property. Hewitt & Liang
(2019) showed that accuracy alone says little: a probe can reach it by memorising word identities. Their *control
task* gives every word type a random label, drawn from the empirical distribution of the real labels; it can only
be learnt by memorising types, so its accuracy measures what memorisation alone buys. The *selectivity* of a probe
is its accuracy on the real task minus its accuracy on the control task. Here the property is a coarse part of
speech per word type (:data:`COARSE_POS`, from Brill's lexicon shipped in TextBlob) and the probe is a linear
logistic regression on standardised features with a fixed regularisation.

**Attention as explanation** (Jain & Wallace 2019; Wiegreffe & Pinter 2019) is checked in the two ways those papers
argue about, at a size a CPU affords: (i) agreement, per text, between attention-based word scores and a
gradient or occlusion attribution (Spearman and Kendall rank correlations); (ii) what the prediction does when
the attention is changed — the last layer's [CLS] attention randomly permuted over the words, inside the model —
compared with deleting the word attention ranks first, the word the reference attribution ranks first, an average
word, and the most influential word (deletion re-tokenises the text without the word); (iii) Adebayo et al.'s
(2018) model-randomisation check: does the explanation change when the classification head is re-drawn?
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn
from transformers import AttentionInterface, PreTrainedModel, PreTrainedTokenizerBase
from transformers.masking_utils import AttentionMaskInterface, eager_mask

from seedexplain.linear import pos_lexicon
from seedexplain.train import transformer_logit_diff
from seedexplain.words import segment, token_word_index

COARSE_POS = ("NOUN", "VERB", "ADJ", "ADV", "FUNCTION", "OTHER")
"""The probed classes; a word's label is the index of its class in this tuple (-1: word not in the lexicon)."""

_PENN_TO_COARSE = {
    **dict.fromkeys(("NN", "NNS", "NNP", "NNPS"), "NOUN"),
    **dict.fromkeys(("VB", "VBD", "VBG", "VBN", "VBP", "VBZ"), "VERB"),
    **dict.fromkeys(("JJ", "JJR", "JJS"), "ADJ"),
    **dict.fromkeys(("RB", "RBR", "RBS"), "ADV"),
    **dict.fromkeys(("DT", "PDT", "IN", "CC", "TO", "PRP", "PRP$", "WP", "WP$", "WDT", "WRB", "MD", "EX", "RP",
                     "POS"), "FUNCTION"),
}  # every other Penn tag (numbers, foreign words, interjections, symbols, punctuation) is OTHER

SPLITS = ("type", "occurrence")
"""How :func:`probe_split` separates training and test occurrences (see there)."""

ATTENTION_METHODS = ("attention_last", "attention_rollout")
"""The attention-based methods of :func:`seedexplain.attribution.word_attributions`."""

PERMUTED_ATTENTION = "seedexplain_permuted_cls"
"""Name of the attention function (in transformers' AttentionInterface) used by :func:`permuted_attention_effects`."""


# --- representations -----------------------------------------------------------------------------------------

@torch.no_grad()
def word_representations(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                         max_length: int = 128, batch_size: int = 32) -> tuple[list[np.ndarray], list[str]]:
    """Return ``(features, words)``: every layer's hidden state of every word occurrence, and the words.

    ``features`` has one float32 array per layer — the embedding output, then each encoder layer, so
    ``n_layers + 1`` arrays — of shape ``(n_word_occurrences, hidden)``; ``words`` (length ``n_word_occurrences``)
    lists the words of :func:`seedexplain.words.segment` text by text, in order. A word's vector is the mean of
    its subword tokens' vectors. Words cut by truncation at ``max_length`` tokens are left out. ``model`` is a
    BERT-type encoder or a classifier built on one (its ``base_model`` is used, frozen, in eval mode).
    """
    if max_length < 3 or batch_size < 1:
        raise ValueError(f"max_length={max_length!r} must be >= 3 and batch_size={batch_size!r} >= 1")
    encoder = model.base_model
    device, was_training = next(encoder.parameters()).device, encoder.training
    encoder.eval()
    encoding = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True)
    per_text: list[list[np.ndarray] | None] = [None] * len(texts)
    word_lists: list[list[str] | None] = [None] * len(texts)
    lengths = [len(ids) for ids in encoding["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    try:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = tokenizer.pad({"input_ids": [encoding["input_ids"][i] for i in batch]}, return_tensors="pt")
            hidden = encoder(**inputs.to(device), output_hidden_states=True).hidden_states
            hidden = [layer.float().cpu().numpy() for layer in hidden]
            for row, i in enumerate(batch):
                words = segment(texts[i])
                token_word = token_word_index(encoding["offset_mapping"][i], words)
                pooling, kept = _mean_pooling(token_word)
                per_text[i] = [pooling @ layer[row, : lengths[i]] for layer in hidden]
                word_lists[i] = [words[w].text for w in kept]
    finally:
        encoder.train(was_training)
    features = [np.concatenate([layers[k] for layers in per_text]).astype(np.float32)
                for k in range(len(per_text[0]))] if texts else []
    return features, [word for words in word_lists for word in words]


def _mean_pooling(token_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(P, kept)``: ``P`` of shape ``(n_kept, n_tokens)`` averages each kept word's tokens; ``kept`` are
    the indices of the words that have at least one token."""
    kept = np.unique(token_word[token_word >= 0])
    pooling = (token_word[None, :] == kept[:, None]).astype(np.float32)
    return pooling / pooling.sum(axis=1, keepdims=True), kept


# --- the probed property and its control task ----------------------------------------------------------------

def coarse_pos(word: str) -> str | None:
    """Return the coarse part of speech (one of :data:`COARSE_POS`) of ``word``'s most frequent Brill tag, or None
    when the (lower-cased) word is not in the lexicon."""
    tags = pos_lexicon().get(word.lower())
    if not tags:
        return None
    return _PENN_TO_COARSE.get(tags[0].split("|")[0], "OTHER")


def pos_labels(words: Sequence[str]) -> np.ndarray:
    """Return the label of every word, shape ``(n_words,)`` int64: its index in :data:`COARSE_POS`, -1 when the
    word is not in the lexicon (such occurrences are left out of the probes)."""
    index = {name: i for i, name in enumerate(COARSE_POS)}
    return np.array([index.get(coarse_pos(word), -1) for word in words], dtype=np.int64)


def control_labels(words: Sequence[str], labels: np.ndarray, *, seed: int) -> np.ndarray:
    """Return the control-task label of every word, shape ``(n_words,)`` int64 (Hewitt & Liang 2019).

    Each word type (lower-cased) gets one random label, drawn from the empirical distribution of the real labels
    over types (a type counts once, with its most frequent real label). The draw of a type depends only on
    ``seed``, the type and that distribution — not on the order of the occurrences — so the same type gets the
    same control label in every occurrence and every run. Occurrences whose real label is -1 get -1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(words):
        raise ValueError(f"labels has {len(labels)} entries but words has {len(words)}")
    types = [word.lower() for word in words]
    per_type: dict[str, np.ndarray] = {}
    for word_type, label in zip(types, labels):
        if label >= 0:
            per_type.setdefault(word_type, np.zeros(labels.max() + 1, dtype=np.int64))[label] += 1
    if not per_type:
        return np.full(len(labels), -1, dtype=np.int64)
    type_labels = np.bincount([counts.argmax() for counts in per_type.values()], minlength=labels.max() + 1)
    cumulative = np.cumsum(type_labels / type_labels.sum())
    draw = {t: int(np.searchsorted(cumulative, _type_uniform(t, seed), side="right")) for t in per_type}
    return np.array([draw[t] if label >= 0 else -1 for t, label in zip(types, labels)], dtype=np.int64)


def _type_uniform(word_type: str, seed: int) -> float:
    """Return a uniform number in [0, 1) fixed by ``seed`` and the word type."""
    return float(np.random.default_rng([seed, zlib.crc32(word_type.encode("utf-8"))]).random())


# --- probes --------------------------------------------------------------------------------------------------

def probe_split(words: Sequence[str], *, seed: int, train_fraction: float = 0.7, split_by: str = "type") -> np.ndarray:
    """Return the training mask of the occurrences, shape ``(n_words,)`` bool (the rest is the test set).

    ``split_by="type"``: word types (lower-cased) are shuffled and added to the training set until it holds
    ``train_fraction`` of the occurrences, so no test word was seen in training. ``split_by="occurrence"``: a
    random ``train_fraction`` of the occurrences, so most test occurrences belong to types also seen in training
    (like Hewitt & Liang's split by sentence).
    """
    if split_by not in SPLITS:
        raise ValueError(f"split_by={split_by!r} is not one of {', '.join(map(repr, SPLITS))}")
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction={train_fraction!r} must be strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    n = len(words)
    if split_by == "occurrence":
        train = np.zeros(n, dtype=bool)
        train[rng.permutation(n)[: int(round(train_fraction * n))]] = True
        return train
    types, inverse, counts = np.unique([w.lower() for w in words], return_inverse=True, return_counts=True)
    order = rng.permutation(len(types))
    in_train = np.zeros(len(types), dtype=bool)
    in_train[order[: np.searchsorted(np.cumsum(counts[order]), train_fraction * n) + 1]] = True
    return in_train[inverse]


def probe_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                   regularization: float = 1.0) -> float:
    """Return the test accuracy of a linear probe: multinomial logistic regression on standardised features.

    ``x_*`` have shape ``(n, hidden)``, ``y_*`` shape ``(n,)``. ``regularization`` is scikit-learn's ``C`` (the
    inverse L2 penalty), fixed so that every layer and both tasks get the same probe.
    """
    if len(np.unique(y_train)) < 2:
        return float(np.mean(y_test == y_train[0]))  # one class seen: the probe can only predict it
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=2000))
    # One BLAS thread: on problems this small, threads cost far more than they save (measured: 50x slower with
    # the default threads on 2 shared cores).
    with threadpool_limits(limits=1):
        probe.fit(x_train, y_train)
        return float(probe.score(x_test, y_test))


def probe_layers(features: Sequence[np.ndarray], labels: np.ndarray, control: np.ndarray, *, words: Sequence[str],
                 seed: int, train_fraction: float = 0.7, split_by: str = "type", n_repeats: int = 1,
                 regularization: float = 1.0) -> pd.DataFrame:
    """Return one row per layer: probe accuracy on the real and on the control task, selectivity and baselines.

    ``features`` is a list of ``(n_words, hidden)`` arrays (one per layer, from :func:`word_representations`);
    ``labels`` and ``control`` (shape ``(n_words,)``, from :func:`pos_labels` and :func:`control_labels`) are
    the real and control labels, -1 for occurrences to leave out; ``words`` are the occurrences' words (their
    lower-cased types decide the split). Both tasks use the same probe (:func:`probe_accuracy`) and the same
    split (:func:`probe_split`); the split is drawn ``n_repeats`` times (seeds ``seed, seed + 1, ...``) and the
    table holds means over the repeats. Columns: ``layer`` (0 = embeddings), ``accuracy``, ``control_accuracy``,
    ``selectivity`` (their difference), ``selectivity_sd`` (standard deviation over repeats, NaN for one),
    ``majority`` and ``control_majority`` (test accuracy of always predicting the most frequent training label),
    ``n_train``, ``n_test``.

    The split decides what the control task can measure. With ``split_by="occurrence"`` (Hewitt & Liang's
    setting) test types were mostly seen in training, so the control task is learnable exactly as far as the
    probe can memorise types from the representation, and selectivity is the part of the real accuracy that
    memorisation does not explain. With ``split_by="type"`` (the default) no test type was seen: the control task
    is unlearnable (control accuracy at or below chance by construction, a check against leakage), and the real
    accuracy itself is a claim about generalisation beyond word identity — a stricter test of the same question.
    Under the type split, which frequent types land in the test set moves the accuracy: use several repeats.
    """
    labels, control = np.asarray(labels, dtype=np.int64), np.asarray(control, dtype=np.int64)
    n = len(labels)
    if len(control) != n or len(words) != n or any(len(layer) != n for layer in features):
        raise ValueError(f"features, labels, control and words must all have one entry per occurrence; got "
                         f"labels {n}, control {len(control)}, words {len(words)}, "
                         f"features {[len(layer) for layer in features]}")
    if n_repeats < 1:
        raise ValueError(f"n_repeats={n_repeats!r} must be an integer >= 1")
    if not regularization > 0:
        raise ValueError(f"regularization={regularization!r} must be > 0")
    keep = (labels >= 0) & (control >= 0)
    if keep.sum() < 4:
        raise ValueError(f"only {int(keep.sum())} occurrences have labels; the probes need at least 4")
    kept_words = [w for w, k in zip(words, keep) if k]
    y, c, C = labels[keep], control[keep], regularization
    rows = []
    for repeat in range(n_repeats):
        train = probe_split(kept_words, seed=seed + repeat, train_fraction=train_fraction, split_by=split_by)
        if train.all() or not train.any():
            raise ValueError(f"split_by={split_by!r} left an empty training or test set: too few word types")
        for layer, x in enumerate(features):
            x = np.asarray(x)[keep]
            rows.append({"layer": layer,
                         "accuracy": probe_accuracy(x[train], y[train], x[~train], y[~train], regularization=C),
                         "control_accuracy": probe_accuracy(x[train], c[train], x[~train], c[~train], regularization=C),
                         "majority": _majority_accuracy(y[train], y[~train]),
                         "control_majority": _majority_accuracy(c[train], c[~train]),
                         "n_train": int(train.sum()), "n_test": int((~train).sum())})
    table = pd.DataFrame(rows)
    table["selectivity"] = table.accuracy - table.control_accuracy
    grouped = table.groupby("layer")
    summary = grouped.mean()
    summary["selectivity_sd"] = grouped.selectivity.std(ddof=1) if n_repeats > 1 else np.nan
    columns = ["accuracy", "control_accuracy", "selectivity", "selectivity_sd", "majority", "control_majority",
               "n_train", "n_test"]
    return summary[columns].reset_index()


def probe_study(models: dict[str, tuple[PreTrainedModel, PreTrainedTokenizerBase]], texts: Sequence[str], *,
                seed: int, n_repeats: int, max_length: int) -> tuple[list[str], np.ndarray, pd.DataFrame]:
    """Return the words of ``texts``, their part-of-speech labels (-1: not in the lexicon) and the probes of every
    layer of every model (``{name: (model, tokenizer)}``, same tokenizer) under both splits (:data:`SPLITS`):
    :func:`probe_layers` rows with the columns ``model`` and ``split`` added."""
    representations = {name: word_representations(model, tokenizer, texts, max_length=max_length)
                       for name, (model, tokenizer) in models.items()}
    words = next(iter(representations.values()))[1]
    if any(r[1] != words for r in representations.values()):
        raise ValueError("the models segment the texts into different words: they need the same tokenizer")
    labels = pos_labels(words)
    control = control_labels(words, labels, seed=seed)
    probes = pd.concat([probe_layers(representations[name][0], labels, control, words=words, seed=seed,
                                     split_by=split, n_repeats=n_repeats).assign(model=name, split=split)
                        for name in models for split in SPLITS], ignore_index=True)
    return words, labels, probes


def _majority_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    return float(np.mean(y_test == np.bincount(y_train).argmax()))


# --- attention as explanation --------------------------------------------------------------------------------

def rank_agreement(scores: Sequence[np.ndarray], reference: Sequence[np.ndarray], *,
                   absolute: bool = True) -> pd.DataFrame:
    """Return one row per text: how far two word-score arrays of the text rank the words alike.

    ``scores`` and ``reference`` hold one array of shape ``(n_words,)`` per text (words that are NaN in either are
    ignored). With ``absolute`` (the default) magnitudes ``|scores|`` and ``|reference|`` are ranked: attention
    is non-negative and says nothing about direction, so Jain & Wallace compare it with importance magnitudes.
    Columns: ``n_words``, ``spearman``, ``kendall`` (tau-b; both NaN for texts with fewer than 3 words or
    constant scores) and ``same_top`` (both put the same word first).
    """
    if len(scores) != len(reference):
        raise ValueError(f"scores has {len(scores)} texts but reference has {len(reference)}")
    rows = []
    for a, r in zip(scores, reference):
        a, r = np.asarray(a, dtype=np.float64), np.asarray(r, dtype=np.float64)
        if a.shape != r.shape:
            raise ValueError(f"a text has {a.shape} scores but {r.shape} reference scores")
        a, r = (np.abs(a), np.abs(r)) if absolute else (a, r)
        ok = ~(np.isnan(a) | np.isnan(r))
        a, r = a[ok], r[ok]
        enough = len(a) >= 3 and np.ptp(a) > 0 and np.ptp(r) > 0
        rows.append({
            "n_words": int(len(a)),
            "spearman": float(stats.spearmanr(a, r).statistic) if enough else np.nan,
            "kendall": float(stats.kendalltau(a, r).statistic) if enough else np.nan,
            "same_top": bool(len(a) and np.argmax(a) == np.argmax(r)),
        })
    return pd.DataFrame(rows, columns=["n_words", "spearman", "kendall", "same_top"])


def word_deletion_effects(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                          max_length: int = 128, batch_size: int = 64) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return ``(f, deltas)``: ``f = logit[1] − logit[0]`` of each text, shape ``(n_texts,)``, and per text the
    change ``f(text without word w) − f(text)`` of every word, shape ``(n_words,)``.

    A word is deleted from the string (its characters cut out) and the text re-tokenised, so the model sees a
    real text. Words the model does not see (cut by truncation) are NaN.
    """
    f = transformer_logit_diff(model, tokenizer, texts, max_length=max_length, batch_size=batch_size)
    encoding = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True)
    variants, owners, visible_words = [], [], []
    for i, text in enumerate(texts):
        words = segment(text)
        visible = np.unique(token_word_index(encoding["offset_mapping"][i], words))
        visible = visible[visible >= 0]
        visible_words.append((len(words), visible))
        variants += [text[: words[w].start] + text[words[w].end :] for w in visible]
        owners += [i] * len(visible)
    changed = transformer_logit_diff(model, tokenizer, variants, max_length=max_length, batch_size=batch_size)
    deltas, start = [], 0
    for i, (n_words, visible) in enumerate(visible_words):
        delta = np.full(n_words, np.nan)
        delta[visible] = changed[start : start + len(visible)] - f[i]
        deltas.append(delta)
        start += len(visible)
    return f, deltas


def _permuted_cls_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                            attention_mask: torch.Tensor | None, scaling: float | None = None,
                            dropout: float = 0.0, **kwargs: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Return eager attention ``(output (B, L, heads, d), weights (B, heads, L, L))``; in the module that carries a
    ``_seedexplain_key_order`` tensor ``(B, L)``, the [CLS] query's weights are first re-assigned to keys in that
    order (key ``j`` gets the weight of key ``order[b, j]``)."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    weights = nn.functional.softmax(scores, dim=-1)
    order = getattr(module, "_seedexplain_key_order", None)
    if order is not None:
        index = order[:, None, :].expand(-1, weights.size(1), -1)
        weights = weights.clone()
        weights[:, :, 0, :] = weights[:, :, 0, :].gather(-1, index)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


AttentionInterface.register(PERMUTED_ATTENTION, _permuted_cls_attention)
AttentionMaskInterface.register(PERMUTED_ATTENTION, eager_mask)  # custom names get no padding mask otherwise


@contextmanager
def _last_layer_key_order(model: PreTrainedModel, order: torch.Tensor) -> Iterator[None]:
    """Within the block, the last encoder layer's [CLS] attention follows ``order`` ``(B, L)``; restored on exit."""
    target = model.base_model.encoder.layer[-1].attention.self
    previous = model.config._attn_implementation
    target._seedexplain_key_order = order
    model.config._attn_implementation = PERMUTED_ATTENTION
    try:
        yield
    finally:
        model.config._attn_implementation = previous
        del target._seedexplain_key_order


@torch.no_grad()
def permuted_attention_effects(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                               n_permutations: int = 10, seed: int = 0, max_length: int = 128,
                               batch_size: int = 32) -> np.ndarray:
    """Return ``f(permuted) − f`` per text and permutation, shape ``(n_texts, n_permutations)``.

    Jain & Wallace's permutation test, inside a BERT-type classifier: in the last encoder layer, where only the
    [CLS] position's output goes on to the classifier (through the pooler), the [CLS] query's attention weights
    (every head, same permutation) are shuffled among the text's non-special tokens; [CLS] and [SEP] keep their
    weights. Everything else is unchanged.
    Permutation ``k`` of text ``i`` is drawn from ``(seed, i, k)``, so results do not depend on the batching.
    """
    if n_permutations < 1:
        raise ValueError(f"n_permutations={n_permutations!r} must be >= 1")
    device, was_training = next(model.parameters()).device, model.training
    model.eval()
    encoding = tokenizer(list(texts), truncation=True, max_length=max_length, return_special_tokens_mask=True)
    lengths = [len(ids) for ids in encoding["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    effects = np.empty((len(texts), n_permutations))
    try:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = tokenizer.pad({"input_ids": [encoding["input_ids"][i] for i in batch]}, return_tensors="pt")
            inputs = inputs.to(device)
            logits = model(**inputs).logits.double()
            f = logits[:, 1] - logits[:, 0]
            for k in range(n_permutations):
                key_order = torch.arange(inputs["input_ids"].shape[1]).repeat(len(batch), 1)
                for row, i in enumerate(batch):
                    tokens = np.flatnonzero(~np.asarray(encoding["special_tokens_mask"][i], dtype=bool))
                    key_order[row, tokens] = torch.as_tensor(np.random.default_rng([seed, i, k]).permutation(tokens))
                with _last_layer_key_order(model, key_order.to(device)):
                    logits = model(**inputs).logits.double()
                effects[batch, k] = (logits[:, 1] - logits[:, 0] - f).cpu().numpy()
    finally:
        model.train(was_training)
    return effects


def attention_agreement(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                        attentions: Sequence[str] = ATTENTION_METHODS,
                        references: Sequence[str] = ("grad_x_input", "deletion"), n_permutations: int = 10,
                        seed: int = 0, max_length: int = 128) -> pd.DataFrame:
    """Return one row per (text, attention method, reference method): Jain & Wallace's two tests on each text.

    Word scores come from :func:`seedexplain.attribution.word_attributions`; ``attentions`` are attention
    methods; ``references`` are other methods of that function, or ``"deletion"``: leave-one-word-out occlusion
    ``f(x) − f(x without w)`` computed here by re-tokenising (:func:`word_deletion_effects`, which the deletion
    columns need anyway). Columns: ``text`` (index in ``texts``), ``attention``, ``reference``, those of
    :func:`rank_agreement` (attention against ``|reference|``), ``f`` (the explained logit difference), then
    absolute changes of ``f``: ``delta_top_attention`` when deleting the word with the most attention,
    ``delta_top_reference`` when deleting the word of largest ``|reference|``, ``delta_mean_word`` the average
    over the text's words (the expected effect of deleting a word chosen at random), ``delta_max_word`` the largest
    (the most influential single word), and ``delta_permuted``, the median over ``n_permutations`` random
    permutations of the last layer's [CLS] attention (:func:`permuted_attention_effects`; the same for every
    attention method, since it intervenes on the model rather than on an explanation).
    """
    from seedexplain.attribution import word_attributions

    for name in attentions:
        if name not in ATTENTION_METHODS:
            raise ValueError(f"attentions contains {name!r}, not one of {', '.join(map(repr, ATTENTION_METHODS))}")
    f, deltas = word_deletion_effects(model, tokenizer, texts, max_length=max_length)
    scores = {"deletion": [-delta for delta in deltas]}
    for name in dict.fromkeys([*attentions, *references]):
        if name not in scores:
            explanations = word_attributions(model, tokenizer, texts, method=name, max_length=max_length)
            scores[name] = [e.scores for e in explanations]
    permuted = permuted_attention_effects(model, tokenizer, texts, n_permutations=n_permutations, seed=seed,
                                          max_length=max_length)
    frames = []
    for attention in attentions:
        for reference in references:
            table = rank_agreement(scores[attention], scores[reference])
            table.insert(0, "text", np.arange(len(texts)))
            table.insert(1, "attention", attention)
            table.insert(2, "reference", reference)
            table["f"] = f
            table["delta_top_attention"] = [abs(d[_nan_argmax(a)]) for d, a in zip(deltas, scores[attention])]
            table["delta_top_reference"] = [abs(d[_nan_argmax(np.abs(r))]) for d, r in zip(deltas, scores[reference])]
            table["delta_mean_word"] = [float(np.nanmean(np.abs(d))) for d in deltas]
            table["delta_max_word"] = [float(np.nanmax(np.abs(d))) for d in deltas]
            table["delta_permuted"] = np.median(np.abs(permuted), axis=1)
            frames.append(table)
    return pd.concat(frames, ignore_index=True)


def with_random_head(model: PreTrainedModel, *, seed: int) -> PreTrainedModel:
    """Return a copy of the classifier ``model`` whose classification head is re-drawn from ``seed``.

    The head's weights get the model's own initialisation (``model._init_weights``), the encoder is untouched:
    Adebayo et al.'s model-randomisation test applied to the layer that makes the decision.
    """
    head = getattr(model, "classifier", None)
    if head is None:
        raise TypeError(f"{type(model).__name__} has no 'classifier' head to randomise")
    copy = deepcopy(model)
    torch.manual_seed(seed)
    copy.classifier.apply(copy._init_weights)
    return copy.eval()


def head_randomization_agreement(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], *,
                                 methods: Sequence[str], seed: int = 0, max_length: int = 128) -> pd.DataFrame:
    """Return one row per (text, method): rank agreement between the explanations of ``model`` and of the same
    model with a random classification head (:func:`with_random_head`).

    An explanation of the decision should change when the decision function is randomised (Adebayo et al. 2018);
    magnitudes are compared, since a random head flips signs arbitrarily. Columns: ``text``, ``method`` and those
    of :func:`rank_agreement`.
    """
    from seedexplain.attribution import word_attributions

    randomized = with_random_head(model, seed=seed)
    frames = []
    for method in methods:
        trained, random = ([e.scores for e in word_attributions(m, tokenizer, texts, method=method,
                                                                   max_length=max_length)]
                           for m in (model, randomized))
        table = rank_agreement(trained, random)
        table.insert(0, "text", np.arange(len(texts)))
        table.insert(1, "method", method)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _nan_argmax(scores: np.ndarray) -> int:
    return int(np.nanargmax(np.asarray(scores, dtype=np.float64)))
