"""Shared set-up of the Python tests: paths of the repository, plots off-screen."""

import os
import pathlib

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Runs the test in its own empty directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
