//! The training loop (PsychRNN's `RNN.train`) as a [`Trainer`]: one state, and named steps over
//! it that a caller can also drive one by one.
//!
//! - [`Trainer::update`]: one BPTT update on a batch (the task's next one, or the caller's):
//!   objective and gradient, PyCog's safeguard, the NaN guard, freeze masks, clipping, the
//!   optimizer step; it reports the loss, the gradient norms and what acted ([`UpdateReport`]).
//! - After each update [`Trainer::run`] takes the periodic steps in this order: log the loss
//!   ([`Trainer::log`]), keep periodic weights, write a checkpoint, check the curriculum
//!   ([`Trainer::check_curriculum`]) and the performance cutoff ([`Trainer::check_cutoff`]).
//!   What happens around them (progress, files, Ctrl-C) is a [`TrainingObserver`].
//!
//! Every random draw is addressed by (seed, update number), so a run resumed from a
//! [`TrainingState`] ends with the same bits as one never interrupted.

mod held_out;
mod observer;
mod records;

use std::time::Instant;

use ndarray::{Array2, ArrayView3};
use psychrnn_core::objective::{BatchView, ObjectiveBuffers, ObjectiveValue, evaluate_objective};
use psychrnn_core::optim::{clip_gradients, global_norm};
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_core::{InitContext, Optimizer, ParamRole, ParamSet, Result, Task, Trajectory, TrialBatch};
use psychrnn_linalg::ComputeScope;

use crate::experiment::Experiment;

use held_out::validation_score;
pub use held_out::{HELD_OUT_CHUNK_BYTES, continue_from, evaluate, states_kept};
pub use observer::{Observers, Silent, TrainingObserver};
pub use records::{Evaluation, MetricRecord, MetricsRow, StopReason, TrainingOutcome, TrainingState};

/// What one update did ([`Trainer::update`]).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateReport {
    /// The update's number (1 for the first).
    pub iteration: u64,
    /// The loss on the batch, before the update (the value the gradient is of).
    pub loss: f64,
    /// The regularisers' penalty on the batch, before the update.
    pub regularization: f64,
    /// The global L2 norm of the trainable parameters' gradient, after the freeze masks and
    /// before clipping.
    pub gradient_norm: f64,
    /// The L2 norm of each trainable tensor's gradient, likewise, in the model's order.
    pub gradient_norms: Vec<(String, f64)>,
    /// Whether clipping scaled the gradient down.
    pub clipped: bool,
    /// Whether PyCog's safeguard replaced a non-finite or huge gradient.
    pub safeguarded: bool,
    /// `Some(what)` when the NaN guard refused the update (a non-finite loss, gradient or new
    /// parameter): the parameters are those from before it and the update does not count.
    pub rejected: Option<String>,
}

/// One training run in progress over an [`Experiment`] (see the module docs).
pub struct Trainer<'e> {
    exp: &'e Experiment,
    optimizer: Box<dyn Optimizer>,
    trainable: Vec<String>,
    n_updates: u64,
    iteration: u64,
    trials: u64,
    stage: usize,
    params: ParamSet<f32>,
    metrics: Vec<MetricsRow>,
    metric_history: Vec<MetricRecord>,
    carry: Option<Array2<f32>>,
    /// The last update's batch, for the loss log.
    last_batch: Option<TrialBatch>,
    buffers: ObjectiveBuffers<f32>,
    eval_buffers: ObjectiveBuffers<f32>,
    backup: ParamSet<f32>,
    init_seconds: f64,
    clock: Instant,
}

impl<'e> Trainer<'e> {
    /// A trainer at update 0 with the initialiser's parameters ([`initial_params`]).
    ///
    /// # Errors
    /// If the initialiser fails or the optimizer cannot be built.
    ///
    /// # Example
    /// ```
    /// use psychrnn_train::{Experiment, Trainer};
    /// let registry = psychrnn_plugins::registry()?;
    /// let exp = Experiment::from_toml(psychrnn_train::experiment::EXAMPLE, &registry)?;
    /// let mut trainer = Trainer::new(&exp)?;
    /// let report = trainer.update_next()?; // the task's next batch
    /// assert_eq!((report.iteration, trainer.iteration()), (1, 1));
    /// assert!(report.loss > 0.0 && report.gradient_norm > 0.0 && report.rejected.is_none());
    /// // Or a batch of one's own, e.g. 4 trials of the task (or built from NumPy arrays).
    /// let batch = exp.task.generate_batch(4, &mut psychrnn_core::rng::stream(9, psychrnn_core::Purpose::User, 0));
    /// let report = trainer.update(&batch)?;
    /// assert_eq!(report.iteration, 2);
    /// # Ok::<(), psychrnn_core::Error>(())
    /// ```
    pub fn new(exp: &'e Experiment) -> Result<Self> {
        let start = Instant::now();
        let params = initial_params(exp)?;
        Self::assemble(exp, params, start)
    }

    /// A trainer at update 0 starting from the raw parameters `params` (checked against the
    /// model's tensors).
    ///
    /// # Errors
    /// If `params` do not fit the model or the optimizer cannot be built.
    pub fn with_params(exp: &'e Experiment, params: ParamSet<f32>) -> Result<Self> {
        params.check_against(exp.model.param_specs())?;
        Self::assemble(exp, params, Instant::now())
    }

    /// A trainer continuing from a checkpoint's state, exactly where that run stopped.
    ///
    /// # Errors
    /// If the state does not fit the experiment.
    pub fn resume(exp: &'e Experiment, state: TrainingState) -> Result<Self> {
        let start = Instant::now();
        state.params.check_against(exp.model.param_specs()).map_err(|e| e.in_section("checkpoint"))?;
        let mut trainer = Self::assemble(exp, state.params, start)?;
        trainer.optimizer.load_state(&state.optimizer).map_err(|e| e.in_section("checkpoint"))?;
        trainer.iteration = state.iteration;
        trainer.trials = state.trials;
        trainer.stage = state.stage;
        trainer.metrics = state.metrics;
        trainer.metric_history = state.metric_history;
        trainer.carry = state.carry;
        Ok(trainer)
    }

    fn assemble(exp: &'e Experiment, params: ParamSet<f32>, start: Instant) -> Result<Self> {
        let trainable = exp.model.param_specs().iter().filter(|s| s.trainable).map(|s| s.name.clone()).collect();
        let mut buffers = ObjectiveBuffers::default();
        buffers.omega = exp.training.omega.as_ref().map(|o| psychrnn_core::OmegaRequest {
            lambda: o.lambda,
            bound: o.bound,
            value: None,
        });
        Ok(Trainer {
            exp,
            optimizer: exp.new_optimizer()?,
            trainable,
            n_updates: exp.training.n_updates(exp.task.timing().n_batch),
            iteration: 0,
            trials: 0,
            stage: 0,
            backup: params.clone(),
            params,
            metrics: Vec::new(),
            metric_history: Vec::new(),
            carry: None,
            last_batch: None,
            buffers,
            eval_buffers: ObjectiveBuffers::default(),
            init_seconds: start.elapsed().as_secs_f64(),
            clock: Instant::now(),
        })
    }

    /// Updates done so far.
    pub fn iteration(&self) -> u64 {
        self.iteration
    }

    /// The curriculum stage being trained (0 without a curriculum).
    pub fn stage(&self) -> usize {
        self.stage
    }

    /// The number of updates the experiment trains for (`ceil(training_iters / N_batch)`).
    pub fn n_updates(&self) -> u64 {
        self.n_updates
    }

    /// The raw (trainable) parameters, by PsychRNN's names.
    pub fn params(&self) -> &ParamSet<f32> {
        &self.params
    }

    /// Replaces the raw parameters (checked against the model's tensors); the optimizer's state
    /// is kept.
    ///
    /// # Errors
    /// If `params` do not fit the model.
    ///
    /// # Example
    /// ```
    /// use psychrnn_train::{Experiment, Trainer};
    /// let registry = psychrnn_plugins::registry()?;
    /// let exp = Experiment::from_toml(psychrnn_train::experiment::EXAMPLE, &registry)?;
    /// let mut trainer = Trainer::new(&exp)?;
    /// // Raw parameters in and out (e.g. lesion one unit's outgoing recurrent weights)...
    /// let mut raw = trainer.params().clone();
    /// raw.require_mut("W_rec")?.column_mut(0).fill(0.0);
    /// trainer.set_params(raw)?;
    /// // ...and the effective weights the network runs with (Dale's signs and masks applied).
    /// let w_rec = trainer.effective_weights()?.require("W_rec")?.clone();
    /// assert!(w_rec.column(0).iter().all(|&w| w == 0.0));
    /// // Under Dale's principle each unit's outgoing weights (a column) share one sign.
    /// assert!(w_rec.columns().into_iter().all(|c| c.iter().all(|&w| w >= 0.0) || c.iter().all(|&w| w <= 0.0)));
    /// assert!(trainer.set_params(psychrnn_core::ParamSet::new()).is_err());
    /// # Ok::<(), psychrnn_core::Error>(())
    /// ```
    pub fn set_params(&mut self, params: ParamSet<f32>) -> Result<()> {
        params.check_against(self.exp.model.param_specs())?;
        self.params = params;
        Ok(())
    }

    /// The effective weights the network runs with (masks and Dale's signs applied), under
    /// PsychRNN's names.
    ///
    /// # Errors
    /// If the model rejects its parameters.
    pub fn effective_weights(&self) -> Result<ParamSet<f32>> {
        self.exp.model.effective_weights(&self.params)
    }

    /// Everything needed to continue this run later (what a checkpoint holds).
    pub fn state(&self) -> TrainingState {
        TrainingState {
            iteration: self.iteration,
            trials: self.trials,
            stage: self.stage,
            params: self.params.clone(),
            optimizer: self.optimizer.state(),
            metrics: self.metrics.clone(),
            metric_history: self.metric_history.clone(),
            carry: self.carry.clone(),
        }
    }

    /// Runs `inputs` (`[T, B, N_in]`, time-major; [`psychrnn_core::array::to_time_major`]
    /// converts PsychRNN's `[B, T, N_in]`) through the network with the current parameters, without noise
    /// unless `noise` is given, and returns the trajectory (outputs, states and rates, `[T, B, ·]`).
    ///
    /// # Errors
    /// If the inputs do not fit the model.
    ///
    /// # Example
    /// ```
    /// use psychrnn_core::array::{to_batch_major, to_time_major};
    /// use psychrnn_train::{Experiment, Trainer};
    /// let registry = psychrnn_plugins::registry()?;
    /// let exp = Experiment::from_toml(psychrnn_train::experiment::EXAMPLE, &registry)?;
    /// let trainer = Trainer::new(&exp)?;
    /// // Inputs in PsychRNN's layout [batch, time, unit]: 3 trials of 50 steps, 2 channels.
    /// let x = ndarray::Array3::<f32>::from_elem((3, 50, 2), 0.5);
    /// let trajectory = trainer.forward(to_time_major(x.view()).view(), None)?;
    /// let outputs = to_batch_major(trajectory.outputs.view()); // back to [batch, time, out]
    /// assert_eq!((outputs.shape(), trajectory.rates.shape()), (&[3, 50, 2][..], &[50, 3, 16][..]));
    /// # Ok::<(), psychrnn_core::Error>(())
    /// ```
    pub fn forward(&self, inputs: ArrayView3<'_, f32>, noise: Option<&mut Noise>) -> Result<Trajectory<f32>> {
        let _scope = ComputeScope::enter(self.exp.training.threads);
        let mut trajectory = Trajectory::default();
        self.exp.model.forward(&self.params, inputs, noise, &mut trajectory)?;
        Ok(trajectory)
    }

    /// The trials of the next update as training draws them (the stage's task, stream
    /// `TrainTrials` at the update's number).
    pub fn next_batch(&self) -> TrialBatch {
        prepare(self.exp.stage_task(self.stage), self.exp.seed, self.iteration + 1).0
    }

    /// One update on the task's next batch ([`Trainer::next_batch`]), exactly as [`Trainer::run`]
    /// makes it.
    ///
    /// # Errors
    /// As [`Trainer::update`].
    pub fn update_next(&mut self) -> Result<UpdateReport> {
        let (batch, mut noise) = prepare(self.exp.stage_task(self.stage), self.exp.seed, self.iteration + 1);
        self.update_with_noise(batch, &mut noise)
    }

    /// One update on `batch` (the caller's trials, any number of them), with the recurrent noise
    /// training draws for this update number. A refused update (see
    /// [`UpdateReport::rejected`]) leaves the parameters and the count as they were.
    ///
    /// # Errors
    /// If the model rejects the batch, or a plugin fails.
    pub fn update(&mut self, batch: &TrialBatch) -> Result<UpdateReport> {
        let mut noise = Noise::from(stream(self.exp.seed, Purpose::TrainNoise, self.iteration + 1));
        self.update_with_noise(batch.clone(), &mut noise)
    }

    fn update_with_noise(&mut self, batch: TrialBatch, noise: &mut Noise) -> Result<UpdateReport> {
        let _scope = ComputeScope::enter(self.exp.training.threads);
        self.apply_update(batch, noise)
    }

    /// The update itself (inside the caller's [`ComputeScope`]).
    fn apply_update(&mut self, batch: TrialBatch, noise: &mut Noise) -> Result<UpdateReport> {
        let (exp, it) = (self.exp, self.iteration + 1);
        if exp.training.continuous {
            self.buffers.trajectory.start = self.carry.take();
        }
        let value = objective(exp, &self.params, &batch, noise, &mut self.buffers, true)?;
        if let Some(e) = exp.plugin_failure() {
            return Err(e);
        }
        let mut report = UpdateReport {
            iteration: it,
            loss: f64::from(value.loss),
            regularization: f64::from(value.regularization),
            gradient_norm: 0.0,
            gradient_norms: Vec::new(),
            clipped: false,
            safeguarded: false,
            rejected: None,
        };
        report.safeguarded = exp.training.gradient_safeguard
            && safeguard(exp, &self.params, &mut self.buffers.grads, &self.trainable, value.total())?;
        report.rejected = if report.safeguarded {
            None
        } else if !value.total().is_finite() {
            Some("the loss".to_string())
        } else {
            self.buffers.grads.first_non_finite().map(|n| format!("the gradient of {n}"))
        };
        if report.rejected.is_some() {
            return Ok(report);
        }
        let grads = &mut self.buffers.grads;
        for (name, mask) in exp.fixed_weights.iter() {
            grads.require_mut(name)?.zip_mut_with(mask, |g, m| *g *= 1.0 - m);
        }
        report.gradient_norm = global_norm(grads, &self.trainable);
        report.gradient_norms =
            self.trainable.iter().map(|name| (name.clone(), global_norm(grads, std::slice::from_ref(name)))).collect();
        if exp.training.clip_grads {
            report.clipped = clip_gradients(grads, &self.trainable, exp.training.clip_mode, exp.training.clip_norm);
        }
        self.backup.clone_from(&self.params);
        self.optimizer.begin_step();
        for name in &self.trainable {
            let g = grads.require(name)?;
            self.optimizer.update(name, self.params.require_mut(name)?, g);
        }
        if let Some(e) = exp.plugin_failure() {
            return Err(e);
        }
        if let Some(name) = self.params.first_non_finite() {
            report.rejected = Some(format!("parameter {name} after the update"));
            std::mem::swap(&mut self.params, &mut self.backup);
            return Ok(report);
        }
        self.iteration = it;
        self.trials += batch.n_trials() as u64;
        if exp.training.continuous {
            self.carry = Some(final_states(&self.buffers.trajectory, &batch));
        }
        self.last_batch = Some(batch);
        Ok(report)
    }

    /// The loss log of the last update: loss, regularisation and accuracy of the updated network
    /// on that update's batch (noise from stream `EvalNoise`), as a `metrics.csv` row, kept.
    /// `None` before the first update.
    ///
    /// # Errors
    /// If the model rejects its parameters.
    pub fn log(&mut self) -> Result<Option<MetricsRow>> {
        let _scope = ComputeScope::enter(self.exp.training.threads);
        self.log_step()
    }

    fn log_step(&mut self) -> Result<Option<MetricsRow>> {
        let (exp, it) = (self.exp, self.iteration);
        let Some(batch) = &self.last_batch else { return Ok(None) };
        let mut eval_noise = Noise::from(stream(exp.seed, Purpose::EvalNoise, it));
        // The batch starts where training started it (continuous mode) or at x0.
        self.eval_buffers.trajectory.start.clone_from(&self.buffers.trajectory.start);
        let value = objective(exp, &self.params, batch, &mut eval_noise, &mut self.eval_buffers, false)?;
        let (task, outputs) = (exp.stage_task(self.stage), self.eval_buffers.trajectory.outputs.view());
        let row = MetricsRow {
            iteration: it,
            trials: self.trials,
            loss: f64::from(value.loss),
            regularization: f64::from(value.regularization),
            accuracy: task.accuracy(batch, outputs),
            metric: exp.metric.score(task, batch, outputs, f64::from(value.total())),
            stage: self.stage,
            wall_seconds: self.clock.elapsed().as_secs_f64(),
        };
        self.metrics.push(row.clone());
        Ok(Some(row))
    }

    /// The curriculum check after the last update: the stage's metric on a fresh validation
    /// batch, kept; the stage advances when it passes its threshold. Returns the check and, when
    /// the last stage passed, the stop. `None` without a curriculum.
    ///
    /// # Errors
    /// If the model rejects its parameters, or a plugin fails.
    pub fn check_curriculum(&mut self) -> Result<Option<(MetricRecord, Option<StopReason>)>> {
        let _scope = ComputeScope::enter(self.exp.training.threads);
        self.curriculum_step()
    }

    fn curriculum_step(&mut self) -> Result<Option<(MetricRecord, Option<StopReason>)>> {
        let (exp, it) = (self.exp, self.iteration);
        if exp.curriculum.is_none() {
            return Ok(None);
        }
        let task = exp.stage_task(self.stage);
        let n_trials = task.timing().n_batch;
        let carry = self.carry.as_ref();
        let value = validation_score(exp, task, &self.params, it, n_trials, carry, &mut self.eval_buffers)?;
        let record = MetricRecord { iteration: it, trials: self.trials, stage: self.stage, value };
        self.metric_history.push(record.clone());
        let mut stop = None;
        if passes(exp, value, exp.stages[self.stage].threshold) {
            self.stage += 1;
            if self.stage == exp.stages.len() {
                stop = Some(StopReason::CurriculumComplete { iteration: it });
            }
        }
        Ok(Some((record, stop)))
    }

    /// The `performance_cutoff` check after the last update: the metric on a fresh validation
    /// batch. Without a curriculum the check is kept (`validation.csv`) and PyCog's stopping rule
    /// reads the mean of the last `performance_window` checks. Returns the kept check (if any)
    /// and, when the cutoff is passed, the stop. `None` without a cutoff.
    ///
    /// # Errors
    /// If the model rejects its parameters, or a plugin fails.
    pub fn check_cutoff(&mut self) -> Result<Option<(Option<MetricRecord>, Option<StopReason>)>> {
        let _scope = ComputeScope::enter(self.exp.training.threads);
        self.cutoff_step()
    }

    fn cutoff_step(&mut self) -> Result<Option<(Option<MetricRecord>, Option<StopReason>)>> {
        let (exp, it) = (self.exp, self.iteration);
        let Some(cutoff) = exp.training.performance_cutoff else { return Ok(None) };
        let task = exp.stage_task(self.stage);
        let n_trials = exp.training.validation_batch_size.unwrap_or(exp.task.timing().n_batch);
        let carry = self.carry.as_ref();
        let score = validation_score(exp, task, &self.params, it, n_trials, carry, &mut self.eval_buffers)?;
        let (kept, value) = if exp.curriculum.is_none() {
            let record = MetricRecord { iteration: it, trials: self.trials, stage: self.stage, value: score };
            self.metric_history.push(record.clone());
            let window = exp.training.performance_window.min(self.metric_history.len());
            let recent = &self.metric_history[self.metric_history.len() - window..];
            (Some(record), recent.iter().map(|r| r.value).sum::<f64>() / window as f64)
        } else {
            (None, score)
        };
        let stop = passes(exp, value, cutoff).then_some(StopReason::PerformanceCutoff { iteration: it, value });
        Ok(Some((kept, stop)))
    }

    /// Trains to the end: updates until `training_iters`, the curriculum's last stage, the
    /// performance cutoff, the NaN guard or the observer's request to stop, with the periodic
    /// steps after each update (see the module docs) and `observer` told of each.
    ///
    /// # Errors
    /// If the model rejects its inputs, a plugin fails, or an observer fails (e.g. cannot write
    /// periodic weights). A NaN/Inf is not an error: training stops with
    /// [`StopReason::NonFinite`] and the last good parameters.
    ///
    /// # Example
    /// ```
    /// use psychrnn_train::{Experiment, MetricsRow, Observers, Trainer, TrainingObserver, UpdateReport};
    /// /// Keeps the largest gradient norm seen.
    /// #[derive(Default)]
    /// struct LargestGradient(f64);
    /// impl TrainingObserver for LargestGradient {
    ///     fn on_update(&mut self, report: &UpdateReport) {
    ///         self.0 = self.0.max(report.gradient_norm);
    ///     }
    /// }
    /// /// Keeps every logged loss.
    /// #[derive(Default)]
    /// struct Losses(Vec<f64>);
    /// impl TrainingObserver for Losses {
    ///     fn on_log(&mut self, row: &MetricsRow) {
    ///         self.0.push(row.loss);
    ///     }
    /// }
    /// let registry = psychrnn_plugins::registry()?;
    /// let exp = Experiment::from_toml(psychrnn_train::experiment::EXAMPLE, &registry)?;
    /// let (mut largest, mut losses) = (LargestGradient::default(), Losses::default());
    /// let outcome = Trainer::new(&exp)?.run(&mut Observers(vec![&mut largest, &mut losses]))?;
    /// assert_eq!(outcome.iterations, 20);
    /// assert!(largest.0 > 0.0 && losses.0.len() == 2, "loss_epoch 10: two logged losses");
    /// # Ok::<(), psychrnn_core::Error>(())
    /// ```
    pub fn run(mut self, observer: &mut dyn TrainingObserver) -> Result<TrainingOutcome> {
        let _scope = ComputeScope::enter(self.exp.training.threads);
        let exp = self.exp;
        let first = self.iteration + 1;
        let n_updates = self.n_updates;
        observer.on_start(n_updates);
        // A helper thread prepares update k+1's trials while update k computes; every draw is
        // addressed by (seed, update), so this changes no bit of the result. The stage is a
        // guess (a curriculum may advance); a batch prepared for the wrong stage is redrawn.
        let stop = std::thread::scope(|scope| -> Result<StopReason> {
            let prefetch = exp.training.threads > 1;
            let (request, requests) = std::sync::mpsc::channel::<(u64, usize)>();
            let (deliver, delivered) = std::sync::mpsc::sync_channel::<(u64, usize, TrialBatch, Noise)>(1);
            scope.spawn(move || {
                for (it, stage) in requests {
                    let prepared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        prepare(exp.stage_task(stage), exp.seed, it)
                    }));
                    let Ok((batch, noise)) = prepared else { break };
                    if deliver.send((it, stage, batch, noise)).is_err() {
                        break;
                    }
                }
            });
            let _ = request.send((first, self.stage));
            for it in first..=n_updates {
                let (batch, mut noise) = match if prefetch { delivered.recv().ok() } else { None } {
                    Some((got, got_stage, batch, noise)) if got == it && got_stage == self.stage => (batch, noise),
                    _ => prepare(exp.stage_task(self.stage), exp.seed, it),
                };
                if it < n_updates {
                    let _ = request.send((it + 1, self.stage));
                }
                let report = self.apply_update(batch, &mut noise)?;
                if let Some(what) = report.rejected.clone() {
                    return Ok(StopReason::NonFinite { iteration: it, what });
                }
                observer.on_update(&report);
                if let Some(stop) = self.periodic_steps(observer)? {
                    return Ok(stop);
                }
            }
            Ok(StopReason::TrainingItersReached)
        })?;
        observer.on_end(&stop);
        Ok(TrainingOutcome {
            iterations: self.iteration,
            trials: self.trials,
            stage: self.stage,
            init_seconds: self.init_seconds,
            training_seconds: self.clock.elapsed().as_secs_f64(),
            params: self.params,
            metrics: self.metrics,
            metric_history: self.metric_history,
            carry: self.carry,
            stop,
        })
    }

    /// The steps [`Trainer::run`] takes after each update, at their epochs; `Some` stops training.
    fn periodic_steps(&mut self, observer: &mut dyn TrainingObserver) -> Result<Option<StopReason>> {
        let (exp, it) = (self.exp, self.iteration);
        if it % exp.training.loss_epoch == 0
            && let Some(row) = self.log_step()?
        {
            observer.on_log(&row);
        }
        if let Some(every) = exp.training.save_training_weights_epoch
            && it % every == 0
        {
            observer.on_weights(it, &exp.model.export(&self.params)?)?;
        }
        let checkpoint_due = exp.training.checkpoint_epoch > 0 && it % exp.training.checkpoint_epoch == 0;
        let interrupted = observer.should_stop();
        if checkpoint_due || interrupted {
            observer.on_checkpoint(&self.state())?;
        }
        if interrupted {
            return Ok(Some(StopReason::Interrupted { iteration: it }));
        }
        if let Some(curriculum) = &exp.curriculum
            && it % curriculum.metric_epoch == 0
            && let Some((record, stop)) = self.curriculum_step()?
        {
            observer.on_metric(&record);
            if stop.is_some() {
                return Ok(stop);
            }
        }
        if exp.training.performance_cutoff.is_some()
            && it % exp.training.performance_epoch == 0
            && let Some((kept, stop)) = self.cutoff_step()?
        {
            if let Some(record) = kept {
                observer.on_metric(&record);
            }
            if stop.is_some() {
                return Ok(stop);
            }
        }
        Ok(None)
    }
}

/// Trains `exp` from its initialiser's parameters to the end ([`Trainer::run`]).
///
/// # Errors
/// As [`Trainer::new`] and [`Trainer::run`].
pub fn train(exp: &Experiment, observer: &mut dyn TrainingObserver) -> Result<TrainingOutcome> {
    Trainer::new(exp)?.run(observer)
}

/// Trains `exp` to the end, from its initialiser's parameters or, given a checkpoint's
/// [`TrainingState`], from where that run stopped ([`Trainer::resume`]).
///
/// # Errors
/// As [`train`], or if the state does not fit the experiment.
pub fn train_from(
    exp: &Experiment,
    resume: Option<TrainingState>,
    observer: &mut dyn TrainingObserver,
) -> Result<TrainingOutcome> {
    match resume {
        None => Trainer::new(exp)?.run(observer),
        Some(state) => Trainer::resume(exp, state)?.run(observer),
    }
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

/// The trials and recurrent noise source of training update `it` (the trials can be generated
/// on another core; the noise is drawn during the forward pass, by each half of the batch).
fn prepare(task: &dyn Task, seed: u64, it: u64) -> (TrialBatch, Noise) {
    let batch = task.generate_batch(task.timing().n_batch, &mut stream(seed, Purpose::TrainTrials, it));
    (batch, Noise::from(stream(seed, Purpose::TrainNoise, it)))
}

/// The states where each trial of the last forward pass ended (at its own last step), `[B, N]`:
/// where the next trials start in continuous training.
fn final_states(traj: &Trajectory<f32>, batch: &TrialBatch) -> Array2<f32> {
    let (_, n_trials, n) = traj.states.dim();
    Array2::from_shape_fn((n_trials, n), |(b, j)| traj.states[[batch.last_step(b), b, j]])
}

/// PyCog's safeguard (see [`psychrnn_core::TrainingConfig::gradient_safeguard`]): when the loss
/// or the global gradient norm is not finite or above 1e10, the recurrent weights' gradient
/// becomes `0.02 W_rec` and every other gradient 0. Returns whether it acted.
fn safeguard(
    exp: &Experiment,
    params: &ParamSet<f32>,
    grads: &mut ParamSet<f32>,
    trainable: &[String],
    loss: f32,
) -> Result<bool> {
    let norm = global_norm(grads, trainable);
    if loss.is_finite() && norm.is_finite() && norm <= 1e10 {
        return Ok(false);
    }
    for spec in exp.model.param_specs().iter().filter(|s| s.trainable) {
        let g = grads.require_mut(&spec.name)?;
        if spec.role == ParamRole::RecurrentWeights {
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

#[cfg(test)]
mod tests;
