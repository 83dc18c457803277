//! # psychrnn-sweep
//!
//! A study trains many networks: seeds, parameters, constraints, curricula. A sweep file names
//! base manifests and the axes swept over them; each run is an ordinary run directory whose
//! lock records its overrides, so any one replays with `psychrnn replay`.
//!
//! - [`spec`]: the sweep file.  - [`plan`]: its runs, checked before any starts.
//! - [`dir`]: the sweep directory (plan, runs, logs, attempt records): only files connect the
//!   runs, so a sweep holds on a cluster's shared file system.
//! - [`task`]: one run's attempt, as every executor starts it.
//! - Executors: [`local`] (this machine's cores, child processes) and [`slurm`] (job arrays).
//! - [`status`]: where each run stands (done, running, pending, interrupted, failed).
//! - [`collect`]: tables, summaries over seeds, plots and rank tests.

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod collect;
pub mod dir;
pub mod local;
pub mod plan;
pub mod slurm;
pub mod spec;
pub mod status;
pub mod task;

pub use dir::SweepDir;
pub use plan::{Plan, PlannedRun};
pub use spec::SweepSpec;
pub use status::RunState;
