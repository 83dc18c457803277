"""PsychRNN's simulators (``psychrnn.backend.simulation``): run saved effective weights on any
batch of inputs, outside the model. ``BasicSimulator.run_trials`` runs in Rust, through the
kernel the model trained with (so it reproduces ``model.test``), with PsychRNN's
``t_connectivity`` and psychrnn's lesions and pulses."""

import os
import tempfile
import warnings

import numpy as np

from .. import _native
from ..functions import relu, sigmoid, transfer_name

__all__ = ["Simulator", "BasicSimulator", "LSTMSimulator", "relu", "sigmoid"]


class Simulator:
    """The weights, ``alpha`` and ``rec_noise`` of a simulation, from a model, a weight file or a
    weight dict (PsychRNN's precedence: ``weights`` > ``weights_path`` > ``rnn_model``).

    Args:
        rnn_model: A trained model (its weights, ``alpha``, ``rec_noise``, transfer function).
        params (dict): ``alpha`` or ``dt`` and ``tau``; ``rec_noise`` (0), when no model is given.
        weights_path (str): An ``.npz`` of weights (PsychRNN's or psychrnn's).
        weights (dict): Weight arrays.
        transfer_function: A name or :mod:`psychrnn_rs.functions` function (ReLU).
    """

    def __init__(self, rnn_model=None, params=None, weights_path=None, weights=None, transfer_function=relu):
        self.transfer_function = transfer_name(transfer_function)
        if rnn_model is not None:
            if rnn_model.transfer_function != self.transfer_function and transfer_function is not relu:
                warnings.warn("The transfer function passed in differs from the model's", UserWarning, stacklevel=2)
            if params is not None:
                warnings.warn("params was passed in, but rnn_model takes precedence", UserWarning, stacklevel=2)
            self.alpha, self.rec_noise = rnn_model.alpha, rnn_model.rec_noise
            self.transfer_function = rnn_model.transfer_function
        elif params is not None:
            self.rec_noise = params.get("rec_noise", 0)
            if params.get("alpha") is not None:
                self.alpha = params["alpha"]
            elif params.get("dt") is not None and params.get("tau") is not None:
                self.alpha = (1.0 * params["dt"]) / params["tau"]
            else:
                raise ValueError("params must hold alpha, or dt and tau")
        else:
            raise UserWarning("Either rnn_model or params must be passed in.")
        if weights is not None:
            if weights_path is not None or rnn_model is not None:
                warnings.warn("weights takes precedence over weights_path and rnn_model", UserWarning, stacklevel=2)
            self.weights = dict(weights)
        elif weights_path is not None:
            if rnn_model is not None:
                warnings.warn("weights_path takes precedence over rnn_model", UserWarning, stacklevel=2)
            with np.load(weights_path, allow_pickle=True) as npz:
                self.weights = {k: npz[k] for k in npz.files}
        elif rnn_model is not None:
            self.weights = rnn_model.get_weights()
        else:
            raise UserWarning("Either weights, rnn_model, or weights_path must be passed in.")
        name = self.weights.get("transfer_function_name")
        if name is not None and rnn_model is None and transfer_function is relu:
            self.transfer_function = str(np.asarray(name).item())
        for key in ("W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state"):
            if key not in self.weights:
                raise KeyError(f"the weights have no {key!r}")
        self.W_in, self.W_rec, self.W_out = self.weights["W_in"], self.weights["W_rec"], self.weights["W_out"]
        self.b_rec, self.b_out, self.init_state = self.weights["b_rec"], self.weights["b_out"], self.weights["init_state"]


class BasicSimulator(Simulator):
    """PsychRNN's ``BasicSimulator`` (see :class:`Simulator` for the arguments)."""

    def rnn_step(self, state, rnn_in, t_connectivity):
        """One step in NumPy, as PsychRNN's (for reading; ``run_trials`` runs in Rust):
        returns ``(output, new_state)``."""
        f = {"relu": relu, "sigmoid": sigmoid, "tanh": np.tanh, "softplus": lambda x: np.logaddexp(0, x), "linear": lambda x: x}[
            self.transfer_function
        ]
        new_state = (
            (1 - self.alpha) * state
            + self.alpha * (f(state) @ (self.W_rec * t_connectivity).T + rnn_in @ self.W_in.T + self.b_rec)
            + np.sqrt(2.0 * self.alpha * self.rec_noise * self.rec_noise) * np.random.normal(size=state.shape)
        )
        return f(new_state) @ self.W_out.T + self.b_out, new_state

    def run_trials(self, trial_input, t_connectivity=None, lesions=(), pulses=(), seed=None):
        """Runs inputs ``x [batch, time, N_in]`` (any batch size). ``t_connectivity [time,
        N_rec, N_rec]`` multiplies ``W_rec`` at each step; psychrnn's ``lesions`` are
        ``(units, from_step)`` pairs and ``pulses`` ``(units, start_step, end_step,
        amplitude)``. The recurrent noise (``rec_noise``) is drawn from ``seed`` (default: from
        NumPy's generator). Returns ``(outputs, states)`` ``[batch, time, ·]``."""
        x = np.ascontiguousarray(trial_input, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if seed is None:
            seed = int(np.random.randint(0, 2**62, dtype=np.int64))
        as32 = {k: np.ascontiguousarray(self.weights[k], dtype=np.float32) for k in ("W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state")}
        t_conn = None if t_connectivity is None else np.ascontiguousarray(t_connectivity, dtype=np.float32)
        return _native.simulate(
            as32,
            x,
            float(self.alpha),
            float(self.rec_noise),
            self.transfer_function,
            t_conn,
            [(list(map(int, u)), int(s)) for u, s in lesions],
            [(list(map(int, u)), int(a), int(b), float(amp)) for u, a, b, amp in pulses],
            int(seed),
        )


class LSTMSimulator(Simulator):
    """PsychRNN's ``LSTMSimulator``: runs LSTM weights (from an LSTM model, a file or a dict)
    through psychrnn's LSTM, without noise. Unlike PsychRNN's (which uses row 0 of
    ``init_hidden``/``init_cell`` for every trial), each trial starts from the states the
    weights hold for it when they hold one per trial, as the trained model does."""

    def __init__(self, rnn_model=None, params=None, weights_path=None, weights=None):
        if rnn_model is not None:
            self._model = rnn_model
            return
        if weights is None:
            if weights_path is None:
                raise UserWarning("Either weights, rnn_model, or weights_path must be passed in.")
            with np.load(weights_path, allow_pickle=True) as npz:
                weights = {k: npz[k] for k in npz.files}
        from .models.lstm import LSTM

        params = params or {}
        if params.get("dt") is None or (params.get("tau") is None and params.get("alpha") is None):
            raise ValueError("params must hold dt and tau (or dt and alpha)")
        dt = params["dt"]
        tau = params.get("tau", dt / params.get("alpha", 1.0))
        n_out, n_rec = np.asarray(weights["W_out"]).shape
        n_in = np.asarray(weights["W_f"]).shape[0] - n_rec
        n_batch = np.asarray(weights["init_hidden"]).shape[0]
        self._dir = tempfile.TemporaryDirectory(prefix="psychrnn_rs_lstm_")
        path = os.path.join(self._dir.name, "weights.npz")
        np.savez(path, **{k: np.asarray(v) for k, v in weights.items() if np.asarray(v).dtype.kind in "fiu"})
        self._model = LSTM(
            {"name": "lstm_simulator", "N_in": n_in, "N_rec": n_rec, "N_out": n_out, "N_steps": 1, "dt": dt, "tau": tau,
             "N_batch": n_batch, "load_weights_path": path, "seed": 0}
        )

    def run_trials(self, trial_input):
        """Runs inputs ``x [batch, time, N_in]``; returns ``(outputs, states)``."""
        return self._model.test(trial_input)
