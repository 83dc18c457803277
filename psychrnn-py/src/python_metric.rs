//! The metric plugin `python`: a Python callable scoring the network on a fresh batch, with
//! PsychRNN's `performance_measure` signature `(x, y, mask, output, epoch, losses, verbosity)`
//! (arrays `[batch, time, channel]`), for `performance_cutoff` and curricula. It returns the
//! score (or PsychRNN's curriculum metric pair `(passed, score)`, whose score is used). It is
//! called for the checks only: the loss log's metric column is NaN for it.

use ndarray::ArrayView3;
use psychrnn_core::plugin::PluginFailures;
use psychrnn_core::{BuildContext, CurriculumMetric, Error, Plugin, Result, Task, TrialBatch};
use pyo3::prelude::*;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::convert;
use crate::objects::{self, TrainingContext};

fn yes() -> bool {
    true
}

/// `[metric] type = "python"`.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PythonMetricConfig {
    /// The handle of the held Python callable.
    pub handle: u64,
    /// Whether larger scores are better (an accuracy) or smaller ones (a loss).
    #[serde(default = "yes")]
    pub higher_is_better: bool,
}

/// A metric computed by a Python callable.
pub struct PythonMetric {
    function: Py<PyAny>,
    context: Arc<TrainingContext>,
    higher_is_better: bool,
    failures: PluginFailures,
}

/// The plugin declaration of [`PythonMetric`].
pub struct PythonMetricPlugin;

impl Plugin for PythonMetricPlugin {
    type Kind = dyn CurriculumMetric;
    type Config = PythonMetricConfig;
    const TAG: &'static str = "python";
    const DOC: &'static str =
        "a metric computed by a Python callable (PsychRNN's performance_measure), from the Python package only";

    fn build(config: PythonMetricConfig, _: (), ctx: &BuildContext) -> Result<Box<dyn CurriculumMetric>> {
        Python::attach(|py| {
            let (function, context) = objects::get(py, config.handle).ok_or_else(|| {
                Error::invalid("metric.handle", format!("no Python metric is held under handle {}", config.handle))
            })?;
            Ok(Box::new(PythonMetric {
                function,
                context,
                higher_is_better: config.higher_is_better,
                failures: ctx.failures().clone(),
            }) as Box<dyn CurriculumMetric>)
        })
    }
}

impl CurriculumMetric for PythonMetric {
    fn higher_is_better(&self) -> bool {
        self.higher_is_better
    }

    fn score(&self, _task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, _loss: f64) -> f64 {
        if self.context.is_log_call() {
            return f64::NAN;
        }
        let epoch = self.context.epoch.load(Ordering::Relaxed);
        let losses = self.context.losses.lock().map(|l| l.clone()).unwrap_or_default();
        Python::attach(|py| {
            let call = || -> PyResult<f64> {
                let args = (
                    convert::to_numpy(py, batch.inputs.view()),
                    convert::to_numpy(py, batch.targets.view()),
                    convert::to_numpy(py, batch.mask.view()),
                    convert::to_numpy(py, outputs),
                    epoch,
                    losses,
                    self.context.verbose,
                );
                let value = self.function.bind(py).call1(args)?;
                match value.extract::<(bool, f64)>() {
                    Ok((_, score)) => Ok(score),
                    Err(_) => value.extract::<f64>(),
                }
            };
            call().unwrap_or_else(|e| {
                crate::python_task::record_failure(py, &self.failures, "Python metric", "the performance measure", e);
                f64::NAN
            })
        })
    }
}
