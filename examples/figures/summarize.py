#!/usr/bin/env python3
"""Summarises `psychrnn analyze` results of several seeds per paradigm (examples/figures).

    python3 examples/figures/summarize.py runs/figures

prints, per paradigm found under the directory, a Markdown table with one row per seed and the
mean and standard deviation over seeds of the numbers PyCog's figures report. Standard library
only.
"""
import json
import math
import pathlib
import statistics
import sys


def load(run, name):
    path = run / "analysis" / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def curve(psychometric, group="", variable=None):
    for c in psychometric["curves"]:
        if c["group"] == group and c.get("x_variable") == variable:
            return c
    return None


def rdm(run):
    p = load(run, "psychometric")
    fit = curve(p, "")["fit"]
    row = {"bias (%)": fit["bias"], "sigma (%)": fit["sigma"], "deviance / df": fit["deviance"] / max(fit["degrees_of_freedom"], 1)}
    c = load(run, "chronometric")
    if c:
        pairs = [(q["mean_rt_correct"], q["mean_rt_error"]) for q in c["points"]
                 if q["stimulus"] > 0 and q["n_correct"] >= 5 and q["n_error"] >= 5]
        row["RT correct, 1-4% (ms)"] = statistics.mean(q["mean_rt_correct"] for q in c["points"] if 0 < q["stimulus"] <= 4 and q["mean_rt_correct"] is not None)
        row["RT correct, 16% (ms)"] = next(q["mean_rt_correct"] for q in c["points"] if q["stimulus"] == 16)
        row["error slower than correct (coherences)"] = f"{sum(e > k for k, e in pairs)}/{len(pairs)}" if pairs else "n/a"
    d = load(run, "duration")
    if d:
        # Fig 2E: accuracy in the shortest and the longest duration bin, at 2 % coherence.
        bins = sorted((p["mean_duration_ms"], p["accuracy"]) for p in d["points"] if p["stimulus"] == 2)
        if bins:
            row["accuracy at 2 %, shortest -> longest stimulus"] = f"{bins[0][1]:.2f} -> {bins[-1][1]:.2f}"
    k = load(run, "connectivity")
    if k and k.get("clustering"):
        c = k["clustering"]
        if c["excitatory_same_preference"] is not None and c["excitatory_opposite_preference"]:
            row["E->E weight, same / opposite preference"] = c["excitatory_same_preference"] / c["excitatory_opposite_preference"]
    return row


def context(run):
    p = load(run, "psychometric")
    row = {}
    for ctx in ("motion", "colour"):
        other = "colour" if ctx == "motion" else "motion"
        row[f"{ctx} ctx: relevant slope (/%)"] = curve(p, f"{ctx} context", ctx)["fit"]["slope"]
        irrelevant = curve(p, f"{ctx} context", other)
        row[f"{ctx} ctx: irrelevant slope (/%)"] = irrelevant["fit"]["slope"] if irrelevant["fit"] else 0.0
    return row


def slope(xs, ys):
    """Least-squares slope of ys against xs."""
    mx, my = statistics.mean(xs), statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx > 0 else float("nan")


def context_axes(run):
    """Fig 4B, D (Mante et al. 2013): the end points of the condition averages on the task axes.
    Per context, the slope of the choice-axis projection against the irrelevant coherence as a
    fraction of that against the relevant one (near 0: the choice follows the relevant feature), and of the motion (colour) axis
    projection against motion (colour) coherence (each feature stays represented in both
    contexts)."""
    r = load(run, "regression")
    if not r or "conditions" not in r:
        return {}
    row = {}
    for ctx, other in (("motion", "colour"), ("colour", "motion")):
        cs = [c for c in r["conditions"] if c["group"] == f"{ctx} context"]
        end = lambda c, axis: c["projection_at_end"][axis]
        rel = slope([c["variables"][ctx] for c in cs], [end(c, "choice") for c in cs])
        irr = slope([c["variables"][other] for c in cs], [end(c, "choice") for c in cs])
        row[f"{ctx} ctx: choice axis, irrelevant / relevant slope"] = abs(irr / rel) if rel else float("inf")
        for feature in ("motion", "colour"):
            row[f"{ctx} ctx: {feature} axis slope (/%)"] = slope(
                [c["variables"][feature] for c in cs], [end(c, feature) for c in cs])
    return row


def context_all(run):
    row = context(run)
    row.update(context_axes(run))
    return row


def romo(run):
    """Fig 7: percent correct per f1/f2 pair, and units tuned to f1 through the 3 s delay."""
    p = load(run, "psychometric")
    row = {}
    fractions = [c["fraction_correct"] for c in p["conditions"] if c["fraction_correct"] is not None]
    row["worst pair correct"] = min(fractions)
    row["mean correct"] = statistics.mean(fractions)
    t = load(run, "tuning")
    if t and t.get("stimulus_end_ms") is not None:
        end = t["stimulus_end_ms"]
        delay = [f for time, f in zip(t["time_from_onset_ms"], t["fraction_tuned"]) if end <= time < end + 3000]
        early = [f for time, f in zip(t["time_from_onset_ms"], t["fraction_tuned"]) if end <= time < end + 500]
        late = [f for time, f in zip(t["time_from_onset_ms"], t["fraction_tuned"]) if end + 2500 <= time < end + 3000]
        row["tuned to f1: first 500 ms of delay"] = statistics.mean(early)
        row["tuned to f1: last 500 ms of delay"] = statistics.mean(late)
        row["tuned to f1: whole delay"] = statistics.mean(delay)
    return row


def sequence(run):
    """Fig 8C: the trajectories in two principal components."""
    p = load(run, "pca")
    ratios = p["explained_variance_ratio"]
    return {"RMSE": json.loads((run / "summary.json").read_text()).get("final_metric", float("nan")),
            "PC 1 variance": ratios[0], "PC 1+2 variance": ratios[0] + ratios[1]}


def multisensory(run):
    cue = load(run, "psychometric")["cue_combination"]
    return {
        "sigma visual": cue["sigma_cue_1"],
        "sigma auditory": cue["sigma_cue_2"],
        "sigma multisensory": cue["sigma_combined"],
        "sigma optimal": cue["sigma_optimal"],
        "multisensory / optimal": cue["combined_over_optimal"],
        "below both cues": "yes" if cue["combined_below_both_cues"] else "no",
    }


SUMMARIES = {"rdm_rt": rdm, "rdm_varstim": rdm, "context": context_all, "multisensory": multisensory,
             "romo": romo, "sequence": sequence}


def fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def main(root):
    root = pathlib.Path(root)
    for paradigm, summarize in SUMMARIES.items():
        runs = sorted((root / paradigm).glob("seed*"), key=lambda p: int(p.name[4:]))
        rows = []
        for run in runs:
            if not any((run / "analysis" / f).exists() for f in ("psychometric.json", "pca.json")):
                continue
            summary = json.loads((run / "summary.json").read_text())
            row = {"seed": run.name[4:], "accuracy": summary["final_accuracy"], "trials trained": summary["trials"]}
            row.update(summarize(run))
            rows.append(row)
        if not rows:
            continue
        keys = list(rows[0])
        print(f"### {paradigm} ({len(rows)} networks)\n")
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for row in rows:
            print("| " + " | ".join(fmt(row.get(k, "")) for k in keys) + " |")
        stats = ["mean ± sd"]
        for k in keys[1:]:
            values = [r[k] for r in rows if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])]
            stats.append(f"{statistics.mean(values):.3g} ± {statistics.stdev(values):.2g}" if len(values) > 1 else "")
        print("| " + " | ".join(stats) + " |\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/figures")
