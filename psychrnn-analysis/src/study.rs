//! A trained network's trials over its task's condition grid: the simulation every behavioural,
//! unit and population analysis of `psychrnn analyze` starts from.
//!
//! For each [`Condition`] the task is built again with the condition's configuration keys (so
//! its draws are fixed) and `trials_per_condition` trials are generated (stream `User`, index =
//! condition) and run through the network (its own model, so any model works), with the
//! network's recurrent noise unless asked not to.

use std::path::Path;

use ndarray::{Array2, Array3, Axis};
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_core::task::{Behaviour, Condition, Readout};
use psychrnn_core::{Error, ParamSet, Registry, Result, Trajectory, TrialBatch};
use psychrnn_train::Experiment;

use crate::chronometric::{choice_at, masked_mean_choice, threshold_crossing};
use crate::selection::{Selection, select};

/// Options of [`simulate_conditions`].
#[derive(Clone, Debug, PartialEq)]
pub struct SimulationOptions {
    /// Trials generated per condition.
    pub trials_per_condition: usize,
    /// Whether the network's recurrent noise is on (it is by default, as in training).
    pub noise: bool,
    /// Seed of the trials and the noise.
    pub seed: u64,
    /// Whether the units' rates are kept (behaviour alone needs only the outputs; rates take
    /// `trials x time x units` floats).
    pub keep_rates: bool,
    /// Only the conditions these selections accept (default: the task's whole grid).
    pub selections: Vec<Selection>,
}

impl Default for SimulationOptions {
    fn default() -> Self {
        SimulationOptions { trials_per_condition: 100, noise: true, seed: 0, keep_rates: true, selections: Vec::new() }
    }
}

/// One condition's trials and the network's response to them.
pub struct ConditionTrials {
    /// The condition.
    pub condition: Condition,
    /// The trials: their mask, lengths and trial parameters (inputs and targets are dropped
    /// after the simulation).
    pub batch: TrialBatch,
    /// The network's outputs and rates, `[time, trials, ·]` (states and the backward cache are
    /// dropped after the simulation).
    pub trajectory: Trajectory<f32>,
}

/// A network's trials over its task's condition grid.
pub struct Simulation {
    /// The task's declaration.
    pub behaviour: Behaviour,
    /// The tag of the task.
    pub task: String,
    /// Time step, ms.
    pub dt: f64,
    /// The trials of each condition, in the declaration's order.
    pub conditions: Vec<ConditionTrials>,
    /// Every trial's behaviour, read once from the outputs ([`Simulation::behaviour`]).
    trials: Vec<TrialBehaviour>,
}

/// The task's declaration for behavioural analyses.
///
/// # Errors
/// [`Error::Invalid`] naming the task if it declares none.
pub fn behaviour_of(exp: &Experiment) -> Result<Behaviour> {
    let tag = task_tag(exp);
    exp.task.behaviour().ok_or_else(|| {
        Error::invalid(
            "task",
            format!("`{tag}` declares no conditions to sweep or choice readout, so behavioural, selectivity and population analyses cannot run on it (connectivity can)"),
        )
    })
}

/// The tag of the experiment's task, as its lock records it.
pub fn task_tag(exp: &Experiment) -> String {
    exp.configs.task.get("type").and_then(|t| t.as_str()).unwrap_or("task").to_string()
}

/// Runs `params` on `trials_per_condition` trials of every condition of the experiment's task;
/// `progress(done, total)` is called after each condition. `registry` must hold the task's plugin
/// and relative paths of the task's table start at `base_dir`.
///
/// # Errors
/// The task declares no behaviour, a condition's configuration is refused by the task, or the
/// model rejects the parameters.
pub fn simulate_conditions(
    exp: &Experiment,
    registry: &Registry,
    base_dir: &Path,
    params: &ParamSet<f32>,
    options: &SimulationOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Simulation> {
    if options.trials_per_condition == 0 {
        return Err(Error::invalid("trials", "must be at least 1 per condition"));
    }
    let behaviour = select(behaviour_of(exp)?, &options.selections)?;
    params.check_against(exp.model.param_specs())?;
    let total = behaviour.conditions.len();
    psychrnn_train::memory::SimulationSize {
        trials: options.trials_per_condition,
        conditions: total,
        n_steps: exp.task.timing().n_steps(),
        n_rec: exp.model.n_rec(),
        n_in: exp.task.n_in(),
        n_out: exp.task.n_out(),
    }
    .check("trials")?;
    let mut conditions = Vec::with_capacity(total);
    for (c, condition) in behaviour.conditions.iter().enumerate() {
        let mut table = exp.configs.task.clone();
        table.extend(condition.config.clone());
        let (task, _) = psychrnn_train::experiment::task_from_table(&table, registry, base_dir)
            .map_err(|e| Error::invalid("task", format!("condition {c} ({}): {e}", condition.config)))?;
        let batch =
            task.generate_batch(options.trials_per_condition, &mut stream(options.seed, Purpose::User, c as u64));
        let mut trajectory = Trajectory::default();
        let mut noise = Noise::from(stream(options.seed, Purpose::TestNoise, (1 << 40) + c as u64));
        let noise = if options.noise { Some(&mut noise) } else { None };
        let _scope = psychrnn_linalg::ComputeScope::enter(exp.training.threads);
        exp.model.forward(params, batch.inputs.view(), noise, &mut trajectory)?;
        // Keep what the analyses read (outputs, rates, the mask, the trial parameters); the
        // states, the backward cache, the inputs and targets would double the memory.
        trajectory.states = Array3::zeros((0, 0, 0));
        trajectory.cache = Vec::new();
        if !options.keep_rates {
            trajectory.rates = Array3::zeros((0, 0, 0));
        }
        // Empty, but still [_, trials, _]: TrialBatch::n_trials reads the inputs' shape.
        let trials = batch.n_trials();
        let batch =
            TrialBatch { inputs: Array3::zeros((0, trials, 0)), targets: Array3::zeros((0, trials, 0)), ..batch };
        conditions.push(ConditionTrials { condition: condition.clone(), batch, trajectory });
        progress(c + 1, total);
    }
    let mut simulation =
        Simulation { behaviour, task: task_tag(exp), dt: exp.task.timing().dt, conditions, trials: Vec::new() };
    simulation.trials = simulation.read_behaviour();
    Ok(simulation)
}

/// One trial's behaviour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrialBehaviour {
    /// Index of its condition.
    pub condition: usize,
    /// The choice (output channel; 0 is choice 1), `None` without a decision.
    pub choice: Option<usize>,
    /// Whether the choice was correct (`None` without a decision or a correct choice).
    pub correct: Option<bool>,
    /// Reaction time since stimulus onset, ms (threshold readouts only).
    pub reaction_time: Option<f64>,
}

impl Simulation {
    /// Every trial's choice, correctness and reaction time, condition by condition (the order
    /// of [`Simulation::trials`]).
    pub fn behaviour(&self) -> &[TrialBehaviour] {
        &self.trials
    }

    /// Reads every trial's behaviour from its outputs.
    fn read_behaviour(&self) -> Vec<TrialBehaviour> {
        let mut out = Vec::new();
        for (c, ct) in self.conditions.iter().enumerate() {
            let outputs = &ct.trajectory.outputs;
            for b in 0..ct.batch.n_trials() {
                let z = outputs.index_axis(Axis(1), b);
                let length = ct.batch.lengths.get(b).copied().unwrap_or(z.nrows()).min(z.nrows());
                let (choice, reaction_time) = match self.behaviour.readout {
                    Readout::NoChoice => (None, None),
                    Readout::MaskedMean => (masked_mean_choice(z, ct.batch.mask.index_axis(Axis(1), b)), None),
                    Readout::AtEnd => (choice_at(z, length.saturating_sub(1)), None),
                    Readout::Threshold { threshold } => {
                        let onset_ms = self.stimulus_ms(ct, b).map_or(0.0, |(onset, _)| onset);
                        let onset = (onset_ms / self.dt).round().max(0.0) as usize;
                        // Output step t is at time (t + 1) dt (PyCog's clock).
                        match threshold_crossing(z, threshold as f32, onset, length) {
                            Some((t, c)) => (Some(c), Some((t + 1) as f64 * self.dt - onset_ms)),
                            None => (None, None),
                        }
                    }
                };
                let correct = choice.zip(ct.condition.correct_choice).map(|(made, right)| made == right);
                out.push(TrialBehaviour { condition: c, choice, correct, reaction_time });
            }
        }
        out
    }

    /// Every trial as `(its condition's trials, its index there)`, in [`Simulation::behaviour`]'s
    /// order.
    pub fn trials(&self) -> impl Iterator<Item = (&ConditionTrials, usize)> {
        self.conditions.iter().flat_map(|ct| (0..ct.batch.n_trials()).map(move |b| (ct, b)))
    }

    /// Trial `b` of `ct`'s stimulus period `(onset, end)` in ms, if the task declares one.
    fn stimulus_ms(&self, ct: &ConditionTrials, b: usize) -> Option<(f64, f64)> {
        self.behaviour.stimulus_period.as_ref()?.of(ct.batch.trial_params.get(b)?)
    }

    /// Trial `b`'s stimulus duration in ms, if the task declares a stimulus period.
    pub fn stimulus_duration_ms(&self, ct: &ConditionTrials, b: usize) -> Option<f64> {
        self.stimulus_ms(ct, b).map(|(onset, end)| end - onset)
    }

    /// Trial `b` of `ct`'s stimulus period as steps `(start, end)` (end exclusive, clipped to
    /// the trial), if the task declares one.
    pub fn stimulus_steps(&self, ct: &ConditionTrials, b: usize) -> Option<(usize, usize)> {
        let (onset, end) = self.stimulus_ms(ct, b)?;
        let steps = ct.trajectory.rates.len_of(Axis(0));
        // Step s is at time s dt (TaskTiming::time_of); it is in the stimulus when
        // onset <= s dt < end.
        let first = ((onset / self.dt).ceil().max(0.0) as usize).min(steps);
        let last = ((end / self.dt).ceil().max(0.0) as usize).min(steps);
        Some((first, last.max(first)))
    }

    /// Each trial's rates summed over its stimulus period, `[trials, units]`, with the trials in
    /// [`Simulation::behaviour`]'s order.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the task declares no stimulus period.
    pub fn stimulus_activity(&self) -> Result<Array2<f64>> {
        if self.behaviour.stimulus_period.is_none() {
            return Err(Error::invalid("task", format!("`{}` declares no stimulus period for selectivity", self.task)));
        }
        let units = self.conditions.first().map_or(0, |c| c.trajectory.rates.len_of(Axis(2)));
        let mut activity = Array2::zeros((self.trials().count(), units));
        for (row, (ct, b)) in self.trials().enumerate() {
            let (start, end) = self.stimulus_steps(ct, b).unwrap_or((0, 0));
            for t in start..end {
                let r = ct.trajectory.rates.index_axis(Axis(0), t);
                activity.row_mut(row).zip_mut_with(&r.row(b), |a, &v| *a += f64::from(v));
            }
        }
        Ok(activity)
    }

    /// Condition-averaged rates aligned to stimulus onset over `steps` steps from it (or from the
    /// trial's start without a declared stimulus period): `[conditions, steps, units]`. Steps
    /// past a trial's end are left out of the average.
    pub fn condition_averages(&self, steps: usize) -> Array3<f64> {
        let units = self.conditions.first().map_or(0, |c| c.trajectory.rates.len_of(Axis(2)));
        let mut out = Array3::zeros((self.conditions.len(), steps, units));
        for (c, ct) in self.conditions.iter().enumerate() {
            let rates = &ct.trajectory.rates;
            let n_steps = rates.len_of(Axis(0));
            let mut counts = vec![0.0f64; steps];
            for b in 0..ct.batch.n_trials() {
                let start = self.stimulus_steps(ct, b).map_or(0, |(s, _)| s);
                let available = steps.min(n_steps.saturating_sub(start));
                for (k, count) in counts.iter_mut().enumerate().take(available) {
                    let r = rates.index_axis(Axis(0), start + k);
                    let mut dst = out.index_axis_mut(Axis(0), c);
                    dst.row_mut(k).zip_mut_with(&r.row(b), |a, &v| *a += f64::from(v));
                    *count += 1.0;
                }
            }
            for (k, n) in counts.into_iter().enumerate() {
                if n > 0.0 {
                    out.index_axis_mut(Axis(0), c).row_mut(k).mapv_inplace(|v| v / n);
                }
            }
        }
        out
    }

    /// The steps every trial has from its stimulus onset to its end (the shortest such stretch;
    /// from the trial's start without a declared stimulus period).
    pub fn common_steps_after_onset(&self) -> usize {
        self.trials()
            .map(|(ct, b)| {
                let start = self.stimulus_steps(ct, b).map_or(0, |(s, _)| s);
                let length = ct.batch.lengths.get(b).copied().unwrap_or(0).min(ct.trajectory.rates.len_of(Axis(0)));
                length.saturating_sub(start)
            })
            .min()
            .unwrap_or(0)
    }

    /// The shortest stimulus period over all trials, in steps (the window every trial fills when
    /// aligned at onset); the shortest trial without a declared stimulus period.
    pub fn common_stimulus_steps(&self) -> usize {
        self.trials()
            .map(|(ct, b)| match self.stimulus_steps(ct, b) {
                Some((s, e)) => e - s,
                None => ct.batch.lengths.get(b).copied().unwrap_or(0),
            })
            .min()
            .unwrap_or(0)
    }
}
