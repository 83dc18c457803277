//! The task plugin `python`: a task object written in Python (a subclass of
//! `psychrnn_rs.tasks.task.Task`), held by handle ([`crate::objects`]).
//!
//! The trainer asks it for batches as for any task; each call takes the GIL for the Python code
//! only, so the next batch is generated while the current one trains (the trainer's prefetch
//! thread), and the numerical work runs without the GIL. Python's random draws are seeded per
//! batch from the run's seed (the batch's random stream), so a seeded run replays. An exception
//! in the Python code stops training after the update in progress and is raised again, with its
//! traceback, by the call that trained.

use ndarray::{ArrayView3, s};
use psychrnn_core::plugin::PluginFailures;
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
    /// A batch of `n_trials` from the Python object, its random draws seeded with `seed`.
    fn python_batch(&self, py: Python<'_>, n_trials: usize, seed: u64) -> PyResult<TrialBatch> {
        let out = self.object.bind(py).call_method1("_psychrnn_batch", (n_trials, seed))?;
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
            self.python_batch(py, n_trials, seed).unwrap_or_else(|e| {
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
