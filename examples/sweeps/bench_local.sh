#!/bin/sh
# The local executor's throughput (BENCHMARKS.md): the eight runs of examples/sweeps/seeds.toml
# one after another on one thread, one after another on two threads, and two side by side on
# one thread each (the default on 2 cores). REPS repetitions of each (default 2), run from the
# repository root; PSYCHRNN picks the binary.
set -eu
psychrnn=${PSYCHRNN:-target/release/psychrnn}
[ -x "$psychrnn" ] || cargo build --release -p psychrnn-cli
reps=${REPS:-2}
out=${TMPDIR:-/tmp}/psychrnn-bench-sweep
for cfg in "--jobs 1 --threads 1" "--jobs 1 --threads 2" "--jobs 2 --threads 1"; do
    rep=1
    while [ "$rep" -le "$reps" ]; do
        rm -rf "$out"
        start=$(date +%s.%N)
        "$psychrnn" sweep run examples/sweeps/seeds.toml --out "$out" --quiet $cfg
        end=$(date +%s.%N)
        echo "$cfg: $(echo "$end - $start" | bc) s"
        rep=$((rep + 1))
    done
done
rm -rf "$out"
