#!/bin/sh
# Trains one of PyCog's paradigms with several seeds and analyses every network
# (`psychrnn analyze`), then summarises the numbers the paper reports (summarize.py).
#
#   examples/figures/reproduce.sh rdm_rt 5          # Fig 2 (reaction time)
#   examples/figures/reproduce.sh rdm_varstim 5     # Fig 2 (variable stimulus)
#   examples/figures/reproduce.sh context 5         # Fig 3, 4
#   examples/figures/reproduce.sh multisensory 5    # Fig 6
#   examples/figures/reproduce.sh romo 5 --set training.threads=1   # Fig 7 (extra train arguments)
#   examples/figures/reproduce.sh sequence 5    # Fig 8
#   python3 examples/figures/summarize.py runs/figures > SCIENCE-table.md
#
# Run from the repository root. Runs land in runs/figures/<paradigm>/seed<N>; each seed's
# network is trained to the manifest's target, then analysed over --trials trials per condition
# (default 200). Set TRIALS to change it, PSYCHRNN to use another binary, FIRST_SEED to start
# at another seed (the second argument is the last seed). Arguments after the last seed go to
# `psychrnn train`. A run interrupted part way (a checkpoint, no weights) is resumed.
set -eu
paradigm=$1
seeds=${2:-5}
shift $(($# < 2 ? $# : 2))
trials=${TRIALS:-200}
psychrnn=${PSYCHRNN:-target/release/psychrnn}
[ -x "$psychrnn" ] || cargo build --release -p psychrnn-cli
manifest=examples/pycog/$paradigm.toml
[ -f "$manifest" ] || { echo "no manifest $manifest" >&2; exit 1; }
seed=${FIRST_SEED:-1}
# Sequence generation is judged on its trajectories (Fig 8C), which PyCog plots without noise.
analyze_args=""
[ "$paradigm" = sequence ] && analyze_args="--no-noise"
while [ "$seed" -le "$seeds" ]; do
    out=runs/figures/$paradigm/seed$seed
    if [ -f "$out/weights.npz" ]; then
        :   # trained already
    elif [ -f "$out/checkpoint/checkpoint.npz" ]; then
        "$psychrnn" resume "$out" --quiet   # an interrupted run continues where it stopped
    else
        "$psychrnn" train "$manifest" --out "$out" --set seed="$seed" --force --quiet "$@"
    fi
    "$psychrnn" analyze "$out" --trials "$trials" --seed "$seed" --force --quiet $analyze_args
    echo "$paradigm seed $seed: $(grep -o '"final_accuracy": [0-9.]*' "$out/summary.json")"
    seed=$((seed + 1))
done
