//! The training loop (PsychRNN's `RNN.train`): batches, BPTT, freeze masks, clipping, optimizer
//! steps, periodic loss/accuracy logs, and a guard that stops on NaN/Inf keeping the last good
//! parameters.

use std::time::Instant;

use serde::Serialize;

use crate::experiment::Experiment;
use psychrnn_core::error::{Error, Result};
use psychrnn_core::init::InitContext;
use psychrnn_core::model::Trajectory;
use psychrnn_core::npz::NpyArray;
use psychrnn_core::objective::{BatchView, ObjectiveBuffers, ObjectiveValue, evaluate_objective};
use psychrnn_core::optim::clip_gradients;
use psychrnn_core::params::ParamSet;
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_core::task::TrialBatch;

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
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
    /// Curriculum stage (0 without a curriculum).
    pub stage: usize,
    /// Seconds since training started.
    pub wall_seconds: f64,
}

/// One curriculum check: the metric of a stage on a fresh batch.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct MetricRecord {
    /// The update after which it was measured.
    pub iteration: u64,
    /// Training trials seen by then.
    pub trials: u64,
    /// The stage being trained.
    pub stage: usize,
    /// The metric's value.
    pub value: f64,
}

/// Everything needed to continue a run exactly: what a checkpoint holds. Random streams need no
/// saved state: they are addressed by the seed and the update number.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    /// Updates done.
    pub iteration: u64,
    /// Trials seen.
    pub trials: u64,
    /// Curriculum stage.
    pub stage: usize,
    /// Raw parameters.
    pub params: ParamSet<f32>,
    /// The optimizer's state.
    pub optimizer: psychrnn_core::optim::OptimizerState,
    /// Logged rows so far.
    pub metrics: Vec<MetricsRow>,
    /// Curriculum checks (or, without a curriculum, `performance_cutoff` checks) so far.
    pub metric_history: Vec<MetricRecord>,
    /// Continuous training: the states `[N_batch, N_rec]` the next update's trials start from.
    pub carry: Option<ndarray::Array2<f32>>,
}

/// Why training stopped.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopReason {
    /// All `ceil(training_iters / N_batch)` updates were done.
    TrainingItersReached,
    /// The metric on a fresh batch passed `performance_cutoff`.
    PerformanceCutoff {
        /// The update after which it was measured.
        iteration: u64,
        /// The metric's value.
        value: f64,
    },
    /// The user asked to stop (Ctrl-C); a checkpoint of this update was written.
    Interrupted {
        /// The last update done.
        iteration: u64,
    },
    /// The last curriculum stage passed its threshold.
    CurriculumComplete {
        /// The update after which it was measured.
        iteration: u64,
    },
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
            StopReason::PerformanceCutoff { iteration, value } => {
                write!(f, "performance_cutoff passed at update {iteration} (metric {value})")
            }
            StopReason::Interrupted { iteration } => {
                write!(f, "interrupted after update {iteration} (checkpoint written)")
            }
            StopReason::CurriculumComplete { iteration } => {
                write!(f, "curriculum complete: the last stage passed its threshold at update {iteration}")
            }
            StopReason::NonFinite { iteration, what } => write!(
                f,
                "stopped at update {iteration}: {what} became NaN or infinite; kept the parameters of update {}",
                iteration - 1
            ),
        }
    }
}

/// Hooks called by [`train`], in this order: `on_start`, then `on_update` after every update
/// (with `on_log`, `on_weights` and `on_metric` at their epochs), then `on_end`.
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
    /// Every `save_training_weights_epoch` updates, with the weight-file arrays to keep.
    ///
    /// # Errors
    /// If they cannot be kept; training stops with that error.
    fn on_weights(&mut self, iteration: u64, arrays: &[NpyArray]) -> Result<()> {
        let _ = (iteration, arrays);
        Ok(())
    }
    /// After each curriculum check.
    fn on_metric(&mut self, record: &MetricRecord) {
        let _ = record;
    }
    /// Every `checkpoint_epoch` updates and when stopping on request, with everything needed
    /// to resume.
    ///
    /// # Errors
    /// If the checkpoint cannot be kept; training stops with that error.
    fn on_checkpoint(&mut self, state: &TrainingState) -> Result<()> {
        let _ = state;
        Ok(())
    }
    /// Asked after every update: `true` stops training (after a checkpoint), e.g. on Ctrl-C.
    fn should_stop(&self) -> bool {
        false
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
    /// The curriculum checks.
    pub metric_history: Vec<MetricRecord>,
    /// Why training stopped.
    pub stop: StopReason,
    /// Updates done.
    pub iterations: u64,
    /// Trials seen.
    pub trials: u64,
    /// The curriculum stage reached (= number of stages when complete; 0 without curriculum).
    pub stage: usize,
    /// Seconds spent building and initialising.
    pub init_seconds: f64,
    /// Seconds spent in the training loop.
    pub training_seconds: f64,
    /// In continuous training, where the next trials would start (the final states of the last
    /// batch, `[N_batch, N_rec]`).
    pub carry: Option<ndarray::Array2<f32>>,
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
    noise: &mut Noise,
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
    task: &dyn psychrnn_core::task::Task,
    params: &ParamSet<f32>,
    n_trials: usize,
    index: u64,
    start: Option<&ndarray::Array2<f32>>,
) -> Result<Evaluation> {
    let mut buffers = ObjectiveBuffers::default();
    let streams = (Purpose::TestTrials, Purpose::TestNoise, index);
    let (batch, value) = held_out_pass(exp, task, params, n_trials, streams, start, &mut buffers)?;
    let accuracy = task.accuracy(&batch, buffers.trajectory.outputs.view());
    if let Some(e) = exp.plugin_failure() {
        return Err(e);
    }
    Ok(Evaluation { batch, trajectory: buffers.trajectory, loss: f64::from(value.loss), accuracy })
}

/// A forward pass without gradients on a fresh batch of `n_trials` trials of `task`, its trials
/// and noise drawn from the streams `(trials, noise, index)`, starting from `start` tiled over
/// the batch ([`continue_from`]) or from the model's initial state. Shared by the final test and
/// the validation checks.
fn held_out_pass(
    exp: &Experiment,
    task: &dyn psychrnn_core::task::Task,
    params: &ParamSet<f32>,
    n_trials: usize,
    (trials, noise, index): (Purpose, Purpose, u64),
    start: Option<&ndarray::Array2<f32>>,
    buffers: &mut ObjectiveBuffers<f32>,
) -> Result<(TrialBatch, ObjectiveValue<f32>)> {
    let batch = task.generate_batch(n_trials, &mut stream(exp.seed, trials, index));
    buffers.trajectory.start = start.map(|s| continue_from(s, n_trials));
    let mut noise = Noise::from(stream(exp.seed, noise, index));
    let value = objective(exp, params, &batch, &mut noise, buffers, false)?;
    Ok((batch, value))
}

/// The trials and recurrent noise source of training update `it` (the trials can be generated
/// on another core; the noise is drawn during the forward pass, by each half of the batch).
fn prepare(task: &dyn psychrnn_core::task::Task, seed: u64, it: u64) -> (TrialBatch, Noise) {
    let batch = task.generate_batch(task.timing().n_batch, &mut stream(seed, Purpose::TrainTrials, it));
    (batch, Noise::from(stream(seed, Purpose::TrainNoise, it)))
}

/// Scores `params` on a fresh validation batch of `n_trials` trials of `task` (the
/// `ValidationTrials`/`ValidationNoise` streams at `iteration`), with the experiment's metric.
fn validation_score(
    exp: &Experiment,
    task: &dyn psychrnn_core::task::Task,
    params: &ParamSet<f32>,
    iteration: u64,
    n_trials: usize,
    start: Option<&ndarray::Array2<f32>>,
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
pub fn continue_from(states: &ndarray::Array2<f32>, n_trials: usize) -> ndarray::Array2<f32> {
    let rows = states.nrows().max(1);
    ndarray::Array2::from_shape_fn((n_trials, states.ncols()), |(b, j)| states[[b % rows, j]])
}

/// The states where each trial of the last forward pass ended (at its own last step), `[B, N]`:
/// where the next trials start in continuous training.
fn final_states(traj: &Trajectory<f32>, batch: &TrialBatch) -> ndarray::Array2<f32> {
    let (_, n_trials, n) = traj.states.dim();
    ndarray::Array2::from_shape_fn((n_trials, n), |(b, j)| traj.states[[batch.last_step(b), b, j]])
}

/// PyCog's safeguard (see [`psychrnn_core::TrainingConfig::gradient_safeguard`]): when the loss or the
/// global gradient norm is not finite or above 1e10, the recurrent weights' gradient becomes
/// `0.02 W_rec` and every other gradient 0. Returns whether it acted.
fn safeguard(
    exp: &Experiment,
    params: &ParamSet<f32>,
    grads: &mut ParamSet<f32>,
    trainable: &[String],
    loss: f32,
) -> Result<bool> {
    let norm = psychrnn_core::optim::global_norm(grads, trainable);
    if loss.is_finite() && norm.is_finite() && norm <= 1e10 {
        return Ok(false);
    }
    for spec in exp.model.param_specs().iter().filter(|s| s.trainable) {
        let g = grads.require_mut(&spec.name)?;
        if spec.role == psychrnn_core::params::ParamRole::RecurrentWeights {
            g.assign(&(params.require(&spec.name)? * 0.02));
        } else {
            g.fill(0.0);
        }
    }
    Ok(true)
}

/// Whether `value` passes `threshold` in the metric's better direction.
fn passes(exp: &Experiment, value: f64, threshold: f64) -> bool {
    if exp.metric.higher_is_better() { value >= threshold } else { value <= threshold }
}

/// Trains `exp` from its initialiser's parameters.
///
/// # Errors
/// If initialisation fails, the model rejects its inputs, or an observer fails (e.g. cannot write
/// periodic weights). A NaN/Inf during training is not an error: training stops with
/// [`StopReason::NonFinite`] and the last good parameters.
pub fn train(exp: &mut Experiment, observer: &mut dyn TrainingObserver) -> Result<TrainingOutcome> {
    train_from(exp, None, observer)
}

/// Trains `exp`, from its initialiser's parameters or, given a checkpoint's [`TrainingState`],
/// from where that run stopped: every random draw depends only on the seed and the update
/// number, so a resumed run ends with the same bits as one never interrupted.
///
/// # Errors
/// As [`train`], or if the state does not fit the experiment.
pub fn train_from(
    exp: &mut Experiment,
    resume: Option<TrainingState>,
    observer: &mut dyn TrainingObserver,
) -> Result<TrainingOutcome> {
    let start = Instant::now();
    // Denormals cost ~100 cycles per operation; saturating units make them constantly.
    psychrnn_linalg::flush_denormals_to_zero();
    psychrnn_linalg::set_threads(exp.training.threads);
    let trainable: Vec<String> =
        exp.model.param_specs().iter().filter(|s| s.trainable).map(|s| s.name.clone()).collect();
    let n_updates = exp.training.n_updates(exp.task.timing().n_batch);
    let (mut params, mut metrics, mut metric_history, first, mut trials, mut stage, mut carry) = match resume {
        None => (initial_params(exp)?, Vec::new(), Vec::new(), 1, 0, 0, None),
        Some(state) => {
            state.params.check_against(exp.model.param_specs()).map_err(|e| e.in_section("checkpoint"))?;
            exp.optimizer.load_state(&state.optimizer).map_err(|e| e.in_section("checkpoint"))?;
            let next = state.iteration + 1;
            (state.params, state.metrics, state.metric_history, next, state.trials, state.stage, state.carry)
        }
    };
    let mut buffers = ObjectiveBuffers::default();
    buffers.omega = exp.training.omega.as_ref().map(|o| psychrnn_core::OmegaRequest {
        lambda: o.lambda,
        bound: o.bound,
        value: None,
    });
    let validation_size = exp.training.validation_batch_size.unwrap_or(exp.task.timing().n_batch);
    let mut eval_buffers = ObjectiveBuffers::default();
    let mut backup = params.clone();
    let mut stop = StopReason::TrainingItersReached;
    let mut done = first - 1;
    let init_seconds = start.elapsed().as_secs_f64();
    let loop_start = Instant::now();
    observer.on_start(n_updates);

    // A helper thread prepares update k+1's trials while update k computes; every draw
    // is addressed by (seed, update), so this changes no bit of the result. The stage is a guess
    // (a curriculum may advance); a batch prepared for the wrong stage is redrawn here.
    // The loop shares the experiment with the helper thread, so the optimizer (the one part it
    // mutates) is detached from it meanwhile and put back afterwards, whatever the outcome.
    let mut detached = std::mem::replace(&mut exp.optimizer, Box::new(Detached));
    let outcome = {
        let optimizer = &mut detached;
        let exp: &Experiment = exp;
        let (task, stages, seed) = (exp.task.as_ref(), exp.stages.as_slice(), exp.seed);
        std::thread::scope(|scope| -> Result<TrainingOutcome> {
            let prefetch = exp.training.threads > 1;
            let (request, requests) = std::sync::mpsc::channel::<(u64, usize)>();
            let (deliver, delivered) = std::sync::mpsc::sync_channel::<(u64, usize, TrialBatch, Noise)>(1);
            scope.spawn(move || {
                for (it, stage) in requests {
                    let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        prepare(crate::experiment::stage_task(task, stages, stage), seed, it)
                    }));
                    let Ok((batch, noise)) = prepared else { break };
                    if deliver.send((it, stage, batch, noise)).is_err() {
                        break;
                    }
                }
            });
            let _ = request.send((first, stage));
            for it in first..=n_updates {
                let (batch, mut noise) = match if prefetch { delivered.recv().ok() } else { None } {
                    Some((got, got_stage, batch, noise)) if got == it && got_stage == stage => (batch, noise),
                    _ => prepare(exp.stage_task(stage), exp.seed, it),
                };
                if it < n_updates {
                    let _ = request.send((it + 1, stage));
                }
                if exp.training.continuous {
                    buffers.trajectory.start = carry.take();
                }
                let value = objective(exp, &params, &batch, &mut noise, &mut buffers, true)?;
                if let Some(e) = exp.plugin_failure() {
                    return Err(e);
                }
                let guarded = exp.training.gradient_safeguard
                    && safeguard(exp, &params, &mut buffers.grads, &trainable, value.total())?;
                let non_finite = if guarded {
                    None
                } else if !value.total().is_finite() {
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
                optimizer.begin_step();
                for name in &trainable {
                    let g = grads.require(name)?;
                    optimizer.update(name, params.require_mut(name)?, g);
                }
                // Only the (detached) optimizer ran since the last plugin check.
                if let Some(message) = optimizer.failure() {
                    return Err(Error::Plugin { source_name: "optimizer".into(), message });
                }
                if let Some(name) = params.first_non_finite() {
                    stop = StopReason::NonFinite { iteration: it, what: format!("parameter {name} after the update") };
                    params = backup;
                    break;
                }
                done = it;
                trials += batch.n_trials() as u64;
                if exp.training.continuous {
                    carry = Some(final_states(&buffers.trajectory, &batch));
                }
                let task = exp.stage_task(stage);
                observer.on_update(it);

                if it % exp.training.loss_epoch == 0 {
                    let mut eval_noise = Noise::from(stream(exp.seed, Purpose::EvalNoise, it));
                    // The batch starts where training started it (continuous mode) or at x0.
                    eval_buffers.trajectory.start.clone_from(&buffers.trajectory.start);
                    let value = objective(exp, &params, &batch, &mut eval_noise, &mut eval_buffers, false)?;
                    let row = MetricsRow {
                        iteration: it,
                        trials,
                        loss: f64::from(value.loss),
                        regularization: f64::from(value.regularization),
                        accuracy: task.accuracy(&batch, eval_buffers.trajectory.outputs.view()),
                        stage,
                        wall_seconds: loop_start.elapsed().as_secs_f64(),
                    };
                    observer.on_log(&row);
                    metrics.push(row);
                }
                if let Some(every) = exp.training.save_training_weights_epoch
                    && it % every == 0
                {
                    observer.on_weights(it, &exp.model.export(&params)?)?;
                }
                let checkpoint_due = exp.training.checkpoint_epoch > 0 && it % exp.training.checkpoint_epoch == 0;
                let interrupted = observer.should_stop();
                if checkpoint_due || interrupted {
                    let state = TrainingState {
                        iteration: it,
                        trials,
                        stage,
                        params: params.clone(),
                        optimizer: optimizer.state(),
                        metrics: metrics.clone(),
                        metric_history: metric_history.clone(),
                        carry: carry.clone(),
                    };
                    observer.on_checkpoint(&state)?;
                }
                if interrupted {
                    stop = StopReason::Interrupted { iteration: it };
                    break;
                }
                if let Some(curriculum) = &exp.curriculum
                    && it % curriculum.metric_epoch == 0
                {
                    let value = validation_score(
                        exp,
                        task,
                        &params,
                        it,
                        task.timing().n_batch,
                        carry.as_ref(),
                        &mut eval_buffers,
                    )?;
                    let record = MetricRecord { iteration: it, trials, stage, value };
                    observer.on_metric(&record);
                    metric_history.push(record);
                    if passes(exp, value, exp.stages[stage].threshold) {
                        stage += 1;
                        if stage == exp.stages.len() {
                            stop = StopReason::CurriculumComplete { iteration: it };
                            break;
                        }
                    }
                }
                if let Some(cutoff) = exp.training.performance_cutoff
                    && it % exp.training.performance_epoch == 0
                {
                    let score =
                        validation_score(exp, task, &params, it, validation_size, carry.as_ref(), &mut eval_buffers)?;
                    // Without a curriculum the checks are kept (validation.csv) and PyCog's
                    // stopping rule reads the mean of the last `performance_window` of them.
                    let value = if exp.curriculum.is_none() {
                        let record = MetricRecord { iteration: it, trials, stage, value: score };
                        observer.on_metric(&record);
                        metric_history.push(record);
                        let window = exp.training.performance_window.min(metric_history.len());
                        let recent = &metric_history[metric_history.len() - window..];
                        recent.iter().map(|r| r.value).sum::<f64>() / window as f64
                    } else {
                        score
                    };
                    if passes(exp, value, cutoff) {
                        stop = StopReason::PerformanceCutoff { iteration: it, value };
                        break;
                    }
                }
            }
            drop(request);
            observer.on_end(&stop);
            Ok(TrainingOutcome {
                params,
                metrics,
                metric_history,
                stop,
                iterations: done,
                trials,
                stage,
                init_seconds,
                training_seconds: loop_start.elapsed().as_secs_f64(),
                carry,
            })
        })
    };
    exp.optimizer = detached;
    outcome
}

/// Stands in for the experiment's optimizer while the training loop holds it.
struct Detached;

impl psychrnn_core::Optimizer for Detached {
    fn config(&self) -> toml::Table {
        toml::Table::new()
    }
    fn update(&mut self, _: &str, _: &mut ndarray::Array2<f32>, _: &ndarray::Array2<f32>) {}
}
