//! The manifest form of a declared task (`[task] type = "epochs"`).

use std::collections::BTreeMap;

use psychrnn_core::task::duration::Duration;
use serde::{Deserialize, Serialize};

/// How a trial draws one condition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged, expecting = "a condition: a list of values, or { uniform = [min, max] }")]
pub enum Condition {
    /// One of the values, each equally likely.
    Values(Vec<f64>),
    /// Uniform in `[min, max)`.
    Uniform {
        /// `[min, max]`.
        uniform: [f64; 2],
    },
}

/// A number, or an expression of the trial's conditions and time (see
/// [`psychrnn_core::task::expr`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged, expecting = "a number or an expression in a string, e.g. \"1 + coherence * (direction == 0)\"")]
pub enum Value {
    /// A constant.
    Number(f64),
    /// An expression.
    Expression(String),
}

impl Default for Value {
    fn default() -> Self {
        Value::Number(0.0)
    }
}

/// One epoch of the trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EpochConfig {
    /// The epoch's name (its start time is recorded under it in the trial's parameters).
    pub name: String,
    /// How long it lasts.
    pub duration: Duration,
    /// Values of input channels during the epoch, by channel name (others are 0).
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
    /// Target values of output channels during the epoch, by channel name (others are 0).
    #[serde(default)]
    pub targets: BTreeMap<String, Value>,
    /// Loss mask of every output channel during the epoch (0: not trained, the default).
    #[serde(default)]
    pub mask: Value,
}

/// Which trials count as correct.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Accuracy {
    /// PsychRNN's: the argmax of the masked, time-averaged output against that of the target,
    /// over the trials with a choice (catch trials left out).
    #[default]
    Choice,
    /// PyCog's: the larger output at the trial's last step against the recorded choice.
    ChoiceAtEnd,
}

/// `[task] type = "epochs"` (plus `dt`, `tau`, `T`, `N_batch`, ...): a task written in the
/// manifest. Expressions may read the conditions, `catch` (1 on catch trials), `t` (ms since
/// the trial began) and `t_epoch` (ms since the epoch began).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EpochsConfig {
    /// Names of the input channels, in order (`N_in` is their number; may be empty).
    pub inputs: Vec<String>,
    /// Names of the output channels, in order.
    pub outputs: Vec<String>,
    /// The trial conditions, drawn in name order at the start of every trial.
    #[serde(default)]
    pub conditions: BTreeMap<String, Condition>,
    /// The epochs, in order; trials end with the last one (variable length unless it lasts
    /// `"rest"` of `T`).
    pub epoch: Vec<EpochConfig>,
    /// Probability of a catch trial (`catch` = 1 in the expressions).
    #[serde(default)]
    pub catch_probability: f64,
    /// PsychRNN's stimulus noise on every input channel at every step (as
    /// `perceptual_discrimination`'s `stim_noise`; PyCog's input noise is `[task] sigma_in`).
    #[serde(default)]
    pub stim_noise: f64,
    /// Round every drawn duration down to a multiple of `dt` (PyCog's durations).
    #[serde(default)]
    pub round_durations: bool,
    /// How performance is measured.
    #[serde(default)]
    pub accuracy: Accuracy,
    /// How `psychrnn analyze` sweeps the task (none: behavioural analyses are refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisConfig>,
}

/// `[task.analysis]`: the condition grid and choice readout of a declared task for
/// `psychrnn analyze`. Expressions read the conditions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Values of conditions to sweep (every combination); conditions left out keep their draws.
    pub grid: BTreeMap<String, Vec<f64>>,
    /// The signed stimulus of psychometric curves (positive: evidence for the first output).
    pub signed_stimulus: String,
    /// The correct output channel's index (a negative value: no choice is correct).
    pub correct_choice: String,
    /// What the signed stimulus is, for axis labels.
    #[serde(default = "default_stimulus_label")]
    pub stimulus_label: String,
    /// The epoch during which the stimulus is on (selectivity, PCA, regression, tuning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stimulus_epoch: Option<String>,
    /// How a choice is read: `masked_mean` (PsychRNN's), `at_end` (PyCog's variable
    /// stimulus), or `{ threshold = 1.0 }` (reaction times).
    #[serde(default)]
    pub readout: ReadoutConfig,
}

fn default_stimulus_label() -> String {
    "signed stimulus".into()
}

/// How a choice is read from the outputs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadoutConfig {
    /// The output with the largest mean over the masked steps.
    #[default]
    MaskedMean,
    /// The largest output at the trial's last step.
    AtEnd,
    /// The first output to reach the threshold after stimulus onset, with its reaction time.
    Threshold(f64),
}
