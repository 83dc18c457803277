"""PD-std in JAX (jit + lax.scan + optax), the baseline of issue 5, measured on this machine.

Same work as `psychrnn bench`: perceptual-discrimination-shaped trials, dt 10, tau 100, T 2000
(200 steps), batch 64, ReLU, rec_noise 0.1, masked MSE, Adam 1e-3, f32; variant `free` or `dale`
(dale_ratio 0.8, no autapses, PsychRNN's effective weights |W o M| D). The recurrent noise is
drawn inside the jitted update; trials come from a pre-generated pool (training without trial
generation, like `psychrnn bench`'s "no-gen" column).

    python -m venv /tmp/jaxenv && /tmp/jaxenv/bin/pip install jax optax numpy
    /tmp/jaxenv/bin/python psychrnn-plugins/benches/baselines/jax_pd_std.py --n-rec 50,100,256,512

Prints one line per configuration: trials/s and seconds per update (median, min, max after
warm-up and compilation). Not run by CI (it needs JAX).
"""
import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

B, T, DT, TAU, REC_NOISE = 64, 200, 10.0, 100.0, 0.1
N_IN, N_OUT = 2, 2


def pd_batch(rng):
    """Perceptual-discrimination-shaped trials: a noisy two-channel stimulus, a choice target
    after it, and a mask that skips the 100 ms after stimulus offset."""
    u = np.zeros((T, B, N_IN), np.float32)
    y = np.zeros((T, B, N_OUT), np.float32)
    m = np.ones((T, B, N_OUT), np.float32)
    for b in range(B):
        coh = rng.choice([0.0, 0.05, 0.1, 0.2, 0.4]) * rng.choice([-1, 1])
        onset = rng.integers(20, 60)
        dur = rng.integers(50, 100)
        u[onset:onset + dur, b, 0] = 0.6 * (1 + coh)
        u[onset:onset + dur, b, 1] = 0.6 * (1 - coh)
        choice = 0 if coh > 0 else 1
        y[onset + dur:, b, choice] = 1.0
        m[onset + dur:onset + dur + 10, b, :] = 0.0
    u += 0.1 * rng.standard_normal(u.shape).astype(np.float32)
    return jnp.asarray(u), jnp.asarray(y), jnp.asarray(m)


def init(key, n, dale):
    k = jax.random.split(key, 3)
    w_rec = jax.random.normal(k[0], (n, n)) * (1.1 / np.sqrt(n))
    params = {
        "W_in": jax.random.normal(k[1], (n, N_IN)) * 0.1,
        "W_rec": w_rec,
        "W_out": jax.random.normal(k[2], (N_OUT, n)) * 0.1,
        "b_rec": jnp.zeros(n),
        "b_out": jnp.zeros(N_OUT),
        "x0": jnp.full(n, 0.1),
    }
    n_exc = int(0.8 * n)
    d = jnp.diag(jnp.where(jnp.arange(n) < n_exc, 1.0, -1.0)) if dale else None
    no_autapses = 1.0 - jnp.eye(n) if dale else None
    return params, d, no_autapses


def make_update(n, dale, d, no_autapses, opt):
    alpha = DT / TAU
    sigma = np.sqrt(2 * alpha * REC_NOISE**2)

    def loss_fn(p, u, y, m, key):
        if dale:
            w_rec = (jnp.abs(p["W_rec"]) * no_autapses) @ d
            w_in = jnp.abs(p["W_in"])
            w_out = jnp.abs(p["W_out"]) @ d
        else:
            w_rec, w_in, w_out = p["W_rec"], p["W_in"], p["W_out"]
        xi = jax.random.normal(key, (T, B, n))

        def step(x, inp):
            u_t, xi_t = inp
            x = (1 - alpha) * x + alpha * (jax.nn.relu(x) @ w_rec.T + u_t @ w_in.T + p["b_rec"]) + sigma * xi_t
            return x, jax.nn.relu(x)

        _, rates = jax.lax.scan(step, jnp.broadcast_to(p["x0"], (B, n)), (u, xi))
        out = rates @ w_out.T + p["b_out"]
        return jnp.mean(((out - y) * m) ** 2)

    @jax.jit
    def update(p, s, u, y, m, key):
        loss, g = jax.value_and_grad(loss_fn)(p, u, y, m, key)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s, loss

    return update


def bench(n, variant, seconds):
    dale = variant == "dale"
    rng = np.random.default_rng(1)
    pool = [pd_batch(rng) for _ in range(8)]
    params, d, no_autapses = init(jax.random.PRNGKey(1), n, dale)
    opt = optax.adam(1e-3)
    state = opt.init(params)
    update = make_update(n, dale, d, no_autapses, opt)
    key = jax.random.PRNGKey(2)
    times = []
    start = time.perf_counter()
    i = 0
    while i < 8 or time.perf_counter() - start < seconds:
        key, sub = jax.random.split(key)
        t0 = time.perf_counter()
        params, state, loss = update(params, state, *pool[i % len(pool)], sub)
        loss.block_until_ready()
        times.append(time.perf_counter() - t0)
        i += 1
    times = sorted(times[3:])  # drop compilation and warm-up
    med = times[len(times) // 2]
    return {
        "n_rec": n,
        "variant": variant,
        "trials_per_s": B * len(times) / sum(times),
        "seconds_per_update_median": med,
        "seconds_per_update_min": times[0],
        "seconds_per_update_max": times[-1],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-rec", default="50,100,256,512")
    ap.add_argument("--variant", default="free,dale")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    print(f"jax {jax.__version__}, optax {optax.__version__}, devices {jax.devices()}")
    for n in map(int, a.n_rec.split(",")):
        for v in a.variant.split(","):
            r = bench(n, v, a.seconds)
            rows.append(r)
            print(f"{n:>5} {v:>5}  {r['trials_per_s']:>9.0f} trials/s  "
                  f"{r['seconds_per_update_median']:.5f} s/update ({r['seconds_per_update_min']:.5f}-{r['seconds_per_update_max']:.5f})",
                  flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
