//! The run directory: what a training run leaves for the scientist.
//!
//! ```text
//! manifest.lock.toml   the resolved experiment (every default written; train it to replay)
//! weights.npz          effective weights under PsychRNN's keys (numpy.load-able)
//! metrics.csv          iteration, trials, loss, regularization, accuracy, stage, wall_seconds
//! summary.json         stop reason, final test accuracy and loss, timings, versions
//! test_trials.npz      the final test batch: x, y, mask, outputs, states ([B, T, N], PsychRNN's layout)
//! test_trials.json     the conditions of each test trial
//! ```

use std::fmt::Write as _;
use std::path::Path;

use ndarray::Array3;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::experiment::Experiment;
use crate::npz::{NpyArray, write_atomically, write_npz};
use crate::trainer::{Evaluation, StopReason, TrainingOutcome};

/// The content of `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Run name.
    pub name: String,
    /// Master seed.
    pub seed: u64,
    /// Why training stopped (machine-readable).
    pub stop_reason: StopReason,
    /// Why training stopped (for people).
    pub stop_message: String,
    /// Updates done.
    pub iterations: u64,
    /// Training trials seen.
    pub trials: u64,
    /// Accuracy on a fresh test batch (the task's accuracy function).
    pub final_accuracy: f64,
    /// Loss on that batch.
    pub final_loss: f64,
    /// Trials in the test batch.
    pub test_trials: usize,
    /// Seconds spent building and initialising.
    pub init_seconds: f64,
    /// Seconds spent training.
    pub training_seconds: f64,
    /// psychrnn version.
    pub psychrnn_version: String,
}

/// `[T, B, N]` (time-major, internal) to `[B, T, N]` (PsychRNN's layout).
fn batch_major(name: &str, a: &Array3<f32>) -> NpyArray {
    let v = a.view().permuted_axes([1, 0, 2]);
    NpyArray::f32(name, v.shape(), v.iter().copied().collect())
}

/// Creates `dir` and writes every file of the run into it.
///
/// # Errors
/// [`Error::Write`] naming the file that could not be written.
pub fn write_run(dir: &Path, exp: &Experiment, outcome: &TrainingOutcome, test: &Evaluation) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;

    let lock = exp.lock_manifest().to_toml()?;
    let header =
        "# Resolved by psychrnn: every default is written out. `psychrnn train` on this file replays the run.\n";
    write_atomically(&dir.join("manifest.lock.toml"), format!("{header}{lock}").as_bytes())?;

    write_npz(&dir.join("weights.npz"), &exp.model.export(&outcome.params)?)?;

    let mut csv = String::from("iteration,trials,loss,regularization,accuracy,stage,wall_seconds\n");
    for r in &outcome.metrics {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},0,{:.3}",
            r.iteration, r.trials, r.loss, r.regularization, r.accuracy, r.wall_seconds
        );
    }
    write_atomically(&dir.join("metrics.csv"), csv.as_bytes())?;

    let t = &test.trajectory;
    write_npz(
        &dir.join("test_trials.npz"),
        &[
            batch_major("x", &test.batch.inputs),
            batch_major("y", &test.batch.targets),
            batch_major("mask", &test.batch.mask),
            batch_major("outputs", &t.outputs),
            batch_major("states", &t.states),
        ],
    )?;
    let params = serde_json::to_string_pretty(&test.batch.trial_params)
        .map_err(|e| Error::invalid("test_trials.json", e.to_string()))?;
    write_atomically(&dir.join("test_trials.json"), params.as_bytes())?;

    let summary = RunSummary {
        name: exp.name.clone(),
        seed: exp.seed,
        stop_message: outcome.stop.to_string(),
        stop_reason: outcome.stop.clone(),
        iterations: outcome.iterations,
        trials: outcome.trials,
        final_accuracy: test.accuracy,
        final_loss: test.loss,
        test_trials: test.batch.n_trials(),
        init_seconds: outcome.init_seconds,
        training_seconds: outcome.training_seconds,
        psychrnn_version: crate::VERSION.to_string(),
    };
    let json = serde_json::to_string_pretty(&summary).map_err(|e| Error::invalid("summary.json", e.to_string()))?;
    write_atomically(&dir.join("summary.json"), json.as_bytes())
}
