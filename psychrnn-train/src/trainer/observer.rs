//! [`TrainingObserver`]: the pluggable parts of a training run (progress display, log files,
//! periodic weights, checkpoints, Ctrl-C), called by [`Trainer::run`](super::Trainer::run).

use psychrnn_core::Result;
use psychrnn_core::npz::NpyArray;

use super::UpdateReport;
use super::records::{MetricRecord, MetricsRow, StopReason, TrainingState};

/// Hooks called by [`Trainer::run`](super::Trainer::run), in this order: `on_start`, then `on_update` after every update
/// (with `on_log`, `on_weights` and `on_metric` at their epochs), then `on_end`.
pub trait TrainingObserver {
    /// Before the first update.
    fn on_start(&mut self, total_updates: u64) {
        let _ = total_updates;
    }
    /// After each update that counted (the loss before it, gradient norms, clipping).
    fn on_update(&mut self, report: &UpdateReport) {
        let _ = report;
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

/// Several observers as one, each told of every event in order: e.g. a progress display, a
/// metrics logger and a checkpoint writer, each its own part. The first error stops the rest;
/// training stops when any of them asks.
pub struct Observers<'a>(pub Vec<&'a mut dyn TrainingObserver>);

impl TrainingObserver for Observers<'_> {
    fn on_start(&mut self, total_updates: u64) {
        self.0.iter_mut().for_each(|o| o.on_start(total_updates));
    }
    fn on_update(&mut self, report: &UpdateReport) {
        self.0.iter_mut().for_each(|o| o.on_update(report));
    }
    fn on_log(&mut self, row: &MetricsRow) {
        self.0.iter_mut().for_each(|o| o.on_log(row));
    }
    fn on_weights(&mut self, iteration: u64, arrays: &[NpyArray]) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.on_weights(iteration, arrays))
    }
    fn on_metric(&mut self, record: &MetricRecord) {
        self.0.iter_mut().for_each(|o| o.on_metric(record));
    }
    fn on_checkpoint(&mut self, state: &TrainingState) -> Result<()> {
        self.0.iter_mut().try_for_each(|o| o.on_checkpoint(state))
    }
    fn should_stop(&self) -> bool {
        self.0.iter().any(|o| o.should_stop())
    }
    fn on_end(&mut self, reason: &StopReason) {
        self.0.iter_mut().for_each(|o| o.on_end(reason));
    }
}
