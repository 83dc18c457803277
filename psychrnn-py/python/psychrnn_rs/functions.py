"""Transfer functions, named as in manifests. PsychRNN takes TensorFlow functions
(``transfer_function=tf.nn.relu``); psychrnn takes these objects, their names (``"relu"``), or
any function whose ``__name__`` is one of them (so ``tf.nn.relu`` itself works too). Each is
also a NumPy function, for use in analyses."""

import numpy as np

__all__ = ["relu", "tanh", "sigmoid", "softplus", "linear", "transfer_name", "NAMES"]

NAMES = ("relu", "tanh", "sigmoid", "softplus", "linear")


def relu(x):
    """max(x, 0)."""
    return np.maximum(x, 0)


def tanh(x):
    """tanh(x)."""
    return np.tanh(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return 1 / (1 + np.exp(-x))


def softplus(x):
    """log(1 + exp(x))."""
    return np.logaddexp(0, x)


def linear(x):
    """x."""
    return x


def transfer_name(f):
    """The manifest name of a transfer function given as a name, one of these functions, or a
    function named like one (``tf.nn.relu``)."""
    name = f if isinstance(f, str) else getattr(f, "__name__", None)
    if name == "identity":
        name = "linear"
    if name not in NAMES:
        raise ValueError(f"transfer_function: unknown {f!r}; use one of {', '.join(NAMES)} (names or psychrnn_rs functions)")
    return name
