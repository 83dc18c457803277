//! Scoring a network on fresh trials it was not trained on: the final test, validation checks
//! (curriculum, `performance_cutoff`), and continuous training's carried start states.

use ndarray::Array2;
use psychrnn_core::objective::{ObjectiveBuffers, ObjectiveValue};
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_core::{ParamSet, Result, Task, TrialBatch};

use super::objective;
use super::records::Evaluation;
use crate::experiment::Experiment;

/// Scores `params` on a fresh batch of `n_trials` trials of `task` (the experiment's task, or
/// the stage reached by a curriculum: [`Experiment::stage_task`]): held-out evaluation `index`
/// (its trials and noise come from the `TestTrials`/`TestNoise` streams, never seen in training).
/// `start` (continuous training's carried states, see [`continue_from`]) is where the trials
/// start instead of the model's initial state.
///
/// # Errors
/// If the model rejects the parameters.
pub fn evaluate(
    exp: &Experiment,
    task: &dyn Task,
    params: &ParamSet<f32>,
    n_trials: usize,
    index: u64,
    start: Option<&Array2<f32>>,
) -> Result<Evaluation> {
    let mut buffers = ObjectiveBuffers::default();
    let streams = (Purpose::TestTrials, Purpose::TestNoise, index);
    let (batch, value) = held_out_pass(exp, task, params, n_trials, streams, start, &mut buffers)?;
    let accuracy = task.accuracy(&batch, buffers.trajectory.outputs.view());
    let loss = f64::from(value.loss);
    let metric = exp.metric.score(task, &batch, buffers.trajectory.outputs.view(), loss);
    if let Some(e) = exp.plugin_failure() {
        return Err(e);
    }
    Ok(Evaluation { batch, trajectory: buffers.trajectory, loss, accuracy, metric })
}

/// A forward pass without gradients on a fresh batch of `n_trials` trials of `task`, its trials
/// and noise drawn from the streams `(trials, noise, index)`, starting from `start` tiled over
/// the batch ([`continue_from`]) or from the model's initial state. Shared by the final test and
/// the validation checks.
fn held_out_pass(
    exp: &Experiment,
    task: &dyn Task,
    params: &ParamSet<f32>,
    n_trials: usize,
    (trials, noise, index): (Purpose, Purpose, u64),
    start: Option<&Array2<f32>>,
    buffers: &mut ObjectiveBuffers<f32>,
) -> Result<(TrialBatch, ObjectiveValue<f32>)> {
    let batch = task.generate_batch(n_trials, &mut stream(exp.seed, trials, index));
    buffers.trajectory.start = start.map(|s| continue_from(s, n_trials));
    let mut noise = Noise::from(stream(exp.seed, noise, index));
    let value = objective(exp, params, &batch, &mut noise, buffers, false)?;
    Ok((batch, value))
}

/// Scores `params` on a fresh validation batch of `n_trials` trials of `task` (the
/// `ValidationTrials`/`ValidationNoise` streams at `iteration`), with the experiment's metric.
pub(super) fn validation_score(
    exp: &Experiment,
    task: &dyn Task,
    params: &ParamSet<f32>,
    iteration: u64,
    n_trials: usize,
    start: Option<&Array2<f32>>,
    buffers: &mut ObjectiveBuffers<f32>,
) -> Result<f64> {
    let streams = (Purpose::ValidationTrials, Purpose::ValidationNoise, iteration);
    let (batch, value) = held_out_pass(exp, task, params, n_trials, streams, start, buffers)?;
    let score = exp.metric.score(task, &batch, buffers.trajectory.outputs.view(), f64::from(value.total()));
    match exp.plugin_failure() {
        Some(e) => Err(e),
        None => Ok(score),
    }
}

/// Start states for `n_trials` trials continuing from the carried `states` `[B, N]` of continuous
/// training: trial `b` starts where training trial `b mod B` ended. Evaluations of a network
/// trained without resets start there, on the trajectory it was trained on, not from the
/// (untrained) initial state.
pub fn continue_from(states: &Array2<f32>, n_trials: usize) -> Array2<f32> {
    let rows = states.nrows().max(1);
    Array2::from_shape_fn((n_trials, states.ncols()), |(b, j)| states[[b % rows, j]])
}
