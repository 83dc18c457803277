"""Benchmark: a task written in Python trains at the speed its generation allows (issue 18).

PsychRNN's perceptual discrimination written as a Python ``Task`` exactly as in PsychRNN
(``generate_trial_params`` + a per-step ``trial_function``, NumPy's global generator), and the
same task written with a vectorised ``generate_batch``. For each network size it measures, in
trials per second:

- ``generation``: the task's batches alone (``get_trial_batch`` / ``generate_batch``) in this
  process, no network;
- ``train``: the training loop of ``model.train(task, ...)`` (its returned ``training_time``, in
  both packages: after TensorFlow's graph building and psychrnn's initialisation; psychrnn_rs:
  Python generates the next batches while Rust trains the current one without the GIL);
- ``end_to_end``: ``Basic(params)`` and ``model.train`` of ``--batches`` updates, wall clock,
  set-up included.

Run it under psychrnn_rs, and under PsychRNN 1.0.0 (TensorFlow) for the baseline, one right
after the other on the same machine:

    python examples/python/bench_python_task.py --package psychrnn_rs --n-rec 50,100,256   # workers 0 and 2
    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 psychrnn==1.0.0
    /tmp/tfenv/bin/python examples/python/bench_python_task.py --package psychrnn --n-rec 50,100,256

Not run by CI (timings are never asserted); results in
BENCHMARKS.md.
"""

import argparse
import json
import os
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--package", choices=["psychrnn_rs", "psychrnn"], default="psychrnn_rs")
parser.add_argument("--n-rec", default="50,100,256")
parser.add_argument("--batches", type=int, default=40, help="training updates per measurement")
parser.add_argument("--workers", default="0,2", help="psychrnn_rs: generation_workers for the per-step task")
parser.add_argument("--json", help="write the results here")
args = parser.parse_args()

if args.package == "psychrnn":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from psychrnn.backend.models.basic import Basic
    from psychrnn.tasks.task import Task
else:
    from psychrnn_rs.backend.models.basic import Basic
    from psychrnn_rs.tasks.task import Task


class PerceptualDiscrimination(Task):
    """PsychRNN's PerceptualDiscrimination, as PsychRNN writes it (psychrnn/tasks/perceptual_discrimination.py)."""

    def __init__(self, dt, tau, T, N_batch, coherence=None, direction=None):
        super(PerceptualDiscrimination, self).__init__(2, 2, dt, tau, T, N_batch)
        self.coherence = coherence
        self.direction = direction
        self.lo = 0.2
        self.hi = 1.0

    def generate_trial_params(self, batch, trial):
        params = dict()
        if self.coherence is None:
            params["coherence"] = np.random.choice([0.1, 0.3, 0.5, 0.7])
        else:
            params["coherence"] = self.coherence
        params["direction"] = np.random.choice([0, 1])
        params["stim_noise"] = 0.1
        params["onset_time"] = np.random.random() * self.T / 2.0
        params["stim_duration"] = np.random.random() * self.T / 4.0 + self.T / 8.0
        return params

    def trial_function(self, t, params):
        x_t = np.sqrt(2 * 0.01 * np.sqrt(10) * np.sqrt(self.dt) * params["stim_noise"] * params["stim_noise"]) * np.random.randn(self.N_in)
        y_t = np.zeros(self.N_out)
        mask_t = np.ones(self.N_out)
        coh = params["coherence"]
        onset = params["onset_time"]
        stim_dur = params["stim_duration"]
        dir = params["direction"]
        if onset < t < onset + stim_dur:
            x_t[dir] += 1 + coh
            x_t[(dir + 1) % 2] += 1
        if t > onset + stim_dur + 20:
            y_t[dir] = self.hi
            y_t[1 - dir] = self.lo
        if t < onset + stim_dur:
            mask_t = np.zeros(self.N_out)
        return x_t, y_t, mask_t

    def accuracy_function(self, correct_output, test_output, output_mask):
        chosen = np.argmax(np.mean(test_output * output_mask, axis=1), axis=1)
        truth = np.argmax(np.mean(correct_output * output_mask, axis=1), axis=1)
        return np.mean(np.equal(truth, chosen))


class VectorisedPerceptualDiscrimination(PerceptualDiscrimination):
    """The same task, a whole batch at a time (psychrnn_rs's ``generate_batch``)."""

    def generate_batch(self, n_trials):
        t = np.arange(self.N_steps) * self.dt
        coh = np.random.choice([0.1, 0.3, 0.5, 0.7], size=n_trials) if self.coherence is None else np.full(n_trials, self.coherence)
        direction = np.random.choice([0, 1], size=n_trials)
        onset = np.random.random(n_trials) * self.T / 2.0
        dur = np.random.random(n_trials) * self.T / 4.0 + self.T / 8.0
        std = np.sqrt(2 * 0.01 * np.sqrt(10) * np.sqrt(self.dt) * 0.1 * 0.1)
        x = std * np.random.randn(n_trials, self.N_steps, 2)
        on = (onset[:, None] < t) & (t < (onset + dur)[:, None])
        rows = np.arange(n_trials)
        x[rows, :, direction] += on * (1 + coh[:, None])
        x[rows, :, 1 - direction] += on
        late = t > (onset + dur + 20)[:, None]
        y = np.zeros((n_trials, self.N_steps, 2))
        y[rows, :, direction] = late * self.hi
        y[rows, :, 1 - direction] = late * self.lo
        mask = np.repeat((t >= (onset + dur)[:, None])[:, :, None], 2, axis=2).astype(float)
        return x, y, mask


def generation_rate(task, vectorised, n_batches):
    start = time.perf_counter()
    for _ in range(n_batches):
        if vectorised:
            task.generate_batch(task.N_batch)
        else:
            task.get_trial_batch()
    return n_batches * task.N_batch / (time.perf_counter() - start)


def train_seconds(task, n_rec, n_batches, workers=0):
    """``(end_to_end, loop)`` seconds: ``Basic(params)`` and ``model.train`` for ``n_batches``
    updates, and the training loop alone (the ``training_time`` that ``train`` returns, in both
    packages: after TensorFlow's graph building and psychrnn's initialisation)."""
    params = task.get_task_params().copy()
    params.update(name=f"bench{n_rec}_{time.perf_counter_ns()}", N_rec=n_rec, dale_ratio=0.8, rec_noise=0.1)
    params.pop("_batch_generator", None)
    if args.package == "psychrnn_rs":
        params["seed"] = 1
    start = time.perf_counter()
    model = Basic(params)
    train_params = {"training_iters": n_batches * task.N_batch, "verbosity": False}
    if workers:
        train_params["generation_workers"] = workers
    _, training_time, _ = model.train(task, train_params)
    end_to_end = time.perf_counter() - start
    model.destruct()
    return end_to_end, training_time


results = []
variants = [(False, 0)]
if args.package == "psychrnn_rs":
    variants = [(False, int(w)) for w in args.workers.split(",")] + [(True, 0)]
for n_rec in [int(n) for n in args.n_rec.split(",")]:
    for vectorised, workers in variants:
        cls = VectorisedPerceptualDiscrimination if vectorised else PerceptualDiscrimination
        task = cls(dt=10, tau=100, T=2000, N_batch=64)
        gen = generation_rate(task, vectorised, 10)
        total, loop = train_seconds(task, n_rec, args.batches, workers)
        steady = args.batches * task.N_batch / loop
        end_to_end = args.batches * task.N_batch / total
        row = {"package": args.package, "n_rec": n_rec, "task": "generate_batch" if vectorised else "trial_function",
               "generation_workers": workers, "generation_trials_per_s": round(gen, 1),
               "train_trials_per_s": round(steady, 1), "end_to_end_trials_per_s": round(end_to_end, 1)}
        results.append(row)
        print(json.dumps(row), flush=True)
if args.json:
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)
