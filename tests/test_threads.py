"""The OpenMP spin that keeps runs fast beside another process is set when the package is imported, before torch
loads its OpenMP runtime, and a user's own wait settings are kept."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHILD = "import os, seedexplain, torch; print(os.environ.get('GOMP_SPINCOUNT'))"


def spin_count_after_import(**env: str) -> str:
    """Return GOMP_SPINCOUNT as a fresh process sees it after importing seedexplain (then torch)."""
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    return subprocess.run([sys.executable, "-c", CHILD], env={**base, **env}, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.parametrize(("env", "expected"), [({}, "10000"), ({"GOMP_SPINCOUNT": "5"}, "5"),
                                               ({"OMP_WAIT_POLICY": "PASSIVE"}, "None")])
def test_importing_the_package_sets_a_short_spin_unless_the_user_chose_a_wait_policy(env, expected):
    assert spin_count_after_import(**env) == expected
