"""PsychRNN's "Define a New Model" (docs/notebooks/NewModel.ipynb) with psychrnn_rs: PsychRNN's
`Basic_with_Feedforward` (a feed-forward ReLU layer, 32 units, in front of the recurrent network)
trained on perceptual discrimination, tested, and plotted.

What does not carry over, and why: in PsychRNN a new model is a Python subclass of `RNN` whose
`recurrent_timestep`, `output_timestep` and `forward_pass` build a TensorFlow graph, and
TensorFlow differentiates it. psychrnn has no TensorFlow: a model is Rust code implementing the
`Model` trait, forward pass and hand-written backpropagation through time, checked against
finite differences (`psychrnn_core::testing::check_gradients`). PsychRNN's model is written so in
`examples/new_model/src/lib.rs` (model type `feedforward_rnn`) and built as a plugin library;
from Python it is trained by naming the library and the model in a manifest, and the run is
read back as NumPy arrays. Build the library first:

    cargo build --release -p psychrnn-example-new-model

(it is then in target/release/, or under $CARGO_TARGET_DIR; or set PSYCHRNN_NEW_MODEL_LIB to the
library's path).
"""
import os
import pathlib

from matplotlib import pyplot as plt

import psychrnn_rs
from psychrnn_rs.tasks.perceptual_discrimination import PerceptualDiscrimination

REPO = pathlib.Path(__file__).resolve().parents[2]
target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
library = os.environ.get("PSYCHRNN_NEW_MODEL_LIB", str(target / "release" / "libpsychrnn_example_new_model.so"))
if not os.path.isfile(library):
    raise SystemExit(f"{library} is missing: build it with `cargo build --release -p psychrnn-example-new-model`")

# ---------------------- Set up the task and the new model ---------------------------
pd = PerceptualDiscrimination(dt = 10, tau = 100, T = 2000, N_batch = 128)
manifest = {
    "name": "feedforward_model",
    "plugins": {"paths": [library]},          # the library that defines `feedforward_rnn`
    "task": pd._psychrnn_table(),             # PsychRNN's task, as a manifest's [task]
    "model": {"type": "feedforward_rnn", "N_rec": 50, "N_feedforward": 32},
    "training": {"training_iters": 50000, "verbosity": False},
}

# ---------------------- Train the new model ---------------------------
run = psychrnn_rs.train_manifest(manifest, out = "runs/feedforward_model", force = True)
print("test accuracy:", run.summary["final_accuracy"])
print("weights:", sorted(run.weights))        # W_in_first and b_first beside the RNN's weights

# ---------------------- Test the trained model ---------------------------
x, target_output, mask, trial_params = pd.get_trial_batch()
model_output = run.test_trials["outputs"]     # the run's fresh test trials, [trials, time, N_out]

# ---------------------- Plot the results ---------------------------
plt.plot(model_output[0])
