"""Proven offline: a real piece of the pipeline runs in a network namespace that has only a loopback interface.

The child process loads MiniLM, the quick-profile data and tokenises (and classifies) a text with ``HF_HUB_OFFLINE``
and ``TRANSFORMERS_OFFLINE`` unset and an empty Hugging Face cache, so it is the library itself that never reaches
the network, not an environment variable that forbids it. An audit hook in the child also records every DNS lookup
or connection that Python code attempts, so a library that tries and then silently falls back is caught too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
IN_EMPTY_NETWORK = ["unshare", "-n", "bash", "-c", 'ip link set lo up && exec "$@"', "_"]

CHILD = textwrap.dedent("""
    import json, socket, sys

    attempts = []
    LOCAL = {None, "localhost", "127.0.0.1", "::1", b"localhost", b"127.0.0.1"}

    def audit(event, args):
        if event == "socket.getaddrinfo" and args[0] not in LOCAL:
            attempts.append(f"DNS lookup of {args[0]!r}")
        elif event == "socket.connect":
            sock, address = args
            if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOCAL:
                attempts.append(f"connection to {address!r}")

    sys.addaudithook(audit)

    from seedexplain.config import make_config
    from seedexplain.data import load_dataset
    from seedexplain.models import load_transformer

    data = load_dataset(make_config("quick"))
    model, tokenizer = load_transformer("minilm", seed=0)
    text = data.test_short.texts[0]
    encoded = tokenizer(text, return_tensors="pt")
    logits = model(**encoded).logits
    print(json.dumps({"n_train": len(data.train), "n_tokens": int(encoded["input_ids"].shape[1]),
                      "logits_shape": list(logits.shape), "text": text, "network_attempts": attempts}))
""")


def _no_network_namespace_reason() -> str | None:
    """Why a network namespace cannot be made here, or None when it can."""
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    probe = subprocess.run([*IN_EMPTY_NETWORK, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`unshare -n` is not permitted here: {probe.stderr.strip()}"
    return None


def test_minilm_data_and_tokenizer_need_no_network(tmp_path):
    reason = _no_network_namespace_reason()
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_VARIABLES}
    env["HF_HOME"] = str(tmp_path / "empty-hf-home")  # nothing can come from a Hugging Face cache either
    result = subprocess.run([*IN_EMPTY_NETWORK, sys.executable, "-c", CHILD], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"offline pipeline piece failed:\n{result.stderr[-4000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["network_attempts"] == [], f"the library tried to reach the network: {report['network_attempts']}"
    assert report["n_train"] > 0 and report["n_tokens"] > 2 and report["logits_shape"] == [1, 2], report
