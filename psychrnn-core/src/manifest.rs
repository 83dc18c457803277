//! The experiment manifest (TOML): what a user writes, and what a run writes back as its lock.
//!
//! Plugin sections are kept as tables here and parsed by the plugin named in their `type`
//! (see [`crate::experiment`]); the fixed sections are typed and reject unknown fields.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matrix::MatrixSpec;
use crate::optim::ClipMode;

/// Default master seed when a manifest gives none.
pub const DEFAULT_SEED: u64 = 1;

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Run name (default: the manifest's file stem); the default output is `runs/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The master seed every random stream derives from.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The task: `type` plus its parameters, including `dt`, `tau`, `T`, `N_batch`.
    pub task: toml::Table,
    /// The network: `type` plus its parameters.
    pub model: toml::Table,
    /// The weight initialiser (default `gaussian_spectral_radius`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initializer: Option<toml::Table>,
    /// The loss (default `mean_squared_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<toml::Table>,
    /// Penalties added to the loss.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regularizers: Vec<toml::Table>,
    /// The optimizer (default `adam`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<toml::Table>,
    /// Training-loop options.
    #[serde(default)]
    pub training: TrainingConfig,
    /// The score used by the curriculum and by `performance_cutoff` (default `accuracy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<toml::Table>,
    /// Closed-loop task shaping: stages of the task, each trained until its threshold is passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curriculum: Option<CurriculumConfig>,
    /// Written by a run into `manifest.lock.toml`: versions and plugin sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockInfo>,
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}

/// Options of the training loop (PsychRNN's `train_params`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// Number of training trials; the loop runs `ceil(training_iters / N_batch)` updates.
    pub training_iters: u64,
    /// Log loss and accuracy every this many updates.
    pub loss_epoch: u64,
    /// Clip gradients before each update.
    pub clip_grads: bool,
    /// How to clip: per tensor (PsychRNN) or by global norm (PyCog).
    pub clip_mode: ClipMode,
    /// The norm bound of clipping.
    pub clip_norm: f64,
    /// Trials in the fresh test batch scored at the end of training.
    pub test_batch_size: usize,
    /// Print progress.
    pub verbosity: bool,
    /// Elementwise freeze masks by parameter name (1 = frozen, 0 = plastic).
    pub fixed_weights: BTreeMap<String, MatrixSpec>,
    /// PsychRNN 1.0.0's off-by-one stop test (`epoch * N_batch < training_iters`): one update fewer.
    pub psychrnn_1_0_compat: bool,
    /// Stop when the metric on a fresh batch passes this value (PsychRNN's `performance_cutoff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_cutoff: Option<f64>,
    /// Check `performance_cutoff` every this many updates (PsychRNN: every update).
    pub performance_epoch: u64,
    /// Write the weights every this many updates into `training_weights/` of the run directory
    /// (PsychRNN's `save_training_weights_epoch`); absent: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_training_weights_epoch: Option<u64>,
}

fn default_metric_epoch() -> u64 {
    10
}

fn default_threshold() -> f64 {
    0.9
}

/// `[curriculum]`: PsychRNN's `Curriculum`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurriculumConfig {
    /// Score the current stage every this many updates.
    #[serde(default = "default_metric_epoch")]
    pub metric_epoch: u64,
    /// The stages, in order.
    pub stages: Vec<StageConfig>,
}

/// One curriculum stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Advance when the metric passes this value (in the metric's better direction).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Keys merged over `[task]` for this stage (e.g. `{ coherence = 0.7 }`, or a whole other
    /// task with the same inputs and outputs).
    #[serde(default)]
    pub task: toml::Table,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            training_iters: 50_000,
            loss_epoch: 10,
            clip_grads: true,
            clip_mode: ClipMode::PerTensor,
            clip_norm: 1.0,
            test_batch_size: 256,
            verbosity: true,
            fixed_weights: BTreeMap::new(),
            psychrnn_1_0_compat: false,
            performance_cutoff: None,
            performance_epoch: 1,
            save_training_weights_epoch: None,
        }
    }
}

impl TrainingConfig {
    /// Checks ranges.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the `training.*` field.
    pub fn validate(&self) -> Result<()> {
        if self.loss_epoch == 0 {
            return Err(Error::invalid("training.loss_epoch", "must be at least 1, got 0"));
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return Err(Error::invalid("training.clip_norm", format!("must be positive, got {}", self.clip_norm)));
        }
        if self.performance_epoch == 0 {
            return Err(Error::invalid("training.performance_epoch", "must be at least 1, got 0"));
        }
        if self.save_training_weights_epoch == Some(0) {
            return Err(Error::invalid("training.save_training_weights_epoch", "must be at least 1, got 0"));
        }
        if self.test_batch_size == 0 {
            return Err(Error::invalid("training.test_batch_size", "must be at least 1, got 0"));
        }
        Ok(())
    }

    /// Number of updates for a batch size (PsychRNN HEAD: `ceil(training_iters / N_batch)`;
    /// with `psychrnn_1_0_compat`, 1.0.0's one fewer).
    pub fn n_updates(&self, n_batch: usize) -> u64 {
        let b = n_batch as u64;
        let head = self.training_iters.div_ceil(b);
        if self.psychrnn_1_0_compat {
            // 1.0.0 loops while epoch * b < iters, epoch starting at 1.
            self.training_iters.saturating_sub(1) / b
        } else {
            head
        }
    }
}

/// Provenance written into a lock manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockInfo {
    /// psychrnn version that wrote the lock.
    pub psychrnn_version: String,
    /// Each plugin used: kind, tag and source (crate and version).
    pub plugins: Vec<LockedPlugin>,
}

/// One plugin in a lock manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPlugin {
    /// Kind (`task`, `model`, ...).
    pub kind: String,
    /// Tag.
    pub tag: String,
    /// Source (crate name and version, or a `.so` path).
    pub source: String,
}

impl Manifest {
    /// Parses a manifest from TOML text; `path` is used in error messages.
    ///
    /// # Errors
    /// [`Error::Manifest`] with the parser's message (line, column, key).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        toml::from_str(text)
            .map_err(|e| Error::Manifest { path: path.to_path_buf(), message: e.to_string().trim_end().to_string() })
    }

    /// Reads and parses a manifest file.
    ///
    /// # Errors
    /// [`Error::Read`] if the file cannot be read, else as [`Manifest::parse`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// The manifest as TOML text.
    ///
    /// # Errors
    /// [`Error::Invalid`] if a value cannot be written as TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::invalid("", format!("cannot write the manifest as TOML: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [task]
        type = "perceptual_discrimination"
        dt = 10
        tau = 100
        T = 2000
        N_batch = 64
        [model]
        type = "basic_rnn"
        N_rec = 50
    "#;

    #[test]
    fn defaults_fill_in() {
        let m = Manifest::parse(MINIMAL, Path::new("m.toml")).unwrap();
        assert_eq!(m.seed, DEFAULT_SEED);
        assert_eq!(m.training, TrainingConfig::default());
        let again = Manifest::parse(&m.to_toml().unwrap(), Path::new("lock")).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn unknown_fields_and_syntax_errors_name_the_place() {
        let bad = format!("{MINIMAL}\n[training]\ntraining_itres = 5\n");
        let msg = Manifest::parse(&bad, Path::new("m.toml")).unwrap_err().to_string();
        assert!(msg.starts_with("m.toml: "), "{msg}");
        assert!(msg.contains("training_itres"), "{msg}");
        let msg = Manifest::parse("[task\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(msg.contains("x.toml") && msg.contains("line 1"), "{msg}");
        let msg = Manifest::parse("seed = 1\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(msg.contains("missing field `task`"), "{msg}");
    }

    #[test]
    fn update_count_follows_psychrnn_head_and_1_0() {
        let mut t = TrainingConfig { training_iters: 128, ..TrainingConfig::default() };
        assert_eq!(t.n_updates(64), 2);
        t.training_iters = 129;
        assert_eq!(t.n_updates(64), 3);
        t.psychrnn_1_0_compat = true;
        assert_eq!(t.n_updates(64), 2);
        t.training_iters = 128;
        assert_eq!(t.n_updates(64), 1);
    }
}
