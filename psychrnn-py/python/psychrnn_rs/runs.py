"""psychrnn's own workflow from Python: manifests trained into run directories (exactly as
``psychrnn train``), run directories loaded as NumPy arrays, simulations, analyses and sweeps
(the CLI's commands, in this process, raising :class:`PsychrnnError` with the CLI's message)."""

import csv
import json
import os
import tomllib

import numpy as np

from . import _native
from ._output import forwarded

__all__ = ["Run", "load_run", "train_manifest", "command", "sweep"]


def command(*args):
    """Runs a ``psychrnn`` command line in this process, e.g. ``command("analyze", "runs/x",
    "psychometric")``; returns the text of ``--help``/``--version``, else None. Raises
    :class:`PsychrnnError` with the CLI's message on failure, ``KeyboardInterrupt`` on Ctrl-C
    (a training run stops with a checkpoint)."""
    with forwarded():
        return _native.command([os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args])


def _overrides(overrides):
    if isinstance(overrides, dict):
        return [f"{k}={_toml_value(v)}" for k, v in overrides.items()]
    return [str(o) for o in overrides]


def _toml_value(v):
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v.tolist() if hasattr(v, "tolist") else v)


def train_manifest(manifest, out=None, overrides=(), force=False, quiet=False):
    """Trains a manifest into a run directory, byte for byte as ``psychrnn train`` does, and
    returns its :class:`Run`.

    Args:
        manifest: A manifest file (path), TOML text, or a dict of sections (text and dicts are
            resolved as a file ``run.toml`` in the current directory would be: relative paths
            start there, and an unnamed run is called ``run``).
        out: The run directory (default ``runs/<name>``).
        overrides: ``--set`` overrides, as ``["model.N_rec=64"]`` or ``{"model.N_rec": 64}``.
        force: Replace an existing run directory (else an occupied one is refused).
        quiet: Print nothing (otherwise the progress lines reach ``sys.stderr``, in Jupyter
            too).
    """
    with forwarded():
        return Run(_train(manifest, out, _overrides(overrides), force, quiet))


def _train(manifest, out, sets, force, quiet):
    out = None if out is None else os.fspath(out)
    if isinstance(manifest, dict):
        path = _native.train_manifest(text=_native.toml_text(manifest), out=out, overrides=sets, force=force, quiet=quiet)
    elif isinstance(manifest, os.PathLike) or (isinstance(manifest, str) and "\n" not in manifest and not manifest.lstrip().startswith("[")):
        path = _native.train_manifest(path=os.fspath(manifest), out=out, overrides=sets, force=force, quiet=quiet)
    elif isinstance(manifest, str):
        path = _native.train_manifest(text=manifest, out=out, overrides=sets, force=force, quiet=quiet)
    else:
        raise TypeError(f"manifest: expected a path, TOML text or a dict, got {type(manifest).__name__}")
    return path


def _read_csv(path):
    """A CSV table as a dict of columns (numeric columns as float arrays)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        return {name: np.array([]) for name in header}
    out = {}
    for name in rows[0]:
        values = [r[name] for r in rows]
        try:
            out[name] = np.array([float(v) for v in values])
        except ValueError:
            out[name] = np.array(values)
    return out


def _read_npz(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _read_outputs(directory):
    """Every table and array file in ``directory`` (``.json``, ``.csv``, ``.npz``), by file name."""
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        ext = os.path.splitext(name)[1]
        if ext == ".json":
            with open(path) as f:
                out[name] = json.load(f)
        elif ext == ".csv":
            out[name] = _read_csv(path)
        elif ext == ".npz":
            out[name] = _read_npz(path)
    return out


class Run:
    """A run directory, read with NumPy (files are read when first asked for).

    Attributes:
        path: The directory.
        summary: ``summary.json`` (iterations, final accuracy and loss, timings, stop reason).
        lock: ``manifest.lock.toml`` as a dict (the resolved manifest that replays the run).
        weights: ``weights.npz`` (effective weights, masks, settings).
        metrics: ``metrics.csv`` as columns (iteration, trials, loss, regularization, the metric, ...).
        checks: ``curriculum.csv`` or ``validation.csv`` as columns (None without checks).
        test_trials: ``test_trials.npz`` (``x``, ``y``, ``mask``, ``outputs``, ``states``, ``[batch, time, ·]``).
        trial_params: ``test_trials.json``, one dict of conditions per test trial.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if not os.path.isfile(os.path.join(self.path, "manifest.lock.toml")):
            raise _native.PsychrnnError(f"{self.path}: not a run directory (it has no manifest.lock.toml)")

    def __repr__(self):
        return f"Run({self.path!r})"

    def _file(self, name):
        path = os.path.join(self.path, name)
        if not os.path.isfile(path):
            raise _native.PsychrnnError(f"{path}: missing (is the run finished? `psychrnn resume` continues one)")
        return path

    @property
    def summary(self):
        with open(self._file("summary.json")) as f:
            return json.load(f)

    @property
    def lock(self):
        with open(self._file("manifest.lock.toml"), "rb") as f:
            return tomllib.load(f)

    @property
    def weights(self):
        return _read_npz(self._file("weights.npz"))

    @property
    def metrics(self):
        return _read_csv(self._file("metrics.csv"))

    @property
    def checks(self):
        for name in ("curriculum.csv", "validation.csv"):
            if os.path.isfile(os.path.join(self.path, name)):
                return _read_csv(os.path.join(self.path, name))
        return None

    @property
    def test_trials(self):
        return _read_npz(self._file("test_trials.npz"))

    @property
    def trial_params(self):
        with open(self._file("test_trials.json")) as f:
            return json.load(f)

    def conditions(self):
        """The test trials' numeric conditions as arrays, one per key (e.g. ``coherence``)."""
        params = self.trial_params
        keys = sorted({k for p in params for k, v in p.items() if isinstance(v, (int, float))})
        return {k: np.array([p.get(k, np.nan) for p in params], dtype=float) for k in keys}

    def simulate(self, trials=64, noise=False, seed=0, lesions=(), pulses=(), task=None, inputs=None, out=None, rec_multiplier=None):
        """``psychrnn simulate`` on this run: ``trials`` of its task (or ``inputs``, an
        ``.npz``/``.npy`` path), ``lesions`` as ``"UNITS@MS"`` strings (``"0-9@500"``),
        ``pulses`` as ``"UNITS@START-END:AMPLITUDE"``. Returns the simulation's arrays."""
        out = os.fspath(out) if out is not None else os.path.join(self.path, "simulation.npz")
        args = ["simulate", self.path, "--trials", trials, "--seed", seed, "--out", out]
        if noise:
            args.append("--noise")
        if task is not None:
            args += ["--task", task]
        if inputs is not None:
            args += ["--inputs", inputs]
        if rec_multiplier is not None:
            args += ["--rec-multiplier", rec_multiplier]
        for lesion in lesions:
            args += ["--lesion", lesion]
        for pulse in pulses:
            args += ["--pulse", pulse]
        command(*args)
        return _read_npz(out)

    def analyze(self, *analyses, out=None, force=True, quiet=True, **options):
        """``psychrnn analyze`` on this run (e.g. ``run.analyze("psychometric", trials=100)``;
        options are the CLI's flags with underscores). Returns every table and array it wrote,
        by file name (``"psychometric.json"``: the fitted curves, ...)."""
        out = os.fspath(out) if out is not None else os.path.join(self.path, "analysis")
        args = ["analyze", self.path, *analyses, "--out", out]
        if force:
            args.append("--force")
        if quiet:
            args.append("--quiet")
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                args.append(flag)
            elif value is not False and value is not None:
                for v in value if isinstance(value, (list, tuple)) else [value]:
                    args += [flag, v]
        command(*args)
        return _read_outputs(out)


def load_run(path):
    """The run directory at ``path``."""
    return Run(path)


def sweep(action, sweep_file_or_dir, *args):
    """``psychrnn sweep <action> ...``: ``plan``, ``run``, ``status``, ``collect``, ``cancel``
    (e.g. ``sweep("run", "examples/sweeps/seeds.toml", "--out", "runs/seeds")``). After
    ``collect``, returns the sweep's tables by file name (``"sweep.csv"``, ``"sweep_summary.csv"``, ...)."""
    command("sweep", action, sweep_file_or_dir, *args)
    if action == "collect":
        directory = os.fspath(sweep_file_or_dir)
        return _read_outputs(directory) if os.path.isdir(directory) else None
    return None
