//! # psychrnn-core
//!
//! The contract of psychrnn, a framework for training recurrent neural networks on cognitive
//! tasks (the Rust successor of PsychRNN and PyCog). Lab plugins depend on this crate alone.
//!
//! - The seven extension points: [`Task`], [`Model`], [`WeightInitializer`], [`LossFunction`],
//!   [`Regularizer`], [`Optimizer`], [`CurriculumMetric`].
//! - Data: [`TrialBatch`] (time-major trials), [`ParamSet`] (named tensors), [`Trajectory`].
//! - Set-up: [`Manifest`] (TOML schema; PyCog's defaults in [`preset`]) → plugins resolved by
//!   tag in a [`Registry`]; a plugin is a type declaring itself once ([`Plugin`]).
//! - The objective every engine and the gradient checks share: [`evaluate_objective`].
//! - Support: seeded named random [`rng`] streams, `.npz` files ([`npz`]), errors ([`Error`]),
//!   dynamic plugins ([`plugin`]: the `.so` declaration and, with feature `dylib`, the loader),
//!   and the conformance kit for plugin authors (`testing`, feature `testing`).
//!
//! No numeric backend: the engines above this crate (`psychrnn-rate`: kernels, simulator;
//! `psychrnn-train`: experiment, trainer, run directory) bring faer and rayon, a lab's plugin
//! does not.

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod array;
pub mod error;
pub mod init;
pub mod loss;
pub mod manifest;
pub mod matrix;
pub mod metric;
pub mod model;
pub mod npz;
pub mod objective;
pub mod optim;
pub mod params;
pub mod plugin;
pub mod preset;
pub mod real;
pub mod registry;
pub mod regularizer;
pub mod rng;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, ManifestError, PluginLoadError, Result};
pub use init::{InitContext, WeightInitializer};
pub use loss::LossFunction;
pub use manifest::{CurriculumConfig, Manifest, StageConfig, TrainingConfig};
pub use matrix::MatrixSpec;
pub use metric::CurriculumMetric;
pub use model::{BackwardSeeds, Model, ModelContext, OmegaRequest, Trajectory, TransferFunction};
pub use objective::{BatchView, Chunks, ObjectiveBuffers, ObjectiveValue, evaluate_in_chunks, evaluate_objective};
pub use optim::{ClipMode, Optimizer, OptimizerState};
pub use params::{DefaultInit, ParamRole, ParamSet, ParamSpec};
pub use real::Real;
pub use registry::{
    BuildContext, Built, Entry, Kind, ParamDoc, Plugin, Registry, config_table, params_of, parse_config,
};
pub use regularizer::{Regularizer, RegularizerGrads, RegularizerInput};
pub use rng::{Noise, Purpose, Rng};
pub use schemars;
pub use task::{Task, TaskTiming, TrialBatch, TrialMut, TrialParams};

/// The psychrnn version (of this crate), written into lock manifests and summaries.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
