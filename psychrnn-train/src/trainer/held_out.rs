//! Scoring a network on fresh trials it was not trained on: the final test, validation checks
//! (curriculum, `performance_cutoff`), and continuous training's carried start states.

use ndarray::Array2;
use psychrnn_core::objective::{BatchView, Chunks, ObjectiveBuffers, ObjectiveValue, evaluate_in_chunks};
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_core::{ParamSet, Result, Task, TrialBatch};

use super::records::Evaluation;
use crate::experiment::Experiment;

/// Scores `params` on a fresh batch of `n_trials` trials of `task` (the experiment's task, or
/// the stage reached by a curriculum: [`Experiment::stage_task`]): held-out evaluation `index`
/// (its trials and noise come from the `TestTrials`/`TestNoise` streams, never seen in training).
/// `start` (continuous training's carried states, see [`continue_from`]) is where the trials
/// start instead of the model's initial state. Every trial's outputs are kept; states and rates
/// only for the first trials that fit in `training.test_states_mb` (what `test_trials.npz`
/// keeps), and a large batch runs in chunks of trials ([`HELD_OUT_CHUNK_BYTES`]), so its
/// memory stays bounded whatever its size.
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
    let states_mb = Some(exp.training.test_states_mb);
    let (batch, value) = held_out_pass(exp, task, params, n_trials, streams, start, states_mb, &mut buffers)?;
    let accuracy = task.accuracy(&batch, buffers.trajectory.outputs.view());
    let loss = f64::from(value.loss);
    let metric = exp.metric.score(task, &batch, buffers.trajectory.outputs.view(), loss);
    if let Some(e) = exp.plugin_failure() {
        return Err(e);
    }
    Ok(Evaluation { batch, trajectory: buffers.trajectory, loss, accuracy, metric })
}

/// The most bytes of states and rates a held-out batch holds at once: larger batches (PyCog's
/// 1,000 validation and 1,100 test trials of a 500-unit network would need 1 GB) run in chunks
/// of trials ([`evaluate_in_chunks`]; the same results as one pass).
pub const HELD_OUT_CHUNK_BYTES: usize = 64 << 20;

/// How many of `n_trials` trials of `n_steps` steps of `n_rec` units have their states kept in
/// `megabytes` (float32; at least one trial, at most all).
pub fn states_kept(n_steps: usize, n_trials: usize, n_rec: usize, megabytes: f64) -> usize {
    let per_trial = (n_steps * n_rec * 4).max(1) as f64;
    ((megabytes * 1e6 / per_trial).floor() as usize).clamp(n_trials.min(1), n_trials)
}

/// A forward pass without gradients on a fresh batch of `n_trials` trials of `task`, its trials
/// and noise drawn from the streams `(trials, noise, index)`, starting from `start` tiled over
/// the batch ([`continue_from`]) or from the model's initial state, keeping the states of the
/// first trials that fit in `states_mb` megabytes ([`states_kept`]; none without). Shared by
/// the final test and the validation checks.
#[expect(clippy::too_many_arguments, reason = "the pass's batch, streams, start and buffers")]
fn held_out_pass(
    exp: &Experiment,
    task: &dyn Task,
    params: &ParamSet<f32>,
    n_trials: usize,
    (trials, noise, index): (Purpose, Purpose, u64),
    start: Option<&Array2<f32>>,
    states_mb: Option<f64>,
    buffers: &mut ObjectiveBuffers<f32>,
) -> Result<(TrialBatch, ObjectiveValue<f32>)> {
    let batch = task.generate_batch(n_trials, &mut stream(exp.seed, trials, index));
    buffers.trajectory.start = start.map(|s| continue_from(s, n_trials));
    let mut noise = Noise::from(stream(exp.seed, noise, index));
    let view = BatchView { inputs: batch.inputs.view(), targets: batch.targets.view(), mask: batch.mask.view() };
    let keep_states = states_mb.map_or(0, |mb| states_kept(batch.n_steps(), n_trials, exp.model.n_rec(), mb));
    let chunks = Chunks { max_bytes: HELD_OUT_CHUNK_BYTES, keep_states };
    let value = evaluate_in_chunks(
        exp.model.as_ref(),
        exp.loss.as_ref(),
        &exp.regularizers,
        params,
        view,
        Some(&mut noise),
        chunks,
        buffers,
    )?;
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
    let (batch, value) = held_out_pass(exp, task, params, n_trials, streams, start, None, buffers)?;
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

#[cfg(test)]
mod tests {
    use super::states_kept;

    #[test]
    fn test_states_are_kept_for_the_trials_that_fit_and_at_least_one() {
        // 100 steps x 50 units x 4 bytes = 20 kB per trial.
        assert_eq!(states_kept(100, 64, 50, 64.0), 64);
        assert_eq!(states_kept(100, 64, 50, 0.1), 5);
        assert_eq!(states_kept(100, 64, 50, 0.0), 1);
        assert_eq!(states_kept(100, 0, 50, 1.0), 0);
        // PyCog's Romo network: 245 steps x 1100 trials x 500 units would be 539 MB.
        assert_eq!(states_kept(245, 1100, 500, 64.0), 130);
    }
}
