"""No input crashes the interpreter or panics in Rust: every odd value of every ``params`` and
``train_params`` key, and odd arrays given to the native functions, end in an ordinary Python
exception (a Rust panic would surface as ``pyo3_runtime.PanicException``, a ``BaseException``
that ``except Exception`` does not catch, and fail these tests)."""

import numpy as np
import pytest

from psychrnn_rs import _native
from psychrnn_rs.backend.models.basic import Basic
from psychrnn_rs.backend.models.lstm import LSTM
from psychrnn_rs.backend.simulation import BasicSimulator
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination

ODD = [None, -1, 0, 1e300, float("nan"), float("inf"), "x", [], {}, [1, 2], np.zeros((3, 3)), True, 2**70]

MODEL_KEYS = [
    "N_in", "N_rec", "N_out", "N_steps", "dt", "tau", "N_batch", "seed", "rec_noise", "dale_ratio", "autapses",
    "transfer_function", "input_connectivity", "rec_connectivity", "output_connectivity", "W_rec_train",
    "which_rand_init", "init_minval", "spec_rad", "loss_function", "L1_rec", "L2_firing_rate", "W_rec", "load_weights_path",
]
TRAIN_KEYS = [
    "learning_rate", "training_iters", "loss_epoch", "clip_grads", "fixed_weights", "performance_cutoff", "optimizer",
    "threads", "save_training_weights_epoch", "generation_workers",
]


def params():
    pd = PerceptualDiscrimination(dt=10, tau=100, T=200, N_batch=4)
    p = dict(pd.get_task_params())
    p.update(name="m", N_rec=4, seed=1)
    return pd, p


@pytest.mark.parametrize("model", [Basic, LSTM])
@pytest.mark.parametrize("key", MODEL_KEYS)
def test_odd_params_raise_exceptions(model, key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, p = params()
    for value in ODD:
        try:
            m = model(dict(p, **{key: value}))
            m.test(np.zeros((2, 5, m.N_in), dtype=np.float32))
        except Exception:
            pass


@pytest.mark.parametrize("key", TRAIN_KEYS)
def test_odd_train_params_raise_exceptions(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd, p = params()
    model = Basic(p)
    for value in ODD:
        try:
            model.train(pd, {"training_iters": 8, "verbosity": False, key: value})
        except Exception:
            pass


def test_odd_arrays_to_the_native_functions():
    _, p = params()
    model = Basic(p)
    w = model.get_weights()
    for x in (np.zeros((0, 5, 2), np.float32), np.zeros((2, 0, 2), np.float32), np.full((1, 3, 2), np.nan, np.float32)):
        for call in (lambda: model.test(x), lambda: BasicSimulator(rnn_model=model).run_trials(x)):
            try:
                call()
            except Exception:
                pass
    bad = dict(w, W_rec=np.zeros((4, 5), np.float32))
    with pytest.raises(Exception):
        _native.simulate(bad, np.zeros((1, 3, 2), np.float32), 0.1)
    for alpha in (0.0, -1.0, float("nan")):
        with pytest.raises(Exception):
            _native.simulate(w, np.zeros((1, 3, 2), np.float32), alpha)
    for table in ({}, {"type": "nothing"}, {"type": "perceptual_discrimination"}, {"type": 3, "dt": "x"}):
        with pytest.raises(Exception):
            _native.task_batch(table, 4, 0)
    with pytest.raises(Exception):
        _native.task_batch({"type": "perceptual_discrimination", "dt": 10, "tau": 100, "T": 200, "N_batch": 4}, 0, 0)
    with pytest.raises(Exception):
        _native.NativeModel({"model": {"type": "basic_rnn"}})
    with pytest.raises(Exception):
        _native.train_manifest(text="[[[", out="never")


@pytest.mark.parametrize(
    "batch",
    [
        lambda n, t: (np.zeros((n, t, 3)), np.zeros((n, t, 2)), np.ones((n, t, 2))),
        lambda n, t: (np.zeros((n, t, 2)), np.zeros((n, t + 1, 2)), np.ones((n, t, 2))),
        lambda n, t: (np.zeros((n - 1, t, 2)), np.zeros((n - 1, t, 2)), np.ones((n - 1, t, 2))),
        lambda n, t: (np.zeros((n, 0, 2)), np.zeros((n, 0, 2)), np.zeros((n, 0, 2))),
        lambda n, t: ("x", "y", "mask"),
        lambda n, t: (np.zeros((n, t)),) * 3,
        lambda n, t: (np.full((n, t, 2), np.nan), np.zeros((n, t, 2)), np.ones((n, t, 2))),
        lambda n, t: None,
    ],
)
def test_a_python_task_returning_odd_batches_raises(batch):
    from psychrnn_rs.tasks.task import Task

    class Odd(Task):
        def generate_trial_params(self, b, trial):
            return {}

        def trial_function(self, time, params):
            return np.zeros(2), np.zeros(2), np.ones(2)

        def generate_batch(self, n_trials):
            return batch(n_trials, self.N_steps)

    _, p = params()
    with pytest.raises(Exception):
        model = Basic(p)
        model.train(Odd(2, 2, 10, 100, 200, 4), {"training_iters": 8, "verbosity": False})
        if np.isfinite(model.get_weights()["W_rec"]).all():
            raise ValueError("trained on odd batch")  # a NaN batch is refused by the NaN guard
