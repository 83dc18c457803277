//! The training loop (PsychRNN's `RNN.train`): batches, BPTT, freeze masks, clipping, optimizer
//! steps, periodic loss/accuracy logs, and a guard that stops on NaN/Inf keeping the last good
//! parameters.

use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use crate::experiment::Experiment;
use crate::init::InitContext;
use crate::model::Trajectory;
use crate::objective::{BatchView, ObjectiveBuffers, ObjectiveValue, evaluate_objective};
use crate::optim::clip_gradients;
use crate::params::ParamSet;
use crate::rng::{Purpose, Rng, stream};
use crate::task::TrialBatch;

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricsRow {
    /// Number of updates done.
    pub iteration: u64,
    /// Number of training trials seen.
    pub trials: u64,
    /// Loss on the iteration's batch after the update (PsychRNN's logged "Minibatch Loss" is
    /// `loss + regularization`; both parts are kept here).
    pub loss: f64,
    /// Regularisation penalty on that batch.
    pub regularization: f64,
    /// Accuracy on that batch (the task's accuracy function).
    pub accuracy: f64,
    /// Seconds since training started.
    pub wall_seconds: f64,
}

/// Why training stopped.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// All `ceil(training_iters / N_batch)` updates were done.
    TrainingItersReached,
    /// A loss, gradient or parameter became NaN or infinite; the parameters are those before
    /// the failing update.
    NonFinite {
        /// The update that failed.
        iteration: u64,
        /// What was not finite.
        what: String,
    },
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::TrainingItersReached => write!(f, "training_iters reached"),
            StopReason::NonFinite { iteration, what } => write!(
                f,
                "stopped at update {iteration}: {what} became NaN or infinite; kept the parameters of update {}",
                iteration - 1
            ),
        }
    }
}

/// Hooks called by [`train`], in this order: `on_start`, then `on_update` after every update
/// (and `on_log` every `loss_epoch` updates), then `on_end`.
pub trait TrainingObserver {
    /// Before the first update.
    fn on_start(&mut self, total_updates: u64) {
        let _ = total_updates;
    }
    /// After each update.
    fn on_update(&mut self, iteration: u64) {
        let _ = iteration;
    }
    /// Every `loss_epoch` updates, with the logged metrics.
    fn on_log(&mut self, row: &MetricsRow) {
        let _ = row;
    }
    /// After training, with the reason it stopped.
    fn on_end(&mut self, reason: &StopReason) {
        let _ = reason;
    }
}

/// An observer that does nothing.
pub struct Silent;
impl TrainingObserver for Silent {}

/// The result of [`train`].
#[derive(Clone, Debug)]
pub struct TrainingOutcome {
    /// Final raw parameters.
    pub params: ParamSet<f32>,
    /// The logged rows.
    pub metrics: Vec<MetricsRow>,
    /// Why training stopped.
    pub stop: StopReason,
    /// Updates done.
    pub iterations: u64,
    /// Trials seen.
    pub trials: u64,
    /// Seconds spent building and initialising.
    pub init_seconds: f64,
    /// Seconds spent in the training loop.
    pub training_seconds: f64,
}

/// The network's behaviour on a fresh batch.
pub struct Evaluation {
    /// The batch.
    pub batch: TrialBatch,
    /// The forward pass.
    pub trajectory: Trajectory<f32>,
    /// The loss.
    pub loss: f64,
    /// The task's accuracy.
    pub accuracy: f64,
}

/// The objective (loss and regularisers) of `exp` on `batch`, with noise from `noise`.
fn objective(
    exp: &Experiment,
    params: &ParamSet<f32>,
    batch: &TrialBatch,
    noise: &mut Rng,
    buffers: &mut ObjectiveBuffers<f32>,
    with_gradient: bool,
) -> Result<ObjectiveValue<f32>> {
    let view = BatchView { inputs: batch.inputs.view(), targets: batch.targets.view(), mask: batch.mask.view() };
    evaluate_objective(
        exp.model.as_ref(),
        exp.loss.as_ref(),
        &exp.regularizers,
        params,
        view,
        Some(noise),
        buffers,
        with_gradient,
    )
}

/// Draws the initial parameters of `exp` (stream `Init` of the seed).
///
/// # Errors
/// If the initialiser fails or returns tensors that do not fit the model.
pub fn initial_params(exp: &Experiment) -> Result<ParamSet<f32>> {
    let specs = exp.model.param_specs();
    let ctx = InitContext { specs, dale_ratio: exp.model.dale_ratio() };
    let params = exp
        .initializer
        .initialize(&ctx, &mut stream(exp.seed, Purpose::Init, 0))
        .map_err(|e| e.in_section("initializer"))?;
    params.check_against(specs).map_err(|e| e.in_section("initializer"))?;
    Ok(params)
}

/// Scores `params` on a fresh batch of `n_trials` trials: held-out evaluation `index` (its trials
/// and noise come from the `TestTrials`/`TestNoise` streams, never seen in training).
///
/// # Errors
/// If the model rejects the parameters.
pub fn evaluate(exp: &Experiment, params: &ParamSet<f32>, n_trials: usize, index: u64) -> Result<Evaluation> {
    let batch = exp.task.generate_batch(n_trials, &mut stream(exp.seed, Purpose::TestTrials, index));
    let mut buffers = ObjectiveBuffers::default();
    let mut noise = stream(exp.seed, Purpose::TestNoise, index);
    let value = objective(exp, params, &batch, &mut noise, &mut buffers, false)?;
    let accuracy = exp.task.accuracy(&batch, buffers.trajectory.outputs.view());
    Ok(Evaluation { batch, trajectory: buffers.trajectory, loss: f64::from(value.loss), accuracy })
}

/// Trains `exp` from its initialiser's parameters.
///
/// # Errors
/// If initialisation fails or the model rejects its inputs. A NaN/Inf during training is not an
/// error: training stops with [`StopReason::NonFinite`] and the last good parameters.
pub fn train(exp: &mut Experiment, observer: &mut dyn TrainingObserver) -> Result<TrainingOutcome> {
    let start = Instant::now();
    let mut params = initial_params(exp)?;
    let trainable: Vec<String> =
        exp.model.param_specs().iter().filter(|s| s.trainable).map(|s| s.name.clone()).collect();
    let n_batch = exp.task.timing().n_batch;
    let n_updates = exp.training.n_updates(n_batch);
    let mut buffers = ObjectiveBuffers::default();
    let mut eval_buffers = ObjectiveBuffers::default();
    let mut backup = params.clone();
    let mut metrics = Vec::new();
    let mut stop = StopReason::TrainingItersReached;
    let mut done = 0;
    let init_seconds = start.elapsed().as_secs_f64();
    let loop_start = Instant::now();
    observer.on_start(n_updates);

    for it in 1..=n_updates {
        let batch = exp.task.generate_batch(n_batch, &mut stream(exp.seed, Purpose::TrainTrials, it));
        let mut noise = stream(exp.seed, Purpose::TrainNoise, it);
        let value = objective(exp, &params, &batch, &mut noise, &mut buffers, true)?;
        let non_finite = if !value.total().is_finite() {
            Some("the loss".to_string())
        } else {
            buffers.grads.first_non_finite().map(|n| format!("the gradient of {n}"))
        };
        if let Some(what) = non_finite {
            stop = StopReason::NonFinite { iteration: it, what };
            break;
        }
        let grads = &mut buffers.grads;
        for (name, mask) in exp.fixed_weights.iter() {
            grads.require_mut(name)?.zip_mut_with(mask, |g, m| *g *= 1.0 - m);
        }
        if exp.training.clip_grads {
            clip_gradients(grads, &trainable, exp.training.clip_mode, exp.training.clip_norm);
        }
        backup.clone_from(&params);
        exp.optimizer.begin_step();
        for name in &trainable {
            let g = grads.require(name)?;
            exp.optimizer.update(name, params.require_mut(name)?, g);
        }
        if let Some(name) = params.first_non_finite() {
            stop = StopReason::NonFinite { iteration: it, what: format!("parameter {name} after the update") };
            params = backup;
            break;
        }
        done = it;
        observer.on_update(it);

        if it % exp.training.loss_epoch == 0 {
            let mut eval_noise = stream(exp.seed, Purpose::EvalNoise, it);
            let value = objective(exp, &params, &batch, &mut eval_noise, &mut eval_buffers, false)?;
            let row = MetricsRow {
                iteration: it,
                trials: it * n_batch as u64,
                loss: f64::from(value.loss),
                regularization: f64::from(value.regularization),
                accuracy: exp.task.accuracy(&batch, eval_buffers.trajectory.outputs.view()),
                wall_seconds: loop_start.elapsed().as_secs_f64(),
            };
            observer.on_log(&row);
            metrics.push(row);
        }
    }
    observer.on_end(&stop);
    Ok(TrainingOutcome {
        params,
        metrics,
        stop,
        iterations: done,
        trials: done * n_batch as u64,
        init_seconds,
        training_seconds: loop_start.elapsed().as_secs_f64(),
    })
}
