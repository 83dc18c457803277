"""PsychRNN's API on psychrnn_rs: what each class and method does, checked against known answers
(the CLI's bits, the network's equations, the constraints' definitions)."""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import psychrnn_rs
from psychrnn_rs.backend.curriculum import Curriculum, default_metric
from psychrnn_rs.backend.models.basic import Basic
from psychrnn_rs.backend.models.lstm import LSTM
from psychrnn_rs.backend.simulation import BasicSimulator, LSTMSimulator
from psychrnn_rs.tasks.delayed_discrim import DelayedDiscrimination
from psychrnn_rs.tasks.match_to_category import MatchToCategory
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination
from psychrnn_rs.tasks.task import Task

QUIET = {"verbosity": False}


def pd_params(n_batch=16, n_rec=16, seed=3, **extra):
    pd = PerceptualDiscrimination(dt=10, tau=100, T=500, N_batch=n_batch)
    params = dict(pd.get_task_params())
    params.update(name="m", N_rec=n_rec, seed=seed, **extra)
    return pd, params


class SimplePD(Task):
    """PsychRNN's NewTask tutorial task (per-step trial_function)."""

    def __init__(self, dt, tau, T, N_batch):
        super().__init__(2, 2, dt, tau, T, N_batch)

    def generate_trial_params(self, batch, trial):
        return {"coherence": np.random.exponential(scale=1 / 5), "direction": np.random.choice([0, 1])}

    def trial_function(self, time, params):
        onset, stim_dur = self.T / 4.0, self.T / 2.0
        x_t = np.sqrt(2 * self.alpha * 0.01) * np.random.randn(self.N_in)
        y_t = np.zeros(self.N_out)
        mask_t = np.ones(self.N_out)
        if onset < time < onset + stim_dur:
            x_t[params["direction"]] += 1 + params["coherence"]
            x_t[(params["direction"] + 1) % 2] += 1
        if time > onset + stim_dur + 20:
            y_t[params["direction"]] = 1.0
        if time < onset + stim_dur:
            mask_t = np.zeros(self.N_out)
        return x_t, y_t, mask_t


# Tasks


def test_task_base_follows_psychrnn():
    task = SimplePD(dt=10, tau=100, T=505, N_batch=3)
    assert (task.N_steps, task.alpha) == (51, 0.1)
    params = task.get_task_params()
    assert params is task.__dict__ and params["N_in"] == 2
    x, y, mask, trial_params = task.get_trial_batch()
    assert x.shape == (3, 51, 2) and y.shape == mask.shape == (3, 51, 2) and len(trial_params) == 3
    # The mask is 0 before the stimulus ends and 1 after, as trial_function says.
    assert mask[0, 0].sum() == 0 and mask[0, -1].sum() == 2
    with pytest.raises(ValueError, match="N_batch"):
        SimplePD(dt=10, tau=100, T=500, N_batch=0)


def test_bundled_tasks_have_psychrnn_shapes_and_reproduce_with_numpy_seed():
    for task, n_in in ((PerceptualDiscrimination(10, 100, 2000, 8), 2), (DelayedDiscrimination(10, 100, 2000, 8), 2),
                       (MatchToCategory(10, 100, 2000, 8), 16)):
        np.random.seed(5)
        x, y, mask, params = task.get_trial_batch()
        assert x.shape == (8, 200, n_in) and y.shape[2] == 2 and len(params) == 8
        np.random.seed(5)
        assert np.array_equal(task.get_trial_batch()[0], x)
        assert 0.0 <= task.accuracy_function(y, y, mask) <= 1.0 and task.accuracy_function(y, y, mask) == 1.0
    coherent = PerceptualDiscrimination(10, 100, 2000, 32, coherence=0.7).get_trial_batch()[3]
    assert {p["coherence"] for p in coherent} == {0.7}


# Models


def test_params_need_psychrnn_required_keys():
    _, params = pd_params()
    del params["N_steps"]
    with pytest.raises(KeyError, match="N_steps"):
        Basic(params)


def test_train_returns_losses_and_times_and_learns():
    pd, params = pd_params(n_batch=32, n_rec=32)
    model = Basic(params)
    losses, train_time, init_time = model.train(pd, {"training_iters": 32 * 150, "loss_epoch": 10, **QUIET})
    assert len(losses) == 15 and train_time > 0 and init_time >= 0
    assert losses[-1] < losses[0] / 2
    x, y, mask, _ = PerceptualDiscrimination(10, 100, 500, 256, coherence=0.7).get_trial_batch()
    out, states = model.test(x)
    assert out.shape == (256, 50, 2) and states.shape == (256, 50, 32)
    assert pd.accuracy_function(y, out, mask) > 0.8
    model.destruct()
    with pytest.raises(RuntimeError, match="destructed"):
        model.test(x)


def test_a_seed_gives_the_same_network_and_training():
    pd, params = pd_params()
    a, b = Basic(params), Basic(params)
    assert np.array_equal(a.get_weights()["W_rec"], b.get_weights()["W_rec"])
    a.train(pd, {"training_iters": 160, **QUIET})
    b.train(pd, {"training_iters": 160, **QUIET})
    assert np.array_equal(a.get_weights()["W_rec"], b.get_weights()["W_rec"])
    params["seed"] = 4
    assert not np.array_equal(Basic(params).get_weights()["W_rec"], Basic(dict(params, seed=3)).get_weights()["W_rec"])


def test_test_is_the_networks_equations():
    """model.test follows PsychRNN's equations, computed here in NumPy from get_weights."""
    _, params = pd_params(n_rec=8)
    model = Basic(params)
    w = model.get_weights()
    x = np.random.default_rng(0).normal(size=(3, 20, 2)).astype(np.float32)
    out, states = model.test(x)
    alpha = 0.1
    state = np.tile(w["init_state"].reshape(1, -1)[:1], (3, 1)).astype(np.float64)
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    for t in range(20):
        state = (1 - alpha) * state + alpha * (relu(state) @ w["W_rec"].T + x[:, t] @ w["W_in"].T + w["b_rec"])
        assert np.allclose(states[:, t], state, atol=1e-5)
        assert np.allclose(out[:, t], relu(state) @ w["W_out"].T + w["b_out"], atol=1e-5)


def test_save_appends_npz_and_the_file_loads_back():
    pd, params = pd_params()
    model = Basic(params)
    model.train(pd, {"training_iters": 160, **QUIET})
    model.save("weights/saved") if False else None
    path = os.path.join(os.getcwd(), "saved_weights_test")
    try:
        model.save(path)
        assert os.path.isfile(path + ".npz")
        loaded = Basic(dict(params, load_weights_path=path + ".npz", name="loaded"))
        for key in ("W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state"):
            assert np.array_equal(loaded.get_weights()[key], model.get_weights()[key]), key
        from_dict = Basic(dict(params, **{k: v for k, v in model.get_weights().items()}, name="dict"))
        assert np.array_equal(from_dict.get_weights()["W_rec"], model.get_weights()["W_rec"])
    finally:
        if os.path.exists(path + ".npz"):
            os.remove(path + ".npz")


def test_biological_constraints():
    pd, params = pd_params(n_rec=20)
    dale = Basic(dict(params, dale_ratio=0.8))
    w = dale.get_weights()["W_rec"]
    assert (w[:, :16] >= 0).all() and (w[:, 16:] <= 0).all()
    no_autapses = Basic(dict(params, autapses=False)).get_weights()["W_rec"]
    assert np.all(np.diag(no_autapses) == 0)
    mask = np.ones((20, 20))
    mask[:10, 10:] = 0
    modular = Basic(dict(params, rec_connectivity=mask)).get_weights()["W_rec"]
    assert np.all(modular[:10, 10:] == 0) and np.any(modular[10:, :10] != 0)
    # fixed_weights: frozen entries stay exactly as they were initialised.
    model = Basic(params)
    before = model.get_weights()
    frozen = np.zeros((20, 20))
    frozen[:5] = 1
    model.train(pd, {"training_iters": 320, "fixed_weights": {"W_rec": frozen, "W_in": np.ones((20, 2))}, **QUIET})
    after = model.get_weights()
    assert np.array_equal(after["W_rec"][:5], before["W_rec"][:5]) and not np.array_equal(after["W_rec"][5:], before["W_rec"][5:])
    assert np.array_equal(after["W_in"], before["W_in"])


def test_transfer_functions_and_optimizers_accept_names_and_objects():
    pd, params = pd_params()
    for f in ("tanh", psychrnn_rs.tanh, psychrnn_rs.tf.nn.tanh):
        model = Basic(dict(params, transfer_function=f))
        assert str(model.get_weights()["transfer_function_name"]) == "tanh"
    with pytest.raises(ValueError, match="transfer_function"):
        Basic(dict(params, transfer_function="swish"))
    model = Basic(params)
    for optimizer in ("sgd", psychrnn_rs.optimizers.RMSProp(learning_rate=0.01), psychrnn_rs.tf.compat.v1.train.AdamOptimizer(learning_rate=0.01)):
        losses, _, _ = model.train(pd, {"training_iters": 160, "optimizer": optimizer, **QUIET})
        assert np.isfinite(losses).all()
    with pytest.raises(TypeError, match="optimizer"):
        model.train(pd, {"training_iters": 160, "optimizer": object(), **QUIET})


def test_lstm_trains_and_its_simulator_reproduces_test():
    pd, params = pd_params(n_rec=12)
    model = LSTM(params)
    losses, _, _ = model.train(pd, {"training_iters": 320, **QUIET})
    assert np.isfinite(losses).all()
    x = pd.get_trial_batch()[0]
    out, _ = model.test(x)
    sim_out, _ = LSTMSimulator(weights=model.get_weights(), params={"dt": 10, "tau": 100}).run_trials(x)
    assert np.allclose(sim_out, out, atol=1e-5)


# Tasks written in Python


def test_a_python_task_trains_reproducibly_and_leaves_numpys_state_alone():
    task = SimplePD(dt=10, tau=100, T=500, N_batch=16)
    _, params = pd_params()
    np.random.seed(11)
    before = np.random.get_state()[1].copy()
    a, b = Basic(params), Basic(params)
    a.train(task, {"training_iters": 320, **QUIET})
    b.train(task, {"training_iters": 320, **QUIET})
    assert np.array_equal(a.get_weights()["W_rec"], b.get_weights()["W_rec"])
    assert np.array_equal(np.random.get_state()[1], before)


def test_generation_workers_give_the_same_weights_and_batch_numbers_are_updates():
    seen = []

    class Recording(SimplePD):
        def generate_trial_params(self, batch, trial):
            seen.append(batch)
            return super().generate_trial_params(batch, trial)

    task = Recording(dt=10, tau=100, T=500, N_batch=16)
    _, params = pd_params()
    a, b = Basic(params), Basic(params)
    a.train(task, {"training_iters": 16 * 12, **QUIET})
    assert sorted(set(seen)) == list(range(1, 13)), "PsychRNN's batch number is the update's"
    b.train(task, {"training_iters": 16 * 12, "generation_workers": 2, **QUIET})
    assert np.array_equal(a.get_weights()["W_rec"], b.get_weights()["W_rec"])

    class Broken(SimplePD):
        def trial_function(self, time, params):
            raise ZeroDivisionError("bad trial in a worker")

    with pytest.raises(ZeroDivisionError, match="in a worker"):
        Basic(params).train(Broken(10, 100, 500, 16), {"training_iters": 160, "generation_workers": 2, **QUIET})
    with pytest.raises(ValueError, match="generation_workers"):
        Basic(params).train(task, {"training_iters": 160, "generation_workers": -1, **QUIET})


def test_a_vectorised_generate_batch_is_used_when_given():
    calls = []

    class Vectorised(SimplePD):
        def generate_batch(self, n_trials):
            calls.append(n_trials)
            x = np.zeros((n_trials, self.N_steps, 2))
            y = np.zeros((n_trials, self.N_steps, 2))
            return x, y, np.ones_like(y)

    _, params = pd_params()
    losses, _, _ = Basic(params).train(Vectorised(10, 100, 500, 16), {"training_iters": 160, **QUIET})
    assert calls and set(calls) == {16} and np.isfinite(losses).all()


def test_a_batch_generator_trains():
    task = SimplePD(dt=10, tau=100, T=500, N_batch=16)
    _, params = pd_params()
    losses, _, _ = Basic(params).train(task.batch_generator(), {"training_iters": 160, "loss_epoch": 2, **QUIET})
    assert len(losses) == 5


def test_an_exception_in_a_python_task_is_raised_again():
    class Broken(SimplePD):
        def trial_function(self, time, params):
            raise ZeroDivisionError("bad trial")

    _, params = pd_params()
    with pytest.raises(ZeroDivisionError, match="bad trial"):
        Basic(params).train(Broken(10, 100, 500, 16), {"training_iters": 160, **QUIET})


def test_a_task_of_other_sizes_is_refused():
    class ThreeInputs(SimplePD):
        def __init__(self, *a):
            Task.__init__(self, 3, 2, *a)

    _, params = pd_params()
    with pytest.raises(ValueError, match="N_in 3"):
        Basic(params).train(ThreeInputs(10, 100, 500, 16), {"training_iters": 160, **QUIET})


def test_ctrl_c_stops_training_and_raises_keyboard_interrupt():
    pd, params = pd_params(n_batch=64, n_rec=64)
    model = Basic(params)
    timer = threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        model.train(pd, {"training_iters": 64 * 100000, **QUIET})
    assert time.monotonic() - start < 30


# performance_measure, curricula


def test_performance_measure_stops_training_early():
    pd, params = pd_params(n_batch=32, n_rec=32)
    seen = []

    def measure(trial_batch, trial_y, output_mask, output, epoch, losses, verbosity):
        seen.append(epoch)
        return pd.accuracy_function(trial_y, output, output_mask)

    losses, _, _ = Basic(params).train(
        pd, {"training_iters": 32 * 3000, "performance_measure": measure, "performance_cutoff": 0.9, **QUIET}
    )
    assert seen == list(range(1, len(seen) + 1)), "checked after every update, as PsychRNN"
    assert len(seen) < 3000


def test_curriculum_of_bundled_tasks_advances_through_its_stages(tmp_path):
    pds = [PerceptualDiscrimination(dt=10, tau=100, T=500, N_batch=32, coherence=0.7 - i / 5) for i in range(2)]
    out = tmp_path / "metric_values.npy"
    curriculum = Curriculum(pds, thresholds=[0.8, 0.8], metric_epoch=5, output_file=str(out))
    assert curriculum._native_metric()
    _, params = pd_params(n_batch=32, n_rec=32)
    Basic(params).train_curric({"curriculum": curriculum, "training_iters": 32 * 2000, **QUIET})
    assert curriculum.stage == 2 and curriculum.stop_training
    values = np.load(out)
    assert values.shape[1] == 2 and values[-1, 0] >= 0.8 and set(values[:, 1]) == {0.0, 1.0}


def test_curriculum_with_a_python_metric_follows_its_verdicts():
    pds = [PerceptualDiscrimination(dt=10, tau=100, T=500, N_batch=16) for _ in range(3)]
    calls = []

    def always_pass(curriculum_params, x, y, mask, output, epoch, losses, verbosity):
        calls.append(curriculum_params["stage"])
        return True, 0.5

    curriculum = Curriculum(pds, metric=always_pass, metric_epoch=2)
    assert not curriculum._native_metric()
    _, params = pd_params()
    Basic(params).train(None, {"curriculum": curriculum, "training_iters": 16 * 100, **QUIET})
    assert calls == [0, 1, 2] and curriculum.stop_training and curriculum.metric_values == [[0.5, 0], [0.5, 1], [0.5, 2]]
    assert default_metric is not always_pass


# Simulators


def test_basic_simulator_reproduces_test_from_a_model_a_file_and_a_dict(tmp_path):
    pd, params = pd_params(n_rec=24, dale_ratio=0.8)
    model = Basic(params)
    model.train(pd, {"training_iters": 320, **QUIET})
    x = PerceptualDiscrimination(10, 100, 500, 40).get_trial_batch()[0]
    out, states = model.test(x)
    model.save(tmp_path / "w")
    for sim in (
        BasicSimulator(rnn_model=model),
        BasicSimulator(weights_path=str(tmp_path / "w.npz"), params={"dt": 10, "tau": 100}),
        BasicSimulator(weights=model.get_weights(), params={"dt": 10, "tau": 100}),
    ):
        sim_out, sim_states = sim.run_trials(x)
        assert np.max(np.abs(sim_out - out)) < 1e-5 and np.max(np.abs(sim_states - states)) < 1e-5
    # t_connectivity zeroing every recurrent weight equals a network without W_rec.
    sim = BasicSimulator(rnn_model=model)
    cut, _ = sim.run_trials(x, t_connectivity=np.zeros((50, 24, 24)))
    w = dict(model.get_weights())
    w["W_rec"] = np.zeros_like(w["W_rec"])
    assert np.allclose(cut, BasicSimulator(weights=w, params={"alpha": 0.1}).run_trials(x)[0], atol=1e-6)
    # rnn_step (NumPy, PsychRNN's) agrees with the first step.
    first_out, _ = sim.rnn_step(np.tile(w["init_state"].reshape(1, -1)[:1], (40, 1)), x[:, 0], np.ones((24, 24)))
    assert np.allclose(first_out, out[:, 0], atol=1e-5)


# Bad input: exceptions that name what is wrong, never a crash.


def test_bad_input_raises_clear_errors():
    pd, params = pd_params()
    with pytest.raises(psychrnn_rs.PsychrnnError, match="dale_ratio"):
        Basic(dict(params, dale_ratio=1.5))
    with pytest.raises(psychrnn_rs.PsychrnnError, match="rec_connectivity"):
        Basic(dict(params, rec_connectivity=np.ones((3, 3))))
    model = Basic(params)
    with pytest.raises(ValueError, match=r"\[batch, time, 2\]"):
        model.test(np.zeros((4, 10, 3)))
    with pytest.raises(psychrnn_rs.PsychrnnError, match="training_iters"):
        model.train(pd, {"training_iters": 0, **QUIET})
    with pytest.raises(ValueError, match="loss_function"):
        Basic(dict(params, loss_function="hinge"))
    with pytest.raises(psychrnn_rs.PsychrnnError, match="fixed_weights"):
        model.train(pd, {"training_iters": 160, "fixed_weights": {"W_rec": np.ones((2, 2))}, **QUIET})
    sim = BasicSimulator(rnn_model=model)
    with pytest.raises(psychrnn_rs.PsychrnnError, match="rec_multiplier"):
        sim.run_trials(np.zeros((2, 5, 2)), t_connectivity=np.ones((4, 16, 16)))
    with pytest.raises(psychrnn_rs.PsychrnnError, match="lesion"):
        sim.run_trials(np.zeros((2, 5, 2)), lesions=[([99], 0)])
    w = model.get_weights()
    del w["b_rec"]
    with pytest.raises(KeyError, match="b_rec"):
        BasicSimulator(weights=w, params={"alpha": 0.1})
    with pytest.raises(psychrnn_rs.PsychrnnError, match="perceptual_discrimination|coherence"):
        PerceptualDiscrimination(10, 100, 500, 8, coherence="high")
    with pytest.raises(TypeError, match="Task or a batch generator"):
        model.train(object(), {"training_iters": 160, **QUIET})


def test_initializers_weight_paths_and_verbosity(in_tmp, capsys):
    from psychrnn_rs.backend.initializations import AlphaIdentity, WeightInitializer

    pd, params = pd_params(n_rec=10)
    w_rec = Basic(dict(params, initializer=AlphaIdentity(alpha=0.5))).get_weights()["W_rec"]
    assert np.allclose(w_rec, 0.5 * np.eye(10))
    arrays = Basic(params).get_weights()
    arrays["W_rec"] = np.full((10, 10), 0.01, dtype=np.float32)
    given = WeightInitializer(**{k: arrays[k] for k in ("W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state")})
    assert np.array_equal(Basic(dict(params, initializer=given)).get_weights()["W_rec"], arrays["W_rec"])
    model = Basic(params)
    model.train(
        pd,
        {"training_iters": 16 * 20, "save_weights_path": "out/final", "training_weights_path": "out/epoch_",
         "save_training_weights_epoch": 10, "loss_epoch": 10},
    )
    assert sorted(os.listdir("out")) == ["epoch_10.npz", "epoch_20.npz", "final.npz"]
    assert np.array_equal(np.load("out/final.npz")["W_rec"], model.get_weights()["W_rec"])
    printed = capsys.readouterr().out
    assert "Iter 160, Minibatch Loss=" in printed and "Iter 320" in printed and "Optimization finished" in printed


def test_a_curriculum_of_python_tasks():
    tasks = [SimplePD(dt=10, tau=100, T=500, N_batch=32) for _ in range(2)]
    curriculum = Curriculum(tasks, thresholds=[0.6, 0.6], metric_epoch=5)
    assert curriculum._native_metric(), "Python tasks without their own accuracy use psychrnn's metric"
    _, params = pd_params(n_batch=32, n_rec=24)
    Basic(params).train(None, {"curriculum": curriculum, "training_iters": 32 * 1500, **QUIET})
    assert curriculum.stop_training and curriculum.stage == 2


def test_loss_functions_and_regularizations_follow_psychrnn():
    from psychrnn_rs.backend.loss_functions import LossFunction, binary_cross_entropy, mean_squared_error
    from psychrnn_rs.backend.regularizations import Regularizer

    pred, y = np.array([[[1.0, 0.0]]]), np.zeros((1, 1, 2))
    assert mean_squared_error(pred, y, np.ones((1, 1, 2))) == 0.5, "divided by every element"
    assert mean_squared_error(pred, y, np.array([[[0.0, 1.0]]])) == 0.0
    half = np.full((1, 1, 2), 0.5)
    assert binary_cross_entropy(half, np.ones((1, 1, 2)), np.ones((1, 1, 2))) == pytest.approx(-np.log(0.5 + 1e-7))
    assert LossFunction({"loss_function": "binary_cross_entropy"}).section() == {"type": "binary_cross_entropy"}
    with pytest.raises(ValueError, match="Rust plugin"):
        LossFunction({"loss_function": "hinge"})
    assert Regularizer({"L1_rec": 0.1, "L2_in": 0.2, "L2_firing_rate": 0.3}).sections() == [
        {"type": "l1_weights", "W_rec": 0.1},
        {"type": "l2_weights", "W_in": 0.2},
        {"type": "l2_firing_rate", "coefficient": 0.3},
    ]
    assert Regularizer({}).sections() == []


def test_a_network_psychrnn_wrote_runs_as_in_psychrnn():
    """PsychRNN 1.0.0's own weight file (psychrnn-plugins/tests/data/) loaded by Basic and by
    BasicSimulator reproduces the outputs and states PsychRNN computed for the same inputs."""
    from conftest import REPO

    data = REPO / "psychrnn-plugins" / "tests" / "data"
    io = np.load(data / "pd_n50_dale_io.npz")
    params = {"name": "psychrnn_file", "N_in": 2, "N_rec": 50, "N_out": 2, "N_steps": 200, "dt": 10, "tau": 100,
              "N_batch": 16, "dale_ratio": 0.8, "autapses": False, "load_weights_path": str(data / "pd_n50_dale_weights.npz"),
              "psychrnn_1_0_compat": True}  # the file is PsychRNN 1.0.0's: its Dale_out
    model = Basic(params)
    outputs, states = model.test(io["x"])
    assert np.max(np.abs(outputs - io["outputs"])) < 1e-5 and np.max(np.abs(states - io["states"])) < 1e-5
    sim = BasicSimulator(weights_path=str(data / "pd_n50_dale_weights.npz"), params={"dt": 10, "tau": 100})
    sim_outputs, sim_states = sim.run_trials(io["x"])
    assert np.max(np.abs(sim_outputs - io["outputs"])) < 1e-5 and np.max(np.abs(sim_states - io["states"])) < 1e-5
