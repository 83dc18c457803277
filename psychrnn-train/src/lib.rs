//! # psychrnn-train
//!
//! The training engine, and the library API a lab (or a front-end) drives:
//!
//! - [`experiment`]: a manifest (file, string or parsed value) resolved in a registry into a
//!   validated [`Experiment`].
//! - [`trainer`]: a [`Trainer`] over one loop state, with named steps a caller can drive one by
//!   one ([`Trainer::update`] on the task's or the caller's batch, reporting loss, gradient
//!   norms, clipping and the NaN guard as an [`UpdateReport`]; the log, curriculum and cutoff
//!   checks) or all to the end ([`Trainer::run`], [`train`], [`train_from`]) with pluggable
//!   [`TrainingObserver`]s; raw parameters in and out, effective weights, a forward pass on
//!   given inputs; [`evaluate`] on fresh trials. Process settings (flush-to-zero, threads) are
//!   set only while a computation runs and restored after it.
//! - [`checkpoint`]: resumable training state on disk.
//! - [`memory`]: the memory a run needs, checked against what the process may use before
//!   anything is allocated.
//! - [`run_dir`]: the run directory (lock, weights, metrics, summary, plots): [`write_run`].
//! - [`run_lock`]: a run directory held by the one process writing it.
//! - [`plot`]: the SVG line charts of a run.

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod checkpoint;
pub mod experiment;
pub mod memory;
pub mod plot;
pub mod run_dir;
pub mod run_lock;
pub mod trainer;

pub use experiment::Experiment;
pub use run_dir::write_run;
pub use trainer::{
    Evaluation, MetricsRow, Observers, StopReason, Trainer, TrainingObserver, TrainingOutcome, TrainingState,
    UpdateReport, evaluate, train, train_from,
};
