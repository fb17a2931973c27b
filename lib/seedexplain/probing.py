"""Probing classifiers, with control tasks: what a frozen model's hidden states encode, layer by layer.

**Probing** (Belinkov 2022) trains a small classifier to read a linguistic property off a frozen model's hidden
states, layer by layer, and takes its accuracy as evidence that the layer "encodes" the property. Hewitt & Liang
(2019) showed that accuracy alone says little: a probe can reach it by memorising word identities. Their *control
task* gives every word type a random label, drawn from the empirical distribution of the real labels; it can only
be learnt by memorising types, so its accuracy measures what memorisation alone buys. The *selectivity* of a probe
is its accuracy on the real task minus its accuracy on the control task. Here the property is a coarse part of
speech per word type (:data:`COARSE_POS`, from Brill's lexicon shipped in TextBlob) and the probe is a linear
logistic regression on standardised features with a fixed regularisation.

The checks of attention as an explanation are in :mod:`seedexplain.attention_checks`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from seedexplain.constraints import POSITIVE, POSITIVE_INT, PROBABILITY, Integer, OneOf, validated
from seedexplain.forward import model_device, padded_batches
from seedexplain.linear import pos_lexicon
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



# --- representations -----------------------------------------------------------------------------------------

@validated(max_length=Integer(3), batch_size=POSITIVE_INT)
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
    encoder = model.base_model
    was_training = encoder.training
    encoder.eval()
    encoding = tokenizer(list(texts), truncation=True, max_length=max_length, return_offsets_mapping=True)
    per_text: list[list[np.ndarray] | None] = [None] * len(texts)
    word_lists: list[list[str] | None] = [None] * len(texts)
    lengths = [len(ids) for ids in encoding["input_ids"]]
    batches = padded_batches(encoding["input_ids"], tokenizer.pad_token_id, batch_size, model_device(encoder))
    try:
        for batch, input_ids, attention_mask in batches:
            hidden = encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            hidden = [layer.float().cpu().numpy() for layer in hidden.hidden_states]
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

@validated(train_fraction=PROBABILITY, split_by=OneOf(SPLITS))
def probe_split(words: Sequence[str], *, seed: int, train_fraction: float = 0.7, split_by: str = "type") -> np.ndarray:
    """Return the training mask of the occurrences, shape ``(n_words,)`` bool (the rest is the test set).

    ``split_by="type"``: word types (lower-cased) are shuffled and added to the training set until it holds
    ``train_fraction`` of the occurrences, so no test word was seen in training. ``split_by="occurrence"``: a
    random ``train_fraction`` of the occurrences, so most test occurrences belong to types also seen in training
    (like Hewitt & Liang's split by sentence).
    """
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


@validated(regularization=POSITIVE)
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


@validated(train_fraction=PROBABILITY, split_by=OneOf(SPLITS), n_repeats=POSITIVE_INT, regularization=POSITIVE)
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
