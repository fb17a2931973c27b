"""The conda environment, the pip requirements and the Makefile describe the same installation."""

import re

from tests.conftest import ROOT


def test_environment_yml_installs_requirements_txt():
    environment = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", environment, re.M)
    assert re.search(r"^\s*- -r requirements\.txt\s*$", environment, re.M)
    assert "requirements-data.txt" in environment  # the extra --no-deps step is documented there


def test_requirements_are_pinned_and_end_with_the_library():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[-1] == "-e ."
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[^=\s]+", line) for line in lines[:-1]), lines
    assert "torch==2.13.0" in lines
    data = [line for line in (ROOT / "requirements-data.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert all("==" in line for line in data)


def test_makefile_installs_both_files():
    makefile = (ROOT / "Makefile").read_text()
    assert "-r requirements.txt" in makefile and "--no-deps -r requirements-data.txt" in makefile
