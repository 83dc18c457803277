//! What training produces and keeps: logged rows, metric checks, the resumable state, why it
//! stopped, and its outcome.

use ndarray::Array2;
use serde::Serialize;

use psychrnn_core::optim::OptimizerState;
use psychrnn_core::{ParamSet, Trajectory, TrialBatch};

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
    /// The experiment's metric (`[metric]`: accuracy, or RMSE for trajectory tasks) on that
    /// batch: the column `metrics.csv` shows.
    #[serde(default)]
    pub metric: f64,
    /// Curriculum stage (0 without a curriculum).
    pub stage: usize,
    /// Seconds since training started.
    pub wall_seconds: f64,
}

impl MetricsRow {
    /// The row's score under the run's metric `metric` (its tag): the accuracy for `accuracy`
    /// (also in rows of checkpoints written before `metric` was recorded), else `metric`.
    pub fn score(&self, metric: &str) -> f64 {
        if metric == "accuracy" { self.accuracy } else { self.metric }
    }
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
    pub optimizer: OptimizerState,
    /// Logged rows so far.
    pub metrics: Vec<MetricsRow>,
    /// Curriculum checks (or, without a curriculum, `performance_cutoff` checks) so far.
    pub metric_history: Vec<MetricRecord>,
    /// Continuous training: the states `[N_batch, N_rec]` the next update's trials start from.
    pub carry: Option<Array2<f32>>,
}

/// Why training stopped.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
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

/// The result of [`crate::train`].
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
    pub carry: Option<Array2<f32>>,
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
    /// The experiment's metric (`[metric]`, e.g. accuracy or RMSE), the score training stops on.
    pub metric: f64,
}
