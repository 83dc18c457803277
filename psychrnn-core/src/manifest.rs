//! The experiment manifest (TOML): what a user writes, and what a run writes back as its lock.
//!
//! Plugin sections are kept as tables here and parsed by the plugin named in their `type`
//! (see `psychrnn_train::experiment`); the fixed sections are typed and reject unknown fields.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ManifestError, Result};
use crate::matrix::MatrixSpec;
use crate::optim::ClipMode;

/// PyCog's default `lambda_Omega` (`[training.omega] lambda`).
pub const DEFAULT_OMEGA_LAMBDA: f64 = 2.0;
/// PyCog's default Omega `bound` (`[training.omega] bound`).
pub const DEFAULT_OMEGA_BOUND: f64 = 1e-20;
/// Default `[training] test_states_mb`: the unit states a run directory keeps of its test trials.
pub const DEFAULT_TEST_STATES_MB: f64 = 64.0;
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
    /// Defaults of another framework filled in where the manifest says nothing
    /// (`"pycog"`: see [`crate::preset`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
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
    /// Plugin libraries (`.so`) to load before resolving the plugin tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PluginsConfig>,
    /// Written by a run into `manifest.lock.toml`: versions and plugin sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockInfo>,
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}

/// Options of the training loop (PsychRNN's `train_params`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// At most this many megabytes (1e6 bytes) of unit states in `test_trials.npz`: the states
    /// of the first test trials that fit (at least one) are saved; inputs, targets, mask and
    /// outputs always cover every test trial. Keeps large networks' run directories small
    /// (PyCog's Romo network would write over 500 MB); `psychrnn simulate` gives any trials' states.
    pub test_states_mb: f64,
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
    /// Stop when the mean of the last this-many checks passes `performance_cutoff` (PyCog: 5).
    pub performance_window: usize,
    /// Trials in each validation batch of the `performance_cutoff` checks (default: `N_batch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_batch_size: Option<usize>,
    /// PyCog's continuous mode: each update's trials start from the states where the previous
    /// update's trials ended, instead of the initial state (which then gets no gradient).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continuous: bool,
    /// PyCog's vanishing-gradient regulariser Omega (see `psychrnn_rate::omega`), off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omega: Option<OmegaConfig>,
    /// PyCog's (after Pascanu) safeguard: when the gradient norm is NaN, infinite or above 1e10,
    /// the update shrinks the recurrent weights by `0.02 * learning rate` instead of following
    /// the gradient, and training goes on (otherwise a non-finite gradient stops training).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gradient_safeguard: bool,
    /// Write the weights every this many updates into `training_weights/` of the run directory
    /// (PsychRNN's `save_training_weights_epoch`); absent: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_training_weights_epoch: Option<u64>,
    /// Write a resumable checkpoint every this many updates (0: never).
    pub checkpoint_epoch: u64,
    /// Threads: 2 or more runs the two halves of each batch on two cores and generates the next
    /// update's trials on a helper thread; 1 does everything on one thread. Results are
    /// identical.
    pub threads: usize,
}

/// `[training.omega]`: the multiplier and bound of PyCog's Omega regulariser.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OmegaConfig {
    /// `lambda_Omega` (PyCog: 2).
    #[serde(default = "default_omega_lambda")]
    pub lambda: f64,
    /// Steps whose `|dL/dx|^2` is below this are ignored (PyCog: 1e-20).
    #[serde(default = "default_omega_bound")]
    pub bound: f64,
}

fn default_omega_lambda() -> f64 {
    DEFAULT_OMEGA_LAMBDA
}

fn default_omega_bound() -> f64 {
    DEFAULT_OMEGA_BOUND
}

fn default_metric_epoch() -> u64 {
    10
}

fn default_threshold() -> f64 {
    0.9
}

/// `[curriculum]`: PsychRNN's `Curriculum`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CurriculumConfig {
    /// Score the current stage every this many updates.
    #[serde(default = "default_metric_epoch")]
    pub metric_epoch: u64,
    /// The stages, in order.
    pub stages: Vec<StageConfig>,
}

/// One curriculum stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Advance when the metric passes this value (in the metric's better direction).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Keys merged over `[task]` for this stage (e.g. `{ coherence = 0.7 }`, or a whole other
    /// task with the same inputs and outputs).
    #[serde(default)]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
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
            test_states_mb: DEFAULT_TEST_STATES_MB,
            verbosity: true,
            fixed_weights: BTreeMap::new(),
            psychrnn_1_0_compat: false,
            performance_cutoff: None,
            performance_epoch: 1,
            performance_window: 1,
            validation_batch_size: None,
            continuous: false,
            omega: None,
            gradient_safeguard: false,
            save_training_weights_epoch: None,
            checkpoint_epoch: 100,
            threads: 2,
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
        if self.performance_window == 0 {
            return Err(Error::invalid("training.performance_window", "must be at least 1, got 0"));
        }
        if self.validation_batch_size == Some(0) {
            return Err(Error::invalid("training.validation_batch_size", "must be at least 1, got 0"));
        }
        if let Some(o) = &self.omega {
            if !(o.lambda.is_finite() && o.lambda >= 0.0) {
                return Err(Error::invalid("training.omega.lambda", format!("must be >= 0, got {}", o.lambda)));
            }
            if !(o.bound.is_finite() && o.bound >= 0.0) {
                return Err(Error::invalid("training.omega.bound", format!("must be >= 0, got {}", o.bound)));
            }
        }
        if self.save_training_weights_epoch == Some(0) {
            return Err(Error::invalid("training.save_training_weights_epoch", "must be at least 1, got 0"));
        }
        if self.threads == 0 {
            return Err(Error::invalid("training.threads", "must be at least 1, got 0"));
        }
        if !(self.test_states_mb.is_finite() && self.test_states_mb >= 0.0) {
            return Err(Error::invalid(
                "training.test_states_mb",
                format!("must be a number of megabytes >= 0, got {}", self.test_states_mb),
            ));
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

/// `[plugins]`: libraries built from lab crates (see `psychrnn_core::plugin`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    /// Paths of `.so` files, relative to the manifest.
    pub paths: Vec<std::path::PathBuf>,
}

impl Manifest {
    /// The plugin libraries this manifest asks for, made absolute against `base_dir`.
    pub fn plugin_paths(&self, base_dir: &Path) -> Vec<std::path::PathBuf> {
        self.plugins
            .iter()
            .flat_map(|p| p.paths.iter())
            .map(|p| std::path::absolute(base_dir.join(p)).unwrap_or_else(|_| base_dir.join(p)))
            .collect()
    }

    /// [`Manifest::plugin_paths`] followed by `extra` (e.g. the command line's `--plugin`
    /// libraries, made absolute against the working directory), each library once.
    pub fn plugin_paths_with(&self, base_dir: &Path, extra: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
        let mut paths = self.plugin_paths(base_dir);
        for p in extra {
            let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        paths
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
    /// Command-line overrides (`--set`) applied to the manifest this lock resolves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
}

/// Applies a command-line override `a.b.c=value` (also `regularizers[0].coefficient=...`) to a
/// manifest's TOML tree. The value is read as TOML (`64`, `0.5`, `true`, `"relu"`, `[1, 2]`),
/// and as a plain string when it is not valid TOML (`transfer_function=tanh`).
///
/// # Errors
/// [`Error::Invalid`] naming the override if it has no `=`, or its path does not lead through
/// tables and arrays.
pub fn apply_override(root: &mut toml::Table, assignment: &str) -> Result<()> {
    let field = format!("--set {assignment}");
    let (path, value) = assignment.split_once('=').ok_or_else(|| Error::invalid(&field, "expected key.path=value"))?;
    let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut keys: Vec<(&str, Option<usize>)> = Vec::new();
    for part in path.trim().split('.') {
        match part.split_once('[') {
            Some((k, rest)) => {
                let i = rest
                    .trim_end_matches(']')
                    .parse()
                    .map_err(|_| Error::invalid(&field, format!("`{part}`: bad index")))?;
                keys.push((k, Some(i)));
            }
            None => keys.push((part, None)),
        }
    }
    let Some(((last, last_index), parents)) = keys.split_last() else {
        return Err(Error::invalid(&field, "empty key path"));
    };
    let mut table = root;
    for (key, index) in parents {
        let entry = table.entry(key.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let entry = match (entry, index) {
            (toml::Value::Array(items), Some(i)) => {
                items.get_mut(*i).ok_or_else(|| Error::invalid(&field, format!("`{key}` has no element {i}")))?
            }
            (v, None) => v,
            _ => return Err(Error::invalid(&field, format!("`{key}` is not an array"))),
        };
        table = entry.as_table_mut().ok_or_else(|| Error::invalid(&field, format!("`{key}` is not a table")))?;
    }
    match last_index {
        None => {
            table.insert(last.to_string(), value);
        }
        Some(i) => {
            let slot = table.get_mut(*last).and_then(|v| v.as_array_mut()).and_then(|a| a.get_mut(*i));
            *slot.ok_or_else(|| Error::invalid(&field, format!("`{last}` has no element {i}")))? = value;
        }
    }
    Ok(())
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
    /// [`Error::Manifest`] holding the parser's error (its message names line, column and key).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        Self::from_tree(Self::tree(text, path)?, path, "")
    }

    fn tree(text: &str, path: &Path) -> Result<toml::Table> {
        toml::from_str(text).map_err(|source| {
            Error::Manifest(Box::new(ManifestError { path: path.to_path_buf(), context: "", source }))
        })
    }

    /// The manifest of a parsed TOML tree, after its preset; `context` prefixes parse errors.
    fn from_tree(mut tree: toml::Table, path: &Path, context: &'static str) -> Result<Self> {
        crate::preset::apply_preset(&mut tree)?;
        toml::Value::Table(tree).try_into().map_err(|source: toml::de::Error| {
            Error::Manifest(Box::new(ManifestError { path: path.to_path_buf(), context, source }))
        })
    }

    /// Reads and parses a manifest file.
    ///
    /// # Errors
    /// [`Error::Read`] if the file cannot be read, else as [`Manifest::parse`].
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with_overrides(path, &[])
    }

    /// Reads a manifest file and applies command-line overrides (see [`apply_override`]).
    ///
    /// # Errors
    /// As [`Manifest::load`] and [`apply_override`].
    pub fn load_with_overrides(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Self::parse_with_overrides(&text, path, overrides)
    }

    /// Parses manifest text and applies command-line overrides (see [`apply_override`]); `path`
    /// names the manifest in error messages.
    ///
    /// # Errors
    /// As [`Manifest::parse`] and [`apply_override`].
    pub fn parse_with_overrides(text: &str, path: &Path, overrides: &[String]) -> Result<Self> {
        let mut tree = Self::tree(text, path)?;
        for o in overrides {
            apply_override(&mut tree, o)?;
        }
        Self::from_tree(tree, path, if overrides.is_empty() { "" } else { "after --set: " })
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
        let e = Manifest::parse("[task\n", Path::new("x.toml")).unwrap_err();
        let parser_error = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<toml::de::Error>());
        assert!(parser_error.is_some(), "the TOML error is kept as a typed source");
        let msg = e.to_string();
        assert!(msg.contains("x.toml") && msg.contains("line 1"), "{msg}");
        let msg = Manifest::parse("seed = 1\n", Path::new("x.toml")).unwrap_err().to_string();
        assert!(msg.contains("missing field `task`"), "{msg}");
    }

    #[test]
    fn overrides_set_values_by_path() {
        let mut t: toml::Table = toml::from_str(MINIMAL).unwrap();
        t.insert("regularizers".into(), toml::Value::Array(vec![toml::Value::Table(toml::Table::new())]));
        for o in [
            "model.N_rec=64",
            "model.transfer_function=tanh",
            "training.training_iters=128",
            "regularizers[0].coefficient=0.5",
            "seed=9",
        ] {
            apply_override(&mut t, o).unwrap();
        }
        assert_eq!(t["model"]["N_rec"].as_integer(), Some(64));
        assert_eq!(t["model"]["transfer_function"].as_str(), Some("tanh"));
        assert_eq!(t["training"]["training_iters"].as_integer(), Some(128));
        assert_eq!(t["regularizers"][0]["coefficient"].as_float(), Some(0.5));
        assert_eq!(t["seed"].as_integer(), Some(9));
        assert!(apply_override(&mut t, "model.N_rec").unwrap_err().to_string().contains("expected key.path=value"));
        assert!(apply_override(&mut t, "regularizers[3].x=1").unwrap_err().to_string().contains("has no element 3"));
        assert!(apply_override(&mut t, "seed.x=1").unwrap_err().to_string().contains("`seed` is not a table"));
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
