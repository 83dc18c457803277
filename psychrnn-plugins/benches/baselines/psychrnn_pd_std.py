"""PD-std in PsychRNN 1.0 (TensorFlow), the reference of issue 5, measured on this machine.

PsychRNN's own PerceptualDiscrimination task and Basic model with PD-std's settings (dt 10,
tau 100, T 2000, batch 64, ReLU, rec_noise 0.1, MSE, Adam 1e-3; Dale: dale_ratio 0.8, no
autapses). Training is timed through `model.train` itself at two lengths (the difference
removes graph building), so it includes PsychRNN's trial generation; the time of generating the
same batches alone is subtracted for the "excluding trial generation" column. Forward-only
simulation uses PsychRNN's NumPy `BasicSimulator.run_trials` on 64-trial batches.

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu==2.21.0 psychrnn==1.0.0
    /tmp/tfenv/bin/python psychrnn-plugins/benches/baselines/psychrnn_pd_std.py --n-rec 50,100,256,512

`--simulate-only` skips training (the simulator runs the freshly initialised weights), so
simulation can be measured in short rounds alternated with `psychrnn bench` on a noisy machine.

Not run by CI (it needs TensorFlow).
"""
import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from psychrnn.backend.models.basic import Basic  # noqa: E402
from psychrnn.backend.simulation import BasicSimulator  # noqa: E402
from psychrnn.tasks.perceptual_discrimination import PerceptualDiscrimination  # noqa: E402

B = 64


def bench(n, dale, updates, simulate_only=False):
    task = PerceptualDiscrimination(dt=10, tau=100, T=2000, N_batch=B)
    params = task.get_task_params()
    params.update(name=f"pd{n}{dale}", N_rec=n, rec_noise=0.1, autapses=not dale)
    if dale:
        params["dale_ratio"] = 0.8
    model = Basic(params)

    def train(k):
        start = time.perf_counter()
        model.train(task, {"training_iters": (k + 1) * B, "learning_rate": 1e-3, "loss_epoch": 10**9, "verbosity": False})
        return time.perf_counter() - start

    gen = task.batch_generator()
    per_update = per_batch = float("nan")
    if not simulate_only:
        train(2)  # graph building and warm-up
        short, long = train(updates // 4), train(updates)
        per_update = (long - short) / (updates - updates // 4)
        start = time.perf_counter()
        for _ in range(updates):
            next(gen)
        per_batch = (time.perf_counter() - start) / updates
    sim = BasicSimulator(rnn_model=model)
    x, _, _, _ = next(gen)
    start, runs = time.perf_counter(), 0
    while runs < 3 or time.perf_counter() - start < 2.0:
        sim.run_trials(x)
        runs += 1
    sim_per_batch = (time.perf_counter() - start) / runs
    model.destruct()
    return {
        "n_rec": n,
        "variant": "dale" if dale else "free",
        "train_trials_per_s": B / per_update,
        "train_trials_per_s_no_generation": B / (per_update - per_batch),
        "simulate_trials_per_s": B / sim_per_batch,
        "seconds_per_update": per_update,
        "seconds_per_batch_generation": per_batch,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-rec", default="50,100,256,512")
    ap.add_argument("--variant", default="dale")
    ap.add_argument("--updates", type=int, default=40)
    ap.add_argument("--simulate-only", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    print(f"tensorflow {tf.__version__}, numpy {np.__version__}")
    rows = []
    for n in map(int, a.n_rec.split(",")):
        for v in a.variant.split(","):
            r = bench(n, v == "dale", a.updates, a.simulate_only)
            rows.append(r)
            print(f"{n:>5} {v:>5}  train {r['train_trials_per_s']:>7.0f}/s  no-gen {r['train_trials_per_s_no_generation']:>7.0f}/s  "
                  f"sim {r['simulate_trials_per_s']:>7.0f}/s", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
