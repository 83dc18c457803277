"""PsychRNN's ``psychrnn.backend.loss_functions``: the loss is chosen by name
(``params['loss_function']``) and computed by psychrnn in training; the same formulas are here
in NumPy, e.g. to score ``model.test`` outputs. A custom loss is a Rust plugin in psychrnn
(implement ``LossFunction``; see ``examples/lab_plugin``), not a Python function."""

import numpy as np

__all__ = ["LossFunction", "mean_squared_error", "binary_cross_entropy", "NAMES"]

NAMES = ("mean_squared_error", "binary_cross_entropy")


def mean_squared_error(predictions, y, output_mask):
    """PsychRNN's MSE: the mean over every element (not the mask's sum) of ``(mask (pred - y))^2``."""
    return float(np.mean(np.square(output_mask * (predictions - y))))


def binary_cross_entropy(predictions, y, output_mask):
    """PsychRNN's BCE: ``p = clip(pred, 1e-7, 1 - 1e-7)``, the mean over every element of
    ``mask * -(y log(p + 1e-7) + (1 - y) log(1 - p + 1e-7))``."""
    p = np.clip(predictions, 1e-7, 1 - 1e-7)
    return float(np.mean(output_mask * -(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))))


class LossFunction:
    """The loss of ``params`` (``params['loss_function']``, default ``"mean_squared_error"``)."""

    def __init__(self, params):
        self.type = params.get("loss_function", "mean_squared_error")
        if self.type not in NAMES:
            raise ValueError(
                f"loss_function: {self.type!r}; psychrnn has {' and '.join(NAMES)} (a custom loss is a Rust plugin: implement LossFunction)"
            )

    def section(self):
        """The ``[loss]`` manifest table."""
        return {"type": self.type}

    def __call__(self, predictions, y, output_mask):
        """The loss of outputs ``predictions`` against targets ``y`` under ``output_mask`` (NumPy)."""
        return {"mean_squared_error": mean_squared_error, "binary_cross_entropy": binary_cross_entropy}[self.type](
            predictions, y, output_mask
        )
