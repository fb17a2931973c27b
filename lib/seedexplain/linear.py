"""Linear models over word features, trained with seeded SGD, and their exact word-level explanations.

A text's feature vector is a sum over its words, ``x(text) = sum_w phi(w) / d(text)``, where ``phi(w)`` is the
(sparse) feature vector that word ``w`` triggers and ``d`` is 1 for the bag of words and the number of words for the
linguistic features (rates). The model's logit difference is ``z = b + coef . x``, so the contribution of word ``w``
is exactly ``coef . phi(w) / d`` and the contributions sum to ``z - b`` (no approximation).

Families:

* ``bow``: lower-cased word types seen at least twice in training (counts).
* ``features``: interpretable linguistic features (see :data:`FEATURES`); a word that triggers several features
  gets the sum of their contributions. Features are standardised on the training set; the standardisation is folded
  into ``coef`` and ``b`` so the decomposition stays exact.
"""

from __future__ import annotations

import importlib.util
import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

from seedexplain.words import segment

MIN_COUNT = 2
INIT_SCALE = 0.01  # sd of the seeded initial weights

_PRONOUNS = {
    "first_person": {"i", "me", "my", "mine", "myself", "we", "us", "our", "ours", "ourselves", "i'm", "i've",
                     "i'd", "i'll", "we're", "we've"},
    "second_person": {"you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'll"},
    "third_person": {"he", "she", "him", "her", "his", "hers", "they", "them", "their", "theirs", "himself",
                     "herself", "themselves", "he's", "she's", "they're"},
}
_MODALS = {"can", "could", "may", "might", "must", "shall", "should", "will", "would", "can't", "couldn't",
           "won't", "wouldn't", "shouldn't"}
_NEGATIONS = {"not", "no", "never", "nothing", "none", "nor", "nobody", "nowhere", "neither", "without"}
_QUOTES = {'"', "“", "”", "'", "‘", "’"}

FEATURES = (
    "first_person", "second_person", "third_person", "modal", "negation", "adjective", "adverb", "comparative",
    "superlative", "subjective_strong", "subjective_weak", "positive", "negative", "intensifier", "exclamation",
    "question", "quote", "number", "capitalised", "past_tense", "present_third_person",
)
"""Linguistic features of the ``features`` model, each triggered by single words (lexicons from TextBlob)."""


@dataclass(frozen=True)
class LinearTextModel:
    """A trained linear model: ``kind`` ('bow' or 'features'), effective ``coef`` (n_features,) and ``intercept``.

    ``vocabulary`` maps a lower-cased word type to its column (bag of words only).
    """

    kind: str
    coef: np.ndarray
    intercept: float
    vocabulary: dict[str, int]

    def feature_names(self) -> list[str]:
        """Return the name of every feature column."""
        if self.kind == "features":
            return list(FEATURES)
        return sorted(self.vocabulary, key=self.vocabulary.__getitem__)

    def decision(self, texts: Sequence[str]) -> np.ndarray:
        """Return the logit difference ``z`` (class 1 minus class 0) of each text, shape (n_texts,)."""
        return feature_matrix(texts, self.kind, self.vocabulary) @ self.coef + self.intercept

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Return the predicted class (0 or 1) of each text, shape (n_texts,)."""
        return (self.decision(texts) > 0).astype(np.int64)

    def word_contributions(self, text: str) -> np.ndarray:
        """Return each word's exact share of ``z - intercept`` for ``text``, shape (n_words,)."""
        phi, scale = word_features(text, self.kind, self.vocabulary)
        return np.asarray(phi @ self.coef).ravel() / scale


def train_linear(texts: Sequence[str], labels: np.ndarray, *, kind: str, seed: int, epochs: int,
                 alpha: float) -> LinearTextModel:
    """Return a logistic regression trained by SGD whose initial weights and data order are drawn from ``seed``."""
    if kind not in ("bow", "features"):
        raise ValueError(f"linear={kind!r} is not one of 'bow', 'features'")
    vocabulary = build_vocabulary(texts) if kind == "bow" else {}
    x = feature_matrix(texts, kind, vocabulary)
    mean, sd = np.zeros(x.shape[1]), np.ones(x.shape[1])
    if kind == "features":
        dense = x.toarray()
        mean, sd = dense.mean(0), dense.std(0)
        sd[sd == 0] = 1.0
        x = sparse.csr_matrix((dense - mean) / sd)
    rng = np.random.default_rng(seed)
    clf = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A fixed number of epochs is the point (as for the transformer); not converging is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, labels, coef_init=rng.normal(0.0, INIT_SCALE, size=(1, x.shape[1])), intercept_init=[0.0])
    coef = clf.coef_.ravel() / sd
    intercept = float(clf.intercept_[0] - coef @ mean)
    return LinearTextModel(kind, coef, intercept, vocabulary)


def build_vocabulary(texts: Sequence[str]) -> dict[str, int]:
    """Return the lower-cased word types seen at least ``MIN_COUNT`` times, mapped to column indices."""
    counts = Counter(w.text.lower() for text in texts for w in segment(text))
    return {word: i for i, word in enumerate(sorted(w for w, c in counts.items() if c >= MIN_COUNT))}


def feature_matrix(texts: Sequence[str], kind: str, vocabulary: dict[str, int]) -> sparse.csr_matrix:
    """Return the feature vectors ``x(text)`` of ``texts``, shape (n_texts, n_features)."""
    rows = []
    for text in texts:
        phi, scale = word_features(text, kind, vocabulary)
        rows.append(sparse.csr_matrix(phi.sum(axis=0) / scale))
    return sparse.vstack(rows, format="csr")


def word_features(text: str, kind: str, vocabulary: dict[str, int]) -> tuple[sparse.csr_matrix, float]:
    """Return ``(phi, d)``: the features each word triggers, shape (n_words, n_features), and the divisor ``d``."""
    words = [w.text for w in segment(text)]
    if kind == "bow":
        cols = [vocabulary.get(w.lower(), -1) for w in words]
        rows = [i for i, c in enumerate(cols) if c >= 0]
        data = np.ones(len(rows))
        phi = sparse.csr_matrix((data, (rows, [cols[i] for i in rows])), shape=(len(words), len(vocabulary)))
        return phi, 1.0
    phi = sparse.csr_matrix(np.array([linguistic_features(w, i) for i, w in enumerate(words)], dtype=float)
                            .reshape(len(words), len(FEATURES)))
    return phi, float(len(words))


def linguistic_features(word: str, position: int) -> list[float]:
    """Return the indicator of every feature in :data:`FEATURES` for ``word`` at ``position`` in its text."""
    low = word.lower()
    tags = _pos_lexicon().get(low, ())
    sentiment = _sentiment_lexicon().get(low)
    flags = {
        "first_person": low in _PRONOUNS["first_person"],
        "second_person": low in _PRONOUNS["second_person"],
        "third_person": low in _PRONOUNS["third_person"],
        "modal": low in _MODALS,
        "negation": low in _NEGATIONS or low.endswith("n't"),
        "adjective": bool(tags) and tags[0].startswith("JJ"),
        "adverb": bool(tags) and tags[0].startswith("RB"),
        "comparative": "JJR" in tags or "RBR" in tags,
        "superlative": "JJS" in tags or "RBS" in tags,
        "subjective_strong": sentiment is not None and sentiment[1] >= 0.5,
        "subjective_weak": sentiment is not None and 0.0 < sentiment[1] < 0.5,
        "positive": sentiment is not None and sentiment[0] > 0.1,
        "negative": sentiment is not None and sentiment[0] < -0.1,
        "intensifier": sentiment is not None and sentiment[2] > 1.0,
        "exclamation": word == "!",
        "question": word == "?",
        "quote": word in _QUOTES,
        "number": bool(re.fullmatch(r"[\d.,]+", word)),
        "capitalised": position > 0 and word[:1].isupper(),
        "past_tense": bool(tags) and tags[0] == "VBD",
        "present_third_person": bool(tags) and tags[0] == "VBZ",
    }
    return [float(flags[name]) for name in FEATURES]


def _textblob_file(name: str) -> Path:
    spec = importlib.util.find_spec("textblob")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("the linguistic lexicons come from the package 'textblob'; install it with "
                                  "`pip install --no-deps -r requirements-data.txt`")
    return Path(spec.origin).parent / "en" / name


@lru_cache(maxsize=1)
def _pos_lexicon() -> dict[str, tuple[str, ...]]:
    """Return Brill's lexicon: word → its part-of-speech tags, most frequent first."""
    lexicon = {}
    for line in _textblob_file("en-lexicon.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(";;;"):
            word, *tags = line.split()
            lexicon[word.lower()] = tuple(tags)
    return lexicon


@lru_cache(maxsize=1)
def _sentiment_lexicon() -> dict[str, tuple[float, float, float]]:
    """Return word → (polarity, subjectivity, intensity) averaged over senses (TextBlob's adjective lexicon)."""
    senses: dict[str, list[tuple[float, float, float]]] = {}
    for node in ET.parse(_textblob_file("en-sentiment.xml")).getroot().iter("word"):
        values = (float(node.get("polarity", 0)), float(node.get("subjectivity", 0)), float(node.get("intensity", 1)))
        senses.setdefault(node.get("form", "").lower(), []).append(values)
    return {word: tuple(np.mean(v, axis=0).tolist()) for word, v in senses.items()}
