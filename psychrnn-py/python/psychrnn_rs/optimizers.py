"""Optimizers with TensorFlow 1's semantics, as PsychRNN uses them. Where PsychRNN takes
``optimizer=tf.compat.v1.train.AdamOptimizer(learning_rate=...)``, pass
``psychrnn_rs.optimizers.Adam(learning_rate=...)`` (``psychrnn_rs.tf`` also spells it
TensorFlow's way), or a name: ``"adam"``, ``"sgd"``, ``"rmsprop"``."""

__all__ = ["Optimizer", "Adam", "SGD", "Momentum", "RMSProp", "section"]


class Optimizer:
    """An optimizer: its manifest tag and settings (the ``[optimizer]`` section)."""

    tag = None

    def __init__(self, **settings):
        self.settings = {k: v for k, v in settings.items() if v is not None}

    def section(self):
        """The ``[optimizer]`` manifest table."""
        return {"type": self.tag, **self.settings}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{type(self).__name__}({args})"


class Adam(Optimizer):
    """Adam as TensorFlow 1's ``AdamOptimizer`` (PsychRNN's default)."""

    tag = "adam"

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8):
        super().__init__(learning_rate=learning_rate, beta1=beta1, beta2=beta2, epsilon=epsilon)


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum (``GradientDescentOptimizer``,
    ``MomentumOptimizer``)."""

    tag = "sgd"

    def __init__(self, learning_rate=0.001, momentum=0.0, nesterov=False):
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov)


def Momentum(learning_rate, momentum, use_nesterov=False):
    """TensorFlow 1's ``MomentumOptimizer``."""
    return SGD(learning_rate=learning_rate, momentum=momentum, nesterov=use_nesterov)


class RMSProp(Optimizer):
    """RMSProp as TensorFlow 1's ``RMSPropOptimizer``."""

    tag = "rmsprop"

    def __init__(self, learning_rate=0.001, decay=0.9, momentum=0.0, epsilon=1e-10):
        super().__init__(learning_rate=learning_rate, decay=decay, momentum=momentum, epsilon=epsilon)


_BY_NAME = {"adam": Adam, "sgd": SGD, "gradient_descent": SGD, "rmsprop": RMSProp}


def section(optimizer, learning_rate):
    """The ``[optimizer]`` table of ``optimizer`` (an object, a name, or None for Adam at
    ``learning_rate``)."""
    if optimizer is None:
        return Adam(learning_rate=learning_rate).section()
    if isinstance(optimizer, str):
        if optimizer.lower() not in _BY_NAME:
            raise ValueError(f"optimizer: unknown {optimizer!r}; use one of {', '.join(_BY_NAME)} or psychrnn_rs.optimizers")
        return _BY_NAME[optimizer.lower()](learning_rate=learning_rate).section()
    if isinstance(optimizer, Optimizer):
        return optimizer.section()
    raise TypeError(
        f"optimizer: {optimizer!r} is not a psychrnn_rs optimizer; TensorFlow optimizers cannot drive psychrnn: "
        "use psychrnn_rs.optimizers.Adam(learning_rate=...) (or psychrnn_rs.tf.compat.v1.train.AdamOptimizer)"
    )
