"""psychrnn's own workflow from Python, checked against the CLI: the same run directories byte
for byte, the same weights from PsychRNN's API and from the equivalent manifest, the same
error messages; Run objects, simulations, analyses and sweeps."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import psychrnn_rs
from psychrnn_rs.backend.models.basic import Basic
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination

SMALL = """
name = "small"
seed = 7
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 500
N_batch = 16
[model]
type = "basic_rnn"
N_rec = 12
dale_ratio = 0.8
[training]
training_iters = 640
test_batch_size = 32
verbosity = false
"""


def cli(*args, check=True):
    """The psychrnn command line in a child process (``python -m psychrnn_rs``)."""
    out = subprocess.run([sys.executable, "-m", "psychrnn_rs", *map(str, args)], capture_output=True, text=True)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def files(directory):
    return sorted(str(p.relative_to(directory)) for p in pathlib.Path(directory).rglob("*") if p.is_file() and p.name != ".psychrnn.lock")


def same_run_but_the_clock(a, b):
    """Two run directories hold the same files with the same bytes, but for the wall-clock
    fields (metrics.csv's wall_seconds, summary.json's init_seconds and training_seconds)."""
    assert files(a) == files(b)
    for name in files(a):
        x, y = (pathlib.Path(a) / name).read_bytes(), (pathlib.Path(b) / name).read_bytes()
        if name == "metrics.csv":
            strip = lambda t: [line.rsplit(",", 1)[0] for line in t.decode().splitlines()]  # noqa: E731
            assert strip(x) == strip(y), name
        elif name == "summary.json":
            fields = lambda t: {k: v for k, v in json.loads(t).items() if not k.endswith("_seconds")}  # noqa: E731
            assert fields(x) == fields(y), name
        else:
            assert x == y, name


def test_train_manifest_writes_the_clis_run_directory(in_tmp):
    (in_tmp / "small.toml").write_text(SMALL)
    cli("train", "small.toml", "--out", "cli", "--quiet")
    run = psychrnn_rs.train_manifest("small.toml", out="py", quiet=True)
    assert run.path == "py"
    same_run_but_the_clock("cli", "py")
    # As TOML text and as a dict (named by the manifest): the same weights.
    text_run = psychrnn_rs.train_manifest(SMALL, out="text", quiet=True)
    import tomllib

    dict_run = psychrnn_rs.train_manifest(tomllib.loads(SMALL), out="dict", quiet=True)
    for other in (text_run, dict_run):
        assert (pathlib.Path(other.path) / "weights.npz").read_bytes() == (in_tmp / "cli" / "weights.npz").read_bytes()
    # Overrides as --set does.
    cli("train", "small.toml", "--out", "cli64", "--set", "model.N_rec=16", "--quiet")
    py64 = psychrnn_rs.train_manifest("small.toml", out="py64", overrides={"model.N_rec": 16}, quiet=True)
    same_run_but_the_clock("cli64", py64.path)
    # An occupied directory is refused, as by the CLI, unless forced.
    with pytest.raises(psychrnn_rs.PsychrnnError, match="already exists"):
        psychrnn_rs.train_manifest("small.toml", out="py", quiet=True)
    psychrnn_rs.train_manifest("small.toml", out="py", force=True, quiet=True)


def test_psychrnn_api_with_a_seed_gives_the_clis_weights(in_tmp):
    """PsychRNN's Basic + train on a bundled task with params['seed'] is the manifest below."""
    (in_tmp / "equivalent.toml").write_text(
        """
name = "equivalent"
seed = 42
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 500
N_batch = 16
coherence = 0.5
[model]
type = "basic_rnn"
N_rec = 20
dale_ratio = 0.8
autapses = false
rec_noise = 0.05
[[regularizers]]
type = "l2_weights"
W_rec = 0.001
[optimizer]
type = "adam"
learning_rate = 0.003
[training]
training_iters = 800
loss_epoch = 5
verbosity = false
"""
    )
    cli("train", "equivalent.toml", "--out", "cli", "--quiet")
    pd = PerceptualDiscrimination(dt=10, tau=100, T=500, N_batch=16, coherence=0.5)
    params = pd.get_task_params()
    params.update(name="equivalent", N_rec=20, dale_ratio=0.8, autapses=False, rec_noise=0.05, L2_rec=0.001, seed=42)
    model = Basic(params)
    losses, _, _ = model.train(pd, {"training_iters": 800, "loss_epoch": 5, "learning_rate": 0.003, "verbosity": False})
    model.save("py_weights")
    assert (in_tmp / "py_weights.npz").read_bytes() == (in_tmp / "cli" / "weights.npz").read_bytes()
    metrics = psychrnn_rs.load_run("cli").metrics
    assert np.allclose(losses, metrics["loss"] + metrics["regularization"], rtol=0, atol=0)
    # The weight files round-trip: the CLI's file builds the same network in Python, and the
    # Python file simulates in the CLI.
    loaded = Basic(dict(params, load_weights_path="cli/weights.npz"))
    x = pd.get_trial_batch()[0]
    assert np.array_equal(loaded.test(x)[0], model.test(x)[0])
    cli("simulate", "py_weights.npz", "--task", "equivalent.toml", "--trials", 8, "--out", "sim.npz")
    assert np.load("sim.npz")["outputs"].shape == (8, 50, 2)


def test_errors_are_the_clis_messages(in_tmp):
    (in_tmp / "bad.toml").write_text(SMALL.replace("N_rec = 12", "N_rec = 0"))
    stderr = cli("train", "bad.toml", "--out", "x", check=False).stderr
    with pytest.raises(psychrnn_rs.PsychrnnError) as e:
        psychrnn_rs.train_manifest("bad.toml", out="y")
    assert stderr.strip() == "error: " + str(e.value)
    assert "N_rec" in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(psychrnn_rs.PsychrnnError, match="nonexistent.toml"):
        psychrnn_rs.train_manifest("nonexistent.toml")
    with pytest.raises(psychrnn_rs.PsychrnnError, match="not a run directory"):
        psychrnn_rs.load_run(in_tmp)
    with pytest.raises(psychrnn_rs.PsychrnnError, match="unrecognized subcommand"):
        psychrnn_rs.command("trian")
    assert "Usage" in psychrnn_rs.command("train", "--help")
    assert cli("list", "nothing", check=False).returncode == 1


def test_a_run_reads_as_numpy_and_simulates_and_analyses(in_tmp):
    (in_tmp / "small.toml").write_text(SMALL.replace("training_iters = 640", "training_iters = 3200"))
    run = psychrnn_rs.train_manifest("small.toml", out="run", quiet=True)
    assert run.summary["iterations"] == 200 and run.lock["model"]["N_rec"] == 12
    assert run.weights["W_rec"].shape == (12, 12)
    assert run.metrics["iteration"][-1] == 200 and "accuracy" in run.metrics
    trials = run.test_trials
    assert trials["x"].shape == (32, 50, 2) and trials["states"].shape[0] == 32
    assert len(run.trial_params) == 32 and set(run.conditions()) >= {"coherence", "direction"}
    # PsychRNN's MSE in NumPy on the saved test trials is the loss psychrnn reports for them.
    from psychrnn_rs.backend.loss_functions import mean_squared_error

    mse = mean_squared_error(trials["outputs"].astype(np.float64), trials["y"], trials["mask"])
    assert mse == pytest.approx(run.summary["final_loss"], rel=1e-5)
    sim = run.simulate(trials=10, lesions=["0-5@0"])
    assert sim["outputs"].shape == (10, 50, 2)
    # Lesioned units are silent from step 0.
    assert np.all(sim["states"][:, :, :6] == 0) or "rates" in sim
    analysis = run.analyze("psychometric", trials=20, bootstrap=20)
    assert any(name.startswith("psychometric") for name in analysis), sorted(analysis)


def test_a_sweep_runs_from_python(in_tmp):
    (in_tmp / "small.toml").write_text(SMALL)
    (in_tmp / "sweep.toml").write_text('manifest = "small.toml"\nseeds = [1, 2]\n')
    psychrnn_rs.sweep("run", "sweep.toml", "--out", "sw", "--jobs", "2", "-q")
    tables = psychrnn_rs.sweep("collect", "sw")
    assert len(tables["sweep.csv"]["seed"]) == 2
    runs = sorted(p for p in (in_tmp / "sw" / "runs").iterdir())
    assert len(runs) == 2 and all((r / "weights.npz").is_file() for r in runs)


def test_what_rust_prints_reaches_pythons_streams(in_tmp, monkeypatch):
    """In Jupyter, sys.stdout and sys.stderr are not the process's descriptors: what the Rust side
    writes (the CLI's output, progress lines) is copied into them."""
    import io

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    psychrnn_rs.command("describe", "basic_rnn")
    (in_tmp / "small.toml").write_text(SMALL.replace("verbosity = false", "verbosity = true"))
    psychrnn_rs.train_manifest("small.toml", out="run")
    monkeypatch.undo()
    assert "[model]" in out.getvalue() and 'type = "basic_rnn"' in out.getvalue()
    assert "Iter 160, Minibatch Loss=" in err.getvalue() and "run directory run" in err.getvalue()
