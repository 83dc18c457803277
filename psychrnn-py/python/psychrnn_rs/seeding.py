"""The seed of models built without ``params['seed']``.

PsychRNN has no seed of its own (TensorFlow's global seed and NumPy's generator decide); in
psychrnn every model has one, recorded and replayable: ``params['seed']`` if given, else the
seed set here (``psychrnn_rs.set_seed``, or ``psychrnn_rs.tf.compat.v2.random.set_seed``), else
one drawn from NumPy's global generator (so ``np.random.seed`` fixes it)."""

import numpy as np

_GLOBAL = None

__all__ = ["set_seed", "model_seed"]


def set_seed(seed):
    """Sets the seed of the models built after this call without ``params['seed']``."""
    global _GLOBAL
    _GLOBAL = None if seed is None else int(seed)


def model_seed(params):
    """The seed of a model built from ``params``."""
    seed = params.get("seed")
    if seed is not None:
        if int(seed) != seed or seed < 0:
            raise ValueError(f"params['seed'] must be a non-negative integer, got {seed!r}")
        return int(seed)
    if _GLOBAL is not None:
        return _GLOBAL
    return int(np.random.randint(0, 2**31 - 1))
