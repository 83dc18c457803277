//! Bundled curriculum metrics: `accuracy` (the task's), `rmse` (PyCog's monitored error).

use ndarray::ArrayView3;
use psychrnn_core::registry::BuildContext;
use psychrnn_core::{CurriculumMetric, Result, Task, TrialBatch, config_table, parse_config};
use serde::{Deserialize, Serialize};

/// `accuracy`: the task's own accuracy function on a fresh batch (PsychRNN's `default_metric`).
pub struct Accuracy;

/// `accuracy` takes no parameters.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccuracyConfig {}

impl CurriculumMetric for Accuracy {
    fn config(&self) -> toml::Table {
        config_table("accuracy", &AccuracyConfig {})
    }

    fn score(&self, task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, _loss: f64) -> f64 {
        task.accuracy(batch, outputs)
    }
}

/// Registry constructor of `accuracy`.
///
/// # Errors
/// Any key (it takes none).
pub fn build_accuracy(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn CurriculumMetric>> {
    let AccuracyConfig {} = parse_config(table)?;
    Ok(Box::new(Accuracy))
}

/// `rmse`: the root-mean-square error over the masked entries of a fresh batch (PyCog's
/// `min_error` criterion; lower is better).
pub struct Rmse;

impl CurriculumMetric for Rmse {
    fn config(&self) -> toml::Table {
        config_table("rmse", &AccuracyConfig {})
    }

    fn higher_is_better(&self) -> bool {
        false
    }

    fn score(&self, _task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, _loss: f64) -> f64 {
        psychrnn_core::task::blocks::batch_rmse(batch, outputs)
    }
}

/// Registry constructor of `rmse`.
///
/// # Errors
/// Any key (it takes none).
pub fn build_rmse(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn CurriculumMetric>> {
    let AccuracyConfig {} = parse_config(table)?;
    Ok(Box::new(Rmse))
}
