"""seedexplain: how explanations of fine-tuned language models change when only the training seed changes.

Nothing may download at run time: the Hugging Face libraries read their offline switches when they are first
imported, so they are set here, before any module of the library imports them (a user's own setting is kept).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__version__ = "0.1.0"
