"""seedexplain: how explanations of fine-tuned language models change when only the training seed changes.

Nothing may download at run time: the Hugging Face libraries read their offline switches when they are first
imported, so they are set here, before any module of the library imports them (a user's own setting is kept).

OpenMP threads that finish early spin before they sleep; on a machine where another process holds a core, torch's
threads then spin through the time slices their peers need (a seed 3x slower beside one busy process, against the 2x
of a fair share). A short spin (``GOMP_SPINCOUNT``, read when torch loads its OpenMP runtime, so only when this
package is imported first) keeps idle speed and cuts that loss: ``benchmarks/load.py`` measures both. A user's own
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is kept.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

__version__ = "0.1.0"
