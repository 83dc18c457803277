"""What the documentation shows must work: the README's Python quick start (run here at a
small size) and the executed notebook (every cell ran, without an error, with its plots)."""

import json
import re

import pytest

from conftest import EXAMPLES, REPO

import psychrnn_rs
from psychrnn_rs.backend import rnn


def python_blocks():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python (`psychrnn_rs`)") : text.index("## What is there")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_python_examples_run(in_tmp, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) == 2
    train, train_manifest = rnn.RNN.train, psychrnn_rs.train_manifest
    monkeypatch.setattr(rnn.RNN, "train", lambda self, g, p={}: train(self, g, {**p, "training_iters": 1280, "verbosity": False}))
    monkeypatch.setattr(
        psychrnn_rs, "train_manifest", lambda m, **kw: train_manifest(m, **{**kw, "overrides": {**kw.get("overrides", {}), "training.training_iters": 1280}})
    )
    (in_tmp / "examples").symlink_to(REPO / "examples")
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "__main__"})
    assert (in_tmp / "weights.npz").is_file() and (in_tmp / "output.png").is_file()
    assert (in_tmp / "runs" / "pd" / "weights.npz").is_file()


def test_the_notebook_is_executed_with_its_plots():
    nb = json.loads((EXAMPLES / "hello_world.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["execution_count"] for c in code)
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 3
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "test accuracy" in text and "bias" in text


@pytest.mark.parametrize("module", ["psychrnn_rs", "psychrnn_rs.backend.models.basic", "psychrnn_rs.tasks.task"])
def test_help_shows_the_parameters(module, capsys):
    import importlib
    import pydoc

    mod = importlib.import_module(module)
    doc = pydoc.render_doc(mod, renderer=pydoc.plaintext)
    assert len(doc) > 500
    assert "train(" in pydoc.render_doc(rnn.RNN.train, renderer=pydoc.plaintext)
    assert "training_iters" in rnn.RNN.train.__doc__
    assert "n_trials" in pydoc.render_doc(psychrnn_rs._native.task_batch, renderer=pydoc.plaintext)


def test_the_type_stubs_cover_the_native_module():
    import ast
    import pathlib

    stub = pathlib.Path(psychrnn_rs.__file__).with_name("_native.pyi").read_text()
    declared = {n.name for n in ast.parse(stub).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    declared |= {t.id for n in ast.parse(stub).body if isinstance(n, ast.AnnAssign) for t in [n.target]}
    public = {name for name in dir(psychrnn_rs._native) if not name.startswith("_")}
    assert public <= declared, public - declared
    methods = {n.name for c in ast.parse(stub).body if isinstance(c, ast.ClassDef) and c.name == "NativeModel" for n in c.body if isinstance(n, ast.FunctionDef)}
    assert {m for m in dir(psychrnn_rs._native.NativeModel) if not m.startswith("_")} <= methods
