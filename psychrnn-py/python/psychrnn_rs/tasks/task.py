"""PsychRNN's ``Task`` base class (``psychrnn.tasks.task``), with PsychRNN's names and semantics.

A task subclass implements ``generate_trial_params(batch, trial)`` and
``trial_function(time, params)`` (per time step, as in PsychRNN), and optionally
``accuracy_function(correct_output, test_output, output_mask)``. For speed it may instead (or
also) implement ``generate_batch(n_trials)`` returning whole ``[batch, time, channel]`` arrays
``(x, y, mask)`` or ``(x, y, mask, trial_params)``; training then uses it.

Random draws use NumPy's global generator, as in PsychRNN. When psychrnn trains on a task it
seeds that generator for each batch from the run's seed (and restores the caller's state
afterwards), so a seeded run replays exactly. ``generate_trial_params`` receives the training
update's number as ``batch`` (0 for validation and test trials).

With ``train_params['generation_workers'] = n`` the training batches are generated ahead in
``n`` worker processes (forked when training starts), which is what makes a per-step
``trial_function`` train fast: each batch depends only on its seed and number, so the weights
are the same with and without workers. The task must then not rely on state that changes
while it generates (each worker has its own copy).
"""

import abc
import multiprocessing
import signal

import numpy as np

__all__ = ["Task"]


def _choice_accuracy(correct_output, test_output, output_mask):
    """PsychRNN's accuracy: the chosen channel is the argmax of the masked, time-averaged
    output; the correct one that of the masked, time-averaged target."""
    chosen = np.argmax(np.mean(test_output * output_mask, axis=1), axis=1)
    truth = np.argmax(np.mean(correct_output * output_mask, axis=1), axis=1)
    return float(np.mean(np.equal(truth, chosen)))


class Task(abc.ABC):
    """A cognitive task: inputs, target outputs and a loss mask over time, trial by trial.

    Args:
        N_in (int): Number of input channels.
        N_out (int): Number of output channels.
        dt (float): Simulation time step (ms).
        tau (float): Unit time constant (ms); ``alpha = dt / tau``.
        T (float): Trial duration (ms); ``N_steps = ceil(T / dt)``.
        N_batch (int): Trials per batch.
    """

    def __init__(self, N_in, N_out, dt, tau, T, N_batch):
        for name, value in (("N_in", N_in), ("N_out", N_out), ("N_batch", N_batch)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name, value in (("dt", dt), ("tau", tau), ("T", T)):
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        self.N_batch = int(N_batch)
        self.N_in = int(N_in)
        self.N_out = int(N_out)
        self.dt = dt
        self.tau = tau
        self.T = T
        self.alpha = (1.0 * self.dt) / self.tau
        self.N_steps = int(np.ceil(self.T / self.dt))
        self._batch_generator = self.batch_generator()

    def get_task_params(self):
        """The task's attributes (its live ``__dict__``, as PsychRNN returns it): N_batch, N_in,
        N_out, dt, tau, T, alpha, N_steps and the task's own."""
        return self.__dict__

    @abc.abstractmethod
    def generate_trial_params(self, batch, trial):
        """The parameters (a dict) of trial ``trial`` of batch ``batch``."""

    @abc.abstractmethod
    def trial_function(self, time, params):
        """``(x_t [N_in], y_t [N_out], mask_t [N_out])`` at ``time`` (ms, from 0) of a trial."""

    def accuracy_function(self, correct_output, test_output, output_mask):
        """Fraction of trials answered correctly, from arrays ``[batch, time, N_out]``
        (PsychRNN's rule: argmax of the masked, time-averaged output against that of the
        target). Override it for another rule."""
        return _choice_accuracy(correct_output, test_output, output_mask)

    def generate_trial(self, params):
        """One trial's ``(x [N_steps, N_in], y [N_steps, N_out], mask [N_steps, N_out])``,
        from ``trial_function`` at each step."""
        x_data = np.zeros([self.N_steps, self.N_in])
        y_data = np.zeros([self.N_steps, self.N_out])
        mask = np.zeros([self.N_steps, self.N_out])
        for t in range(self.N_steps):
            x_data[t, :], y_data[t, :], mask[t, :] = self.trial_function(t * self.dt, params)
        return x_data, y_data, mask

    def batch_generator(self):
        """An infinite generator of batches ``(x, y, mask, trial_params)``, arrays
        ``[N_batch, N_steps, ·]`` and an array of parameter dicts."""
        batch = 1
        while True:
            x_data, y_data, mask, params = self._generate_trials(batch, self.N_batch)
            batch += 1
            yield x_data, y_data, mask, np.array(params)

    def _generate_trials(self, batch, n_trials):
        """``n_trials`` trials of batch number ``batch``, from ``generate_trial_params`` and
        ``generate_trial``: arrays ``[n_trials, N_steps, ·]`` and the list of parameter dicts."""
        x_data, y_data, mask, params = [], [], [], []
        for trial in range(n_trials):
            p = self.generate_trial_params(batch, trial)
            x, y, m = self.generate_trial(p)
            x_data.append(x)
            y_data.append(y)
            mask.append(m)
            params.append(p)
        return np.array(x_data), np.array(y_data), np.array(mask), params

    def get_trial_batch(self):
        """The next batch of the task's own generator."""
        return next(self._batch_generator)

    # What psychrnn's trainer calls.

    def _psychrnn_has_accuracy(self):
        return type(self).accuracy_function is not Task.accuracy_function

    def _psychrnn_trials(self, n_trials, batch):
        generate_batch = getattr(self, "generate_batch", None)
        if callable(generate_batch):
            out = generate_batch(n_trials)
            if len(out) == 3:
                return (*out, None)
            return out
        return self._generate_trials(batch, n_trials)

    def _psychrnn_batch(self, n_trials, seed, batch=0):
        """A batch for psychrnn's trainer: NumPy's global generator seeded with ``seed`` for it
        (and restored after), arrays as float32; ``batch`` is the update's number."""
        state = np.random.get_state()
        np.random.seed(seed % (2**32))
        try:
            x, y, mask, params = self._psychrnn_trials(n_trials, batch)
        finally:
            np.random.set_state(state)
        as32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        return as32(x), as32(y), as32(mask), params

    def _psychrnn_start_workers(self, n_workers):
        """Forks ``n_workers`` processes that generate this task's batches."""
        context = multiprocessing.get_context("fork")
        self._psychrnn_pool = context.Pool(n_workers, initializer=_worker_init, initargs=(self,))

    def _psychrnn_submit(self, n_trials, seed, batch):
        """Generates a batch in a worker; returns its pending result."""
        return self._psychrnn_pool.apply_async(_worker_batch, (n_trials, seed, batch))

    def _psychrnn_stop_workers(self):
        pool = self.__dict__.pop("_psychrnn_pool", None)
        if pool is not None:
            pool.terminate()
            pool.join()


_WORKER_TASK = None


def _worker_init(task):
    """In a worker process: the task it generates (inherited by fork, not pickled); Ctrl-C is
    the parent's to handle."""
    global _WORKER_TASK
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_TASK = task


def _worker_batch(n_trials, seed, batch):
    return _WORKER_TASK._psychrnn_batch(n_trials, seed, batch)
