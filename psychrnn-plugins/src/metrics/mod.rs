//! Bundled curriculum metrics: `accuracy` (the task's), `rmse` (PyCog's monitored error).

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{CurriculumMetric, Result, Task, TrialBatch};
use serde::{Deserialize, Serialize};

/// `accuracy`: the task's own accuracy function on a fresh batch (PsychRNN's `default_metric`).
pub struct Accuracy;

/// `accuracy` and `rmse` take no parameters.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccuracyConfig {}

impl CurriculumMetric for Accuracy {
    fn score(&self, task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, _loss: f64) -> f64 {
        task.accuracy(batch, outputs)
    }
}

impl Plugin for Accuracy {
    type Kind = dyn CurriculumMetric;
    type Config = AccuracyConfig;
    const TAG: &'static str = "accuracy";
    const DOC: &'static str = "the task's accuracy on a fresh batch";

    fn build(AccuracyConfig {}: AccuracyConfig, (): (), _: &BuildContext) -> Result<Box<dyn CurriculumMetric>> {
        Ok(Box::new(Accuracy))
    }
}

/// `rmse`: the root-mean-square error over the masked entries of a fresh batch (PyCog's
/// `min_error` criterion; lower is better).
pub struct Rmse;

impl CurriculumMetric for Rmse {
    fn higher_is_better(&self) -> bool {
        false
    }

    fn score(&self, _task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, _loss: f64) -> f64 {
        psychrnn_core::task::blocks::batch_rmse(batch, outputs)
    }
}

impl Plugin for Rmse {
    type Kind = dyn CurriculumMetric;
    type Config = AccuracyConfig;
    const TAG: &'static str = "rmse";
    const DOC: &'static str =
        "root-mean-square error over the masked outputs of a fresh batch (lower is better; PyCog's min_error)";

    fn build(AccuracyConfig {}: AccuracyConfig, (): (), _: &BuildContext) -> Result<Box<dyn CurriculumMetric>> {
        Ok(Box::new(Rmse))
    }
}
