//! Configuration of `basic_rnn` (PsychRNN's network parameters, with PsychRNN's names).

use psychrnn_core::{MatrixSpec, TransferFunction};
use psychrnn_rate::areas::AreaLayout;

use super::constraint::PositiveFunction;
use serde::{Deserialize, Serialize};

fn yes() -> bool {
    true
}

/// `[model] type = "basic_rnn"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct BasicRnnConfig {
    /// Number of recurrent units.
    pub N_rec: usize,
    /// Recurrent noise sigma: each step adds `sqrt(2 alpha rec_noise^2) N(0, 1)`.
    #[serde(default)]
    pub rec_noise: f64,
    /// Transfer function `f` (relu, tanh, sigmoid, softplus, linear).
    #[serde(default)]
    pub transfer_function: TransferFunction,
    /// Fraction of excitatory units under Dale's principle; absent or 0 turns Dale off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dale_ratio: Option<f64>,
    /// Allow self-connections; `false` zeroes the diagonal of the recurrent mask.
    #[serde(default = "yes")]
    pub autapses: bool,
    /// 0/1 mask `N_rec x N_in` (default all ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_connectivity: Option<MatrixSpec>,
    /// 0/1 mask `N_rec x N_rec` (default all ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rec_connectivity: Option<MatrixSpec>,
    /// 0/1 mask `N_out x N_rec` (default all ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_connectivity: Option<MatrixSpec>,
    /// Multi-area E/I layout that builds the three connectivity masks (instead of giving them);
    /// needs Dale's principle (README: "Multi-area networks").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas: Option<AreaLayout>,
    /// Train `W_in`.
    #[serde(default = "yes")]
    pub W_in_train: bool,
    /// Train `W_rec`.
    #[serde(default = "yes")]
    pub W_rec_train: bool,
    /// Train `W_out`.
    #[serde(default = "yes")]
    pub W_out_train: bool,
    /// Train `b_rec`.
    #[serde(default = "yes")]
    pub b_rec_train: bool,
    /// Train `b_out`.
    #[serde(default = "yes")]
    pub b_out_train: bool,
    /// Train `init_state`.
    #[serde(default = "yes")]
    pub init_state_train: bool,
    /// How Dale's principle makes weights positive: `abs` (PsychRNN) or `rectify` (PyCog).
    #[serde(default)]
    pub positive_function: PositiveFunction,
    /// Fixed, non-plastic values `N_rec x N_in` added to the masked plastic input weights
    /// before the sign constraint (PyCog's `Connectivity(C, Cfixed)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub W_in_fixed: Option<MatrixSpec>,
    /// Fixed values `N_rec x N_rec` added to the plastic recurrent weights (see `W_in_fixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub W_rec_fixed: Option<MatrixSpec>,
    /// Fixed values `N_out x N_rec` added to the plastic output weights (see `W_in_fixed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub W_out_fixed: Option<MatrixSpec>,
    /// Per-unit time constants (ms), one per recurrent unit (PyCog; e.g. faster inhibitory
    /// units); default: the task's `tau` for every unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<Vec<f64>>,
    /// Under Dale's principle, let inhibitory units drive the outputs with negative weights
    /// (PyCog's `W_out diag(ei)`, e.g. for signed eye positions); by default only excitatory
    /// units project to the outputs (PsychRNN).
    #[serde(default)]
    pub inhibitory_readout: bool,
    /// PsychRNN 1.0.0's `Dale_out` (a copy of `Dale_rec`: inhibitory units drive the output
    /// negatively) instead of HEAD's (inhibitory units do not project to the output).
    #[serde(default)]
    pub psychrnn_1_0_compat: bool,
}
