//! The task plugin `python`: a task object written in Python (a subclass of
//! `psychrnn_rs.tasks.task.Task`), held by handle ([`crate::objects`]).
//!
//! The trainer asks it for batches as for any task; each call takes the GIL for the Python code
//! only, so the next batch is generated while the current one trains (the trainer's prefetch
//! thread), and the numerical work runs without the GIL. Python's random draws are seeded per
//! batch from the run's seed (the batch's random stream), so a seeded run replays. An exception
//! in the Python code stops training after the update in progress and is raised again, with its
//! traceback, by the call that trained.
//!
//! With `workers > 0` the task's batches are also generated ahead in that many worker processes
//! (the Python side's pool): a training batch's seed is the first draw of its update's random
//! stream, so the seeds of the coming updates are known and their batches can be made before
//! they are asked for. Each batch is a function of its seed and update number alone, so the
//! weights are the same with and without workers.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use ndarray::{ArrayView3, s};
use psychrnn_core::plugin::PluginFailures;
use psychrnn_core::rng::{Purpose, stream};
use psychrnn_core::task::blocks::choice_accuracy;
use psychrnn_core::{BuildContext, Error, Plugin, Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use pyo3::prelude::*;

use crate::convert;
use crate::objects;

/// `[task] type = "python"`.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonTaskConfig {
    /// The handle of the held Python task object.
    pub handle: u64,
    /// The run's seed: the task recognises its training batches (and their update numbers) by
    /// their seeds, and with `workers` generates the coming ones ahead.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Worker processes generating training batches ahead (0: none).
    #[serde(default)]
    pub workers: usize,
}

/// How many updates ahead the seed of a batch is looked for (after the first match), and before
/// it (the prefetch thread asks for update k+1 while k trains).
const WINDOW: u64 = 64;
/// How far the first batch is looked for (a resumed run starts late).
const FIRST_WINDOW: u64 = 1 << 20;

/// The seed the training batch of update `k` draws first (what `generate_batch` receives).
fn training_seed(run_seed: u64, k: u64) -> u64 {
    rand::Rng::next_u64(&mut stream(run_seed, Purpose::TrainTrials, k))
}

/// Which training update a batch seed belongs to, and the batches made ahead.
struct Lookahead {
    run_seed: u64,
    workers: usize,
    /// The update after the last one recognised (0: none yet).
    next: u64,
    /// Batches submitted to the workers: update, seed, the pending result.
    pending: VecDeque<(u64, u64, Py<PyAny>)>,
}

impl Lookahead {
    /// The update whose training batch draws `seed`, if it is one.
    fn locate(&mut self, seed: u64) -> Option<u64> {
        if let Some((k, _, _)) = self.pending.iter().find(|(_, s, _)| *s == seed) {
            return Some(*k);
        }
        let (from, to) =
            if self.next == 0 { (1, FIRST_WINDOW) } else { (self.next.saturating_sub(2).max(1), self.next + WINDOW) };
        let k = (from..=to).find(|&k| training_seed(self.run_seed, k) == seed)?;
        self.next = self.next.max(k + 1);
        Some(k)
    }
}

/// A task whose trials a Python object generates.
pub struct PythonTask {
    object: Py<PyAny>,
    timing: TaskTiming,
    n_in: usize,
    n_out: usize,
    /// Whether the object defines its own `accuracy_function`.
    custom_accuracy: bool,
    failures: PluginFailures,
    lookahead: Option<Mutex<Lookahead>>,
}

/// The plugin declaration of [`PythonTask`].
pub struct PythonTaskPlugin;

impl Plugin for PythonTaskPlugin {
    type Kind = dyn Task;
    type Config = PythonTaskConfig;
    const TAG: &'static str = "python";
    const DOC: &'static str = "a task written in Python (psychrnn_rs.tasks.task.Task), from the Python package only";

    fn build(config: PythonTaskConfig, timing: &TaskTiming, ctx: &BuildContext) -> Result<Box<dyn Task>> {
        Python::attach(|py| {
            let (object, _) = objects::get(py, config.handle).ok_or_else(|| {
                Error::invalid("task.handle", format!("no Python task is held under handle {}", config.handle))
            })?;
            let bound = object.bind(py);
            let size = |name: &str| -> Result<usize> {
                bound
                    .getattr(name)
                    .and_then(|v| v.extract::<usize>())
                    .map_err(|e| Error::invalid(format!("task.{name}"), format!("the Python task's {name}: {e}")))
            };
            let (n_in, n_out) = (size("N_in")?, size("N_out")?);
            if n_in == 0 || n_out == 0 {
                return Err(Error::invalid("task", format!("N_in = {n_in} and N_out = {n_out} must be at least 1")));
            }
            let custom_accuracy = bound
                .call_method0("_psychrnn_has_accuracy")
                .and_then(|v| v.extract::<bool>())
                .map_err(|e| Error::invalid("task", format!("not a psychrnn_rs Task: {e}")))?;
            Ok(Box::new(PythonTask {
                object,
                timing: timing.clone(),
                n_in,
                n_out,
                custom_accuracy,
                failures: ctx.failures().clone(),
                lookahead: config.seed.map(|run_seed| {
                    Mutex::new(Lookahead { run_seed, workers: config.workers, next: 0, pending: VecDeque::new() })
                }),
            }) as Box<dyn Task>)
        })
    }
}

/// Records a Python exception as the plugin failure that stops training, and keeps the
/// exception to raise again.
pub fn record_failure(py: Python<'_>, failures: &PluginFailures, source: &str, what: &str, error: PyErr) {
    let message = error.to_string();
    objects::stash_error(py, error);
    failures.record(Error::Plugin { source_name: source.into(), message: format!("{what} raised {message}") });
}

impl PythonTask {
    /// Converts what the Python side returned for a batch of `n_trials`: `(x, y, mask, params)`.
    fn batch_of(&self, out: &Bound<'_, PyAny>, n_trials: usize) -> PyResult<TrialBatch> {
        let (x, y, mask, params): (convert::Array<'_>, convert::Array<'_>, convert::Array<'_>, Bound<'_, PyAny>) =
            out.extract()?;
        let (x, y, mask) = (x.as_array(), y.as_array(), mask.as_array());
        if x.shape()[2] != self.n_in || y.shape()[2] != self.n_out || x.shape()[0] != n_trials {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "the batch has x {:?} and y {:?}; the task declares N_batch {n_trials}, N_in {} and N_out {}",
                x.shape(),
                y.shape(),
                self.n_in,
                self.n_out
            )));
        }
        convert::batch_from_arrays(x, y, mask, convert::trial_params(&params, n_trials))
    }

    /// A batch of `n_trials` from the Python object, its random draws seeded with `seed`;
    /// `update` is the training update it is for (0 for other trials), PsychRNN's batch number.
    fn python_batch(&self, py: Python<'_>, n_trials: usize, seed: u64, update: u64) -> PyResult<TrialBatch> {
        let out = self.object.bind(py).call_method1("_psychrnn_batch", (n_trials, seed, update))?;
        self.batch_of(&out, n_trials)
    }

    /// A training batch: made ahead by a worker if it was submitted, and the coming ones
    /// submitted; others are made here. (The lock is never held while Python runs: Python may
    /// release the GIL, and another thread holding it would then wait for the lock.)
    fn batch(&self, py: Python<'_>, n_trials: usize, seed: u64) -> PyResult<TrialBatch> {
        let Some(lookahead) = &self.lookahead else { return self.python_batch(py, n_trials, seed, 0) };
        let (k, job, to_submit) = {
            let mut ahead = lookahead.lock().unwrap_or_else(PoisonError::into_inner);
            let update = if n_trials == self.timing.n_batch { ahead.locate(seed) } else { None };
            let Some(k) = update else {
                drop(ahead);
                return self.python_batch(py, n_trials, seed, 0);
            };
            if ahead.workers == 0 {
                drop(ahead);
                return self.python_batch(py, n_trials, seed, k);
            }
            ahead.pending.retain(|(j, _, _)| *j >= k);
            let job = ahead.pending.iter().position(|(j, _, _)| *j == k).and_then(|i| ahead.pending.remove(i));
            let depth = 2 * ahead.workers as u64;
            let to_submit: Vec<(u64, u64)> = (k + 1..=k + depth)
                .filter(|j| !ahead.pending.iter().any(|(i, _, _)| i == j))
                .map(|j| (j, training_seed(ahead.run_seed, j)))
                .collect();
            (k, job.map(|(_, _, job)| job), to_submit)
        };
        let mut submitted = Vec::with_capacity(to_submit.len());
        for (j, seed_j) in to_submit {
            let job = self.object.bind(py).call_method1("_psychrnn_submit", (n_trials, seed_j, j))?;
            submitted.push((j, seed_j, job.unbind()));
        }
        lookahead.lock().unwrap_or_else(PoisonError::into_inner).pending.extend(submitted);
        match job {
            Some(job) => {
                let out = job.bind(py).call_method0("get")?;
                self.batch_of(&out, n_trials)
            }
            None => self.python_batch(py, n_trials, seed, k),
        }
    }
}

impl Task for PythonTask {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        self.n_in
    }

    fn n_out(&self) -> usize {
        self.n_out
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let mut batch = self.generate_batch(1, rng);
        let steps = batch.n_steps().min(trial.inputs.nrows());
        trial.inputs.slice_mut(s![..steps, ..]).assign(&batch.inputs.slice(s![..steps, 0, ..]));
        trial.targets.slice_mut(s![..steps, ..]).assign(&batch.targets.slice(s![..steps, 0, ..]));
        trial.mask.slice_mut(s![..steps, ..]).assign(&batch.mask.slice(s![..steps, 0, ..]));
        *trial.length = steps;
        batch.trial_params.pop().unwrap_or_default()
    }

    fn generate_batch(&self, n_trials: usize, rng: &mut Rng) -> TrialBatch {
        let seed = rand::Rng::next_u64(rng);
        Python::attach(|py| {
            self.batch(py, n_trials, seed).unwrap_or_else(|e| {
                record_failure(py, &self.failures, "Python task", "generating a batch", e);
                TrialBatch::zeros(self.timing.n_steps(), n_trials, self.n_in, self.n_out)
            })
        })
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        if !self.custom_accuracy {
            return choice_accuracy(batch, outputs);
        }
        Python::attach(|py| {
            let call = || -> PyResult<f64> {
                let y = convert::to_numpy(py, batch.targets.view());
                let out = convert::to_numpy(py, outputs);
                let mask = convert::to_numpy(py, batch.mask.view());
                self.object.bind(py).call_method1("accuracy_function", (y, out, mask))?.extract::<f64>()
            };
            call().unwrap_or_else(|e| {
                record_failure(py, &self.failures, "Python task", "accuracy_function", e);
                f64::NAN
            })
        })
    }
}
