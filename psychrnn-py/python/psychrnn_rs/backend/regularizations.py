"""PsychRNN's ``psychrnn.backend.regularizations``: the coefficients ``L1_in``, ``L1_rec``,
``L1_out``, ``L2_in``, ``L2_rec``, ``L2_out`` (means of the effective weights' absolute values or
squares) and ``L2_firing_rate`` (the mean squared rate), as psychrnn's regularisers. A custom
regulariser is a Rust plugin in psychrnn (implement ``Regularizer``; see ``examples/lab_plugin``),
not a Python function."""

__all__ = ["Regularizer"]


class Regularizer:
    """The regularisation of ``params`` (every coefficient 0 by default)."""

    def __init__(self, params):
        self.coefficients = {
            prefix + m: float(params.get(prefix + m) or 0) for prefix in ("L1_", "L2_") for m in ("in", "rec", "out")
        }
        self.coefficients["L2_firing_rate"] = float(params.get("L2_firing_rate") or 0)
        if params.get("custom_regularization") is not None:
            raise ValueError(
                "custom_regularization: a custom regulariser is a Rust plugin in psychrnn (implement Regularizer; see examples/lab_plugin)"
            )

    def sections(self):
        """The ``[[regularizers]]`` manifest tables of the non-zero coefficients."""
        out = []
        for tag, prefix in (("l1_weights", "L1_"), ("l2_weights", "L2_")):
            terms = {f"W_{m}": self.coefficients[prefix + m] for m in ("in", "rec", "out") if self.coefficients[prefix + m]}
            if terms:
                out.append({"type": tag, **terms})
        if self.coefficients["L2_firing_rate"]:
            out.append({"type": "l2_firing_rate", "coefficient": self.coefficients["L2_firing_rate"]})
        return out
