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
import json
import re
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import optimize, sparse, special
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

from seedexplain.constraints import LINEAR_MODELS, LINEAR_SOLVERS, POSITIVE, POSITIVE_INT, OneOf, validated
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

    ``vocabulary`` maps a lower-cased word type to its column (bag of words only). ``diagnostics`` records how it
    was trained: ``solver``, ``iterations`` (L-BFGS iterations or SGD epochs), ``gradient_norm`` (the largest
    absolute component of the objective's gradient at the returned weights) and ``converged``.
    """

    kind: str
    coef: np.ndarray
    intercept: float
    vocabulary: dict[str, int]
    diagnostics: dict = field(default_factory=dict)

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

    def save(self, folder: Path) -> None:
        """Write the model into ``folder`` as ``coef.npy`` and ``linear.json`` (no pickle)."""
        np.save(folder / "coef.npy", np.asarray(self.coef, dtype=np.float64))
        (folder / "linear.json").write_text(json.dumps({
            "kind": self.kind, "intercept": self.intercept, "vocabulary": self.vocabulary,
            "diagnostics": self.diagnostics}, sort_keys=True))

    @classmethod
    def load(cls, folder: Path) -> LinearTextModel:
        """Return the model that :meth:`save` wrote into ``folder``."""
        meta = json.loads((folder / "linear.json").read_text())
        return cls(meta["kind"], np.load(folder / "coef.npy", allow_pickle=False), float(meta["intercept"]),
                   meta["vocabulary"], meta["diagnostics"])


@validated(kind=OneOf(LINEAR_MODELS), solver=OneOf(LINEAR_SOLVERS), epochs=POSITIVE_INT, alpha=POSITIVE, tol=POSITIVE)
def train_linear(texts: Sequence[str], labels: np.ndarray, *, kind: str, seed: int, solver: str = "lbfgs",
                 epochs: int = 10, alpha: float = 1e-4, tol: float = 1e-8) -> LinearTextModel:
    """Return a logistic regression on the features of ``kind`` whose starting weights are drawn from ``seed``.

    Both solvers minimise the same L2-regularised log-loss, SGDClassifier's objective::

        L(w, b) = (1/n) sum_i log(1 + exp(-y_i (w . x_i + b))) + (alpha / 2) ||w||^2,   y_i in {-1, +1}

    ``solver="lbfgs"`` runs L-BFGS from the seeded start until the largest gradient component is below ``tol``
    (deterministic; the loss is strictly convex, so every seed reaches the same optimum up to ``tol``).
    ``solver="sgd"`` runs ``epochs`` epochs of seeded stochastic gradient descent (the seed also draws the data
    order), stopping wherever the budget leaves it. ``epochs`` is ignored by L-BFGS and ``tol`` by SGD.
    """
    vocabulary = build_vocabulary(texts) if kind == "bow" else {}
    x = feature_matrix(texts, kind, vocabulary)
    mean, sd = np.zeros(x.shape[1]), np.ones(x.shape[1])
    if kind == "features":
        dense = x.toarray()
        mean, sd = dense.mean(0), dense.std(0)
        sd[sd == 0] = 1.0
        x = sparse.csr_matrix((dense - mean) / sd)
    labels = np.asarray(labels)
    start = np.random.default_rng(seed).normal(0.0, INIT_SCALE, size=x.shape[1])
    if solver == "sgd":
        clf = SGDClassifier(loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            # A fixed number of epochs is the point of this solver; not converging is expected.
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(x, labels, coef_init=start[None, :], intercept_init=[0.0])
        w, b = clf.coef_.ravel(), float(clf.intercept_[0])
        iterations = epochs
    else:
        result = optimize.minimize(_objective, np.append(start, 0.0), args=(x, 2.0 * labels - 1.0, alpha),
                                   jac=True, method="L-BFGS-B",
                                   options={"gtol": tol, "ftol": 0.0, "maxiter": 100_000, "maxcor": 20})
        w, b, iterations = result.x[:-1], float(result.x[-1]), int(result.nit)
    gradient = np.abs(_objective(np.append(w, b), x, 2.0 * labels - 1.0, alpha)[1]).max()
    diagnostics = {"solver": solver, "iterations": iterations, "gradient_norm": float(gradient),
                   "converged": bool(gradient <= tol)}
    coef = w / sd
    return LinearTextModel(kind, coef, float(b - coef @ mean), vocabulary, diagnostics)


def _objective(theta: np.ndarray, x: sparse.csr_matrix, y: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Return SGDClassifier's regularised log-loss at ``theta = (w, b)`` and its gradient (``y`` in {-1, +1})."""
    w, b = theta[:-1], theta[-1]
    margin = y * (x @ w + b)
    loss = np.logaddexp(0.0, -margin).mean() + 0.5 * alpha * w @ w
    weight = -y * special.expit(-margin) / len(y)
    return float(loss), np.append(x.T @ weight + alpha * w, weight.sum())


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
    tags = pos_lexicon().get(low, ())
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
def pos_lexicon() -> dict[str, tuple[str, ...]]:
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
