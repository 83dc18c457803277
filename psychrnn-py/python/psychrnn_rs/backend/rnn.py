"""PsychRNN's ``RNN`` base (``psychrnn.backend.rnn``): a network built from PsychRNN's
``params`` dict, trained with ``train(task, train_params)``, run with ``test(x)``.

psychrnn writes ``params`` and ``train_params`` as a manifest (``manifest()`` shows it) and
trains it with the same trainer as ``psychrnn train``: a bundled task and a seed give the CLI's
weights bit for bit. Differences from PsychRNN, all deliberate:

- ``params['seed']`` seeds everything (initial weights, trials, noise); see
  :mod:`psychrnn_rs.seeding` for models without one.
- ``transfer_function`` is a name or a :mod:`psychrnn_rs.functions` function (``tf.nn.relu``
  works by its name); ``optimizer`` is a :mod:`psychrnn_rs.optimizers` object or a name.
- Custom loss functions, regularisers and models are Rust plugins (``examples/new_model``),
  not Python callables; ``performance_measure`` and curriculum metrics are Python callables.
- ``test(x)`` takes any batch size, and there is no TensorFlow graph: ``destruct()`` only frees
  the network, and names need not be unique.
"""

import io
import os
import warnings

import numpy as np

from .. import _native
from ..functions import transfer_name
from ..optimizers import section as optimizer_section
from ..seeding import model_seed
from ..tasks.task import Task
from .initializations import GaussianSpectralRadius, WeightInitializer
from .loss_functions import LossFunction
from .regularizations import Regularizer

__all__ = ["RNN"]

_REQUIRED = ("name", "N_in", "N_rec", "N_out", "N_steps", "dt", "tau", "N_batch")
_RATE_KEYS = (
    "rec_noise", "autapses", "W_in_train", "W_rec_train", "W_out_train", "b_rec_train", "b_out_train", "init_state_train",
    "psychrnn_1_0_compat",
)
_MASKS = ("input_connectivity", "rec_connectivity", "output_connectivity")


def _plain(value):
    """A NumPy 0-d array or scalar as a Python value (weight files hold ``dale_ratio`` so)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


class _Shape(Task):
    """A task with only the network's sizes: what a network is built on before it trains."""

    def generate_trial_params(self, batch, trial):
        return {}

    def trial_function(self, time, params):
        return np.zeros(self.N_in), np.zeros(self.N_out), np.zeros(self.N_out)


class _Generator(Task):
    """A PsychRNN batch generator (yielding ``(x, y, mask, params)``) as a task. Its batches
    are whatever it yields: psychrnn's seed does not reach them."""

    def __init__(self, generator, dt, tau):
        self._generator = generator
        x, y, _, _ = next(generator)  # PsychRNN also draws one batch to learn the batch size
        x, y = np.asarray(x), np.asarray(y)
        super().__init__(x.shape[2], y.shape[2], dt, tau, x.shape[1] * dt, x.shape[0])

    def generate_trial_params(self, batch, trial):
        raise NotImplementedError("a generator yields whole batches")

    def trial_function(self, time, params):
        raise NotImplementedError("a generator yields whole batches")

    def _psychrnn_trials(self, n_trials, batch):
        return next(self._generator)


class RNN:
    """A recurrent network from PsychRNN's ``params``.

    Required keys (PsychRNN's): ``name``, ``N_in``, ``N_rec``, ``N_out``, ``N_steps``, ``dt``,
    ``tau``, ``N_batch``. Optional: ``seed``; ``rec_noise`` (0), ``transfer_function``
    (``"relu"``), ``dale_ratio``, ``autapses`` (True), ``input_connectivity``,
    ``rec_connectivity``, ``output_connectivity`` (0/1 masks), ``W_in_train`` ...
    ``init_state_train`` (True); psychrnn's ``psychrnn_1_0_compat`` (PsychRNN 1.0.0's Dale_out,
    under which inhibitory units drive the outputs negatively: for networks PsychRNN 1.0.0 wrote);
    initial weights: ``load_weights_path`` (an ``.npz``), weight
    arrays in ``params`` (``W_in``, ``W_rec``, ...), an ``initializer``
    (:mod:`psychrnn_rs.backend.initializations`) or PsychRNN's ``GaussianSpectralRadius`` keys
    (``which_rand_init``, ``init_minval``, ``init_maxval``, ``spec_rad``); ``loss_function``
    (``"mean_squared_error"`` or ``"binary_cross_entropy"``); regularisation ``L1_in``,
    ``L1_rec``, ``L1_out``, ``L2_in``, ``L2_rec``, ``L2_out``, ``L2_firing_rate``.
    """

    _model_type = None

    def __init__(self, params):
        for key in _REQUIRED:
            if key not in params:
                raise KeyError(f"{key} must be passed in params (PsychRNN's required keys: {', '.join(_REQUIRED)})")
        self.params = dict(params)
        self.name = params["name"]
        self.N_in, self.N_rec, self.N_out = int(params["N_in"]), int(params["N_rec"]), int(params["N_out"])
        self.N_steps, self.N_batch = int(params["N_steps"]), int(params["N_batch"])
        self.dt, self.tau = params["dt"], params["tau"]
        self.alpha = (1.0 * self.dt) / self.tau
        self.rec_noise = params.get("rec_noise", 0.0)
        self.dale_ratio = _plain(params.get("dale_ratio"))
        self.transfer_function = transfer_name(params.get("transfer_function", "relu"))
        self.seed = model_seed(params)
        self._initializer = self._initializer_section()
        shape = _Shape(self.N_in, self.N_out, self.dt, self.tau, params.get("T", self.N_steps * self.dt), self.N_batch)
        with _Held() as held:
            manifest = self.manifest(task=self._task_section(shape, held))
            self._native = _native.NativeModel(manifest)
        self.is_built = True

    # The manifest.

    def _initializer_section(self):
        """PsychRNN's choice: a weight file or weight arrays in ``params``, else
        ``params['initializer']``, else ``GaussianSpectralRadius(**params)``. The object is kept:
        weight arrays live in its temporary file while the network trains."""
        p = self.params
        if p.get("load_weights_path") is not None or p.get("W_rec") is not None:
            self._initializer_object = WeightInitializer(**p)
        elif p.get("initializer") is not None:
            self._initializer_object = p["initializer"]
        else:
            self._initializer_object = GaussianSpectralRadius(**p)
        return self._initializer_object.section()

    def _model_section(self):
        p = self.params
        model = {"type": self._model_type, "N_rec": self.N_rec}
        if self._model_type != "basic_rnn":
            return model
        model["transfer_function"] = self.transfer_function
        for key in _RATE_KEYS:
            if p.get(key) is not None:
                model[key] = _plain(p[key])
        if self.dale_ratio:
            model["dale_ratio"] = float(self.dale_ratio)
        for key in _MASKS:
            if p.get(key) is not None:
                model[key] = np.asarray(p[key], dtype=np.float64)
        return model

    def _regularizers(self):
        return Regularizer(self.params).sections()

    def _loss(self):
        return LossFunction(self.params).section()

    def manifest(self, task=None, training=None, optimizer=None, metric=None, curriculum=None):
        """The network's manifest (a dict of sections, as ``psychrnn train`` reads them), with
        the given task, training options, optimizer, metric and curriculum sections."""
        manifest = {"name": self.name, "seed": self.seed}
        for key, value in (
            ("task", task),
            ("model", self._model_section()),
            ("initializer", self._initializer),
            ("loss", self._loss()),
            ("regularizers", self._regularizers() or None),
            ("optimizer", optimizer),
            ("training", training),
            ("metric", metric),
            ("curriculum", curriculum),
        ):
            if value is not None:
                manifest[key] = value
        return manifest

    def _task_section(self, task, held, workers=0):
        if not isinstance(task, Task):
            raise TypeError(f"expected a psychrnn_rs Task (or a batch generator), got {type(task).__name__}")
        if (task.N_in, task.N_out) != (self.N_in, self.N_out):
            raise ValueError(
                f"the task has N_in {task.N_in} and N_out {task.N_out}; the network {self.name!r} was built for {self.N_in} and {self.N_out}"
            )
        if hasattr(task, "_psychrnn_table"):
            return task._psychrnn_table()
        handle = held.hold(task)
        if workers and not isinstance(task, _Generator):
            held.start_workers(task, workers)
        else:
            workers = 0
        return {
            "type": "python", "handle": handle, "seed": self.seed, "workers": workers,
            "dt": task.dt, "tau": task.tau, "T": task.T, "N_batch": task.N_batch,
        }

    def _training_section(self, tp):
        training = {
            "training_iters": int(tp.get("training_iters", 50000)),
            "loss_epoch": int(tp.get("loss_epoch", 10)),
            "verbosity": bool(tp.get("verbosity", True)),
            "clip_grads": bool(tp.get("clip_grads", True)),
        }
        for key in ("threads", "clip_mode", "clip_norm", "psychrnn_1_0_compat"):
            if tp.get(key) is not None:
                training[key] = tp[key]
        if tp.get("training_weights_path") is not None:
            training["save_training_weights_epoch"] = int(tp.get("save_training_weights_epoch", 100))
        fixed = tp.get("fixed_weights")
        if fixed:
            training["fixed_weights"] = {name: np.asarray(mask, dtype=np.float64) for name, mask in fixed.items()}
        return training

    # PsychRNN's methods.

    def _require_built(self):
        if self._native is None:
            raise RuntimeError(f"the model {self.name!r} was destructed")

    def train(self, trial_batch_generator, train_params={}):  # noqa: B006 (PsychRNN's signature)
        """Trains from the initial weights (each call starts again, as in PsychRNN) on a task,
        a batch generator, or ``train_params['curriculum']``; returns ``(losses,
        training_time, initialization_time)``.

        ``train_params`` (PsychRNN's keys): ``learning_rate`` (0.001), ``training_iters``
        (50000 trials), ``loss_epoch`` (10), ``verbosity`` (True), ``save_weights_path``,
        ``save_training_weights_epoch`` (100) with ``training_weights_path``, ``curriculum``,
        ``optimizer`` (an object of :mod:`psychrnn_rs.optimizers` or a name), ``clip_grads``
        (True), ``fixed_weights`` ({name: 0/1 mask, 1 = frozen}), ``performance_cutoff`` with
        ``performance_measure`` (a callable ``(x, y, mask, output, epoch, losses, verbosity)``
        checked on a fresh batch after every update). psychrnn's own: ``threads``, and
        ``generation_workers`` (processes generating a Python task's batches ahead; see
        :mod:`psychrnn_rs.tasks.task`).
        """
        self._require_built()
        tp = dict(train_params or {})
        known = {
            "learning_rate", "training_iters", "loss_epoch", "verbosity", "save_weights_path", "save_training_weights_epoch",
            "training_weights_path", "curriculum", "optimizer", "clip_grads", "fixed_weights", "performance_cutoff",
            "performance_measure", "threads", "clip_mode", "clip_norm", "psychrnn_1_0_compat", "generation_workers",
        }
        unknown = sorted(set(tp) - known)
        if unknown:
            warnings.warn(f"train_params: ignoring unknown keys {', '.join(unknown)}", UserWarning, stacklevel=2)
        verbose = bool(tp.get("verbosity", True))
        curriculum = tp.get("curriculum")
        cutoff, measure = tp.get("performance_cutoff"), tp.get("performance_measure")
        if (cutoff is None) != (measure is None):
            warnings.warn(
                "performance_cutoff and performance_measure must be set together; training ignores the one given",
                UserWarning,
                stacklevel=2,
            )
            cutoff = measure = None
        for key in ("save_weights_path", "training_weights_path"):
            parent = os.path.dirname(str(tp[key])) if tp.get(key) is not None else ""
            if parent:
                os.makedirs(parent, exist_ok=True)  # as PsychRNN makes them
        workers = int(tp.get("generation_workers", 0))
        if workers < 0:
            raise ValueError(f"generation_workers must be 0 or more, got {workers}")
        with _Held() as held:
            training = self._training_section(tp)
            metric = None
            curriculum_section = None
            if curriculum is not None:
                task_section = self._task_section(curriculum.tasks[0], held, workers)
                curriculum_section, metric = curriculum._sections(self, held, verbose, workers)
            else:
                task = trial_batch_generator
                if not isinstance(task, Task):
                    if not hasattr(task, "__next__"):
                        raise TypeError(
                            f"train: expected a psychrnn_rs Task or a batch generator, got {type(task).__name__}"
                        )
                    task = _Generator(task, self.dt, self.tau)
                task_section = self._task_section(task, held, workers)
            if cutoff is not None:
                training["performance_cutoff"] = float(cutoff)
                training["performance_epoch"] = 1
                training["performance_window"] = 1
                if metric is None:
                    metric = {"type": "python", "handle": held.hold(measure, verbose)}
            manifest = self.manifest(
                task=task_section,
                training=training,
                optimizer=optimizer_section(tp.get("optimizer"), tp.get("learning_rate", 0.001)),
                metric=metric,
                curriculum=curriculum_section,
            )
            losses, training_time, init_time, history = self._native.train(
                manifest, held.handles, verbose, tp.get("training_weights_path")
            )
        if curriculum is not None:
            curriculum._finished(history)
        if tp.get("save_weights_path") is not None:
            self.save(tp["save_weights_path"])
        return losses, training_time, init_time

    def train_curric(self, train_params):
        """Trains on ``train_params['curriculum']`` (PsychRNN's ``train_curric``)."""
        if train_params.get("curriculum") is None:
            raise UserWarning("train_curric requires a curriculum. Please pass in a curriculum or use train instead.")
        return self.train(None, train_params)

    def test(self, trial_batch):
        """Runs inputs ``x [batch, time, N_in]`` (any batch size) without noise; returns
        ``(outputs [batch, time, N_out], states [batch, time, N_rec])``."""
        self._require_built()
        x = np.ascontiguousarray(trial_batch, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] != self.N_in:
            raise ValueError(f"x must be [batch, time, {self.N_in}], got {x.shape}")
        return self._native.test(x)

    def get_weights(self):
        """The network's weights as ``weights.npz`` holds them: effective ``W_in``, ``W_rec``,
        ``W_out``, ``b_rec``, ``b_out``, ``init_state``, the masks and Dale matrices,
        ``dale_ratio`` and the run's settings (no optimizer slots)."""
        self._require_built()
        with np.load(io.BytesIO(self._native.weights_npz()), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    def get_effective_W_rec(self):
        """The effective recurrent weights."""
        return self.get_weights()["W_rec"]

    def get_effective_W_in(self):
        """The effective input weights."""
        return self.get_weights()["W_in"]

    def get_effective_W_out(self):
        """The effective output weights."""
        return self.get_weights()["W_out"]

    def save(self, save_path):
        """Writes the weights to ``save_path`` + ``.npz`` (as PsychRNN's ``np.savez``: the
        suffix is added unless present)."""
        self._require_built()
        path = str(save_path)
        if not path.endswith(".npz"):
            path += ".npz"
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._native.save(path)

    def lock(self):
        """The resolved manifest of the network (TOML text, as ``manifest.lock.toml``)."""
        self._require_built()
        return self._native.lock_toml()

    def build(self):
        """Nothing to build (PsychRNN builds its TensorFlow graph here)."""

    def destruct(self):
        """Frees the network; it cannot be used afterwards."""
        self._native = None
        self.is_built = False


class _Held:
    """Python objects held for the native side while a manifest naming them is built and
    trained; released on exit."""

    def __init__(self):
        self.handles = []
        self.with_workers = []

    def hold(self, obj, verbose=False):
        handle = _native.hold(obj, verbose)
        self.handles.append(handle)
        return handle

    def start_workers(self, task, workers):
        if not any(t is task for t in self.with_workers):
            task._psychrnn_start_workers(workers)
            self.with_workers.append(task)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for task in self.with_workers:
            task._psychrnn_stop_workers()
        for handle in self.handles:
            _native.release(handle)
        return False
