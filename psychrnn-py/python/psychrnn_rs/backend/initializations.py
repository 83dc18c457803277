"""PsychRNN's initialisers (``psychrnn.backend.initializations``), as the ``[initializer]``
sections psychrnn draws them from. Pass one as ``params['initializer']``."""

import os
import tempfile

import numpy as np

__all__ = ["WeightInitializer", "GaussianSpectralRadius", "AlphaIdentity"]

_KEYS = ("which_rand_init", "which_rand_W_rec_init", "init_minval", "init_maxval")


class WeightInitializer:
    """Initial weights from arrays (``W_in``, ``W_rec``, ``W_out``, ``b_rec``, ``b_out``,
    ``init_state``) or a file (``load_weights_path``); without them, every matrix drawn by
    ``which_rand_init`` (PsychRNN's random ``WeightInitializer``)."""

    tag = "random"

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def section(self):
        """The ``[initializer]`` manifest table."""
        k = self.kwargs
        if k.get("load_weights_path") is not None:
            return {"type": "from_file", "path": os.path.abspath(k["load_weights_path"])}
        arrays = {n: np.asarray(k[n], dtype=np.float32) for n in ("W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state") if k.get(n) is not None}
        if arrays:
            self._dir = tempfile.TemporaryDirectory(prefix="psychrnn_rs_init_")
            path = os.path.join(self._dir.name, "weights.npz")
            np.savez(path, **arrays)
            return {"type": "from_file", "path": path}
        return {"type": self.tag, **{n: k[n] for n in self._keys() if k.get(n) is not None}}

    def _keys(self):
        return _KEYS


class GaussianSpectralRadius(WeightInitializer):
    """``W_rec ~ N(0, 1)`` scaled to spectral radius ``spec_rad`` (1.1), E/I balanced under
    Dale's principle (PsychRNN's default)."""

    tag = "gaussian_spectral_radius"

    def _keys(self):
        return ("which_rand_init", "init_minval", "init_maxval", "spec_rad")


class AlphaIdentity(WeightInitializer):
    """``W_rec = alpha I`` (``alpha`` required)."""

    tag = "alpha_identity"

    def _keys(self):
        return ("which_rand_init", "init_minval", "init_maxval", "alpha")
