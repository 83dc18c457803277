//! The `CurriculumMetric` extension point: a score of the network on a fresh batch.

use ndarray::ArrayView3;

use crate::task::{Task, TrialBatch};

/// Scores the network's outputs on a batch of the current task (e.g. accuracy). Curricula
/// advance, and early stopping triggers, when the score passes a threshold in the direction
/// [`CurriculumMetric::higher_is_better`] declares.
pub trait CurriculumMetric: Send + Sync {
    /// Whether larger scores are better (accuracy) or smaller ones (a loss).
    fn higher_is_better(&self) -> bool {
        true
    }

    /// The score of `outputs` (`[T, B, N_out]`) on `batch` of `task`, whose loss was `loss`.
    fn score(&self, task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, loss: f64) -> f64;
}
