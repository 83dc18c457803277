//! # psychrnn-train
//!
//! The training engine, and the library API a lab (or a front-end) drives:
//!
//! - [`experiment`]: a manifest (file, string or parsed value) resolved in a registry into a
//!   validated [`Experiment`].
//! - [`trainer`]: [`train`] / [`train_from`] (BPTT with masks, clipping, the NaN guard,
//!   validation, curriculum) and the [`TrainingObserver`] hooks; [`evaluate`] on fresh trials.
//! - [`checkpoint`]: resumable training state on disk.
//! - [`run_dir`]: the run directory (lock, weights, metrics, summary, plots): [`write_run`].
//! - [`plot`]: the SVG line charts of a run.

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod checkpoint;
pub mod experiment;
pub mod plot;
pub mod run_dir;
pub mod trainer;

pub use experiment::Experiment;
pub use run_dir::write_run;
pub use trainer::{
    Evaluation, MetricsRow, StopReason, TrainingObserver, TrainingOutcome, TrainingState, evaluate, train, train_from,
};
