"""psychrnn_rs: train and study recurrent neural networks on cognitive tasks, in Python, on
psychrnn's Rust engine.

Two ways in:

- **PsychRNN's API** (change the first word of the imports): ``psychrnn_rs.tasks`` (``Task``,
  ``PerceptualDiscrimination``, ``DelayedDiscrimination``, ``MatchToCategory``),
  ``psychrnn_rs.backend.models.basic.Basic``, ``...lstm.LSTM``, ``psychrnn_rs.backend.simulation``,
  ``psychrnn_rs.backend.curriculum``. Where PsychRNN takes TensorFlow objects, pass
  ``psychrnn_rs.relu`` (or ``"relu"``) and ``psychrnn_rs.optimizers.Adam(learning_rate=...)``;
  ``from psychrnn_rs import tf`` spells them TensorFlow's way.
- **psychrnn's workflow**: :func:`train_manifest` (a manifest into a run directory, as
  ``psychrnn train``), :class:`Run` (a run directory as NumPy arrays; ``run.simulate``,
  ``run.analyze``), :func:`sweep`, :func:`command` (any ``psychrnn`` command line).

Errors of psychrnn raise :class:`PsychrnnError` (a ``ValueError``) with the CLI's message.
"""

import sys as _sys

from . import optimizers, tf
from ._native import VERSION as __version__
from ._native import PsychrnnError
from .functions import linear, relu, sigmoid, softplus, tanh
from .runs import Run, command, load_run, sweep, train_manifest
from .seeding import set_seed

__all__ = [
    "PsychrnnError",
    "Run",
    "command",
    "linear",
    "load_run",
    "optimizers",
    "relu",
    "set_seed",
    "sigmoid",
    "softplus",
    "sweep",
    "tanh",
    "tf",
    "train_manifest",
]

# Sweeps started from Python run each run as `python -m psychrnn_rs sweep task ...`.
from . import _native as _n  # noqa: E402

_n.set_worker(_sys.executable, ["-m", "psychrnn_rs"])
