//! # psychrnn-core
//!
//! The contract of psychrnn, a framework for training recurrent neural networks on cognitive
//! tasks (the Rust successor of PsychRNN and PyCog). Lab plugins depend on this crate alone.
//!
//! - The seven extension points: [`Task`], [`Model`], [`WeightInitializer`], [`LossFunction`],
//!   [`Regularizer`], [`Optimizer`], [`CurriculumMetric`].
//! - Data: [`TrialBatch`] (time-major trials), [`ParamSet`] (named tensors), [`Trajectory`].
//! - Set-up: [`Manifest`] (TOML) → [`Registry`] lookup → validated [`Experiment`].
//! - Running: [`train`] (BPTT loop) over [`evaluate_objective`], writing a run directory with
//!   [`write_run`].
//! - Biological structure: multi-area E/I connectivity ([`areas`]), PyCog's defaults ([`preset`]).
//! - Support: seeded named random [`rng`] streams, `.npz` output ([`npz`]), errors ([`Error`]).

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod areas;
pub mod array;
pub mod checkpoint;
pub mod dynamics;
pub mod error;
pub mod experiment;
pub mod init;
pub mod loss;
pub mod manifest;
pub mod matrix;
pub mod metric;
pub mod model;
pub mod npz;
pub mod objective;
pub mod omega;
pub mod optim;
pub mod params;
pub mod plot;
pub mod plugin;
pub mod preset;
pub mod real;
pub mod registry;
pub mod regularizer;
pub mod rng;
pub mod run_dir;
pub mod simulator;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod trainer;

pub use error::{Error, Result};
pub use experiment::Experiment;
pub use init::{InitContext, WeightInitializer};
pub use loss::LossFunction;
pub use manifest::{CurriculumConfig, Manifest, StageConfig, TrainingConfig};
pub use matrix::MatrixSpec;
pub use metric::CurriculumMetric;
pub use model::{BackwardSeeds, Model, ModelContext, Trajectory, TransferFunction};
pub use objective::{BatchView, ObjectiveBuffers, ObjectiveValue, evaluate_objective};
pub use optim::{ClipMode, Optimizer, OptimizerState};
pub use params::{DefaultInit, ParamRole, ParamSet, ParamSpec};
pub use real::Real;
pub use registry::{BuildContext, Entry, ParamDoc, Registry, config_table, params_of, parse_config};
pub use regularizer::{Regularizer, RegularizerGrads, RegularizerInput};
pub use rng::{Noise, Purpose, Rng};
pub use run_dir::write_run;
pub use schemars;
pub use simulator::Simulator;
pub use task::{Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
pub use trainer::{
    Evaluation, MetricsRow, StopReason, TrainingObserver, TrainingOutcome, TrainingState, evaluate, train, train_from,
};

/// The psychrnn version (of this crate), written into lock manifests and summaries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
