//! What every task shares: dt, tau, trial duration T and batch size (PsychRNN's names), and
//! the optional PyCog input conditioning (baseline, input noise, rectification) applied to every
//! trial after the task has written its signal.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Time step, time constant, trial duration and training batch size, in PsychRNN's units (ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskTiming {
    /// Simulation time step (ms).
    pub dt: f64,
    /// Unit time constant (ms); `alpha = dt / tau`.
    pub tau: f64,
    /// Trial duration (ms); `n_steps = ceil(T / dt)`.
    #[serde(rename = "T")]
    pub duration: f64,
    /// Trials per training batch.
    #[serde(rename = "N_batch")]
    pub n_batch: usize,
    /// PyCog's `baseline_in`: added to every input channel at every step (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub baseline_in: f64,
    /// PyCog's input noise sigma (`sqrt(var_in)`): each step adds `sqrt(2 tau_in / dt) sigma_in
    /// N(0, 1)` to every input channel (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sigma_in: f64,
    /// Time constant (ms) scaling the input noise (PyCog's `tau_in`; default: `tau`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau_in: Option<f64>,
    /// Clip `signal + baseline + noise` at 0 (PyCog's `rectify_inputs`; default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rectify_inputs: bool,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// The most time steps a trial may have (`ceil(T / dt)`): a million steps is over 16 minutes of
/// trial at dt = 1 ms, far beyond any cognitive task, and bounds what a typo in `T` or `dt`
/// would ask to allocate.
pub const MAX_STEPS: f64 = 1e6;

impl TaskTiming {
    /// Timing without input conditioning.
    pub fn new(dt: f64, tau: f64, duration: f64, n_batch: usize) -> Self {
        TaskTiming { dt, tau, duration, n_batch, baseline_in: 0.0, sigma_in: 0.0, tau_in: None, rectify_inputs: false }
    }

    /// The keys of a `[task]` table that belong to [`TaskTiming`] (the first four are required).
    pub const KEYS: [&'static str; 8] =
        ["dt", "tau", "T", "N_batch", "baseline_in", "sigma_in", "tau_in", "rectify_inputs"];

    /// Checks the ranges: `dt > 0`, `tau > 0`, `T >= dt`, `T / dt <=` [`MAX_STEPS`],
    /// `N_batch >= 1`, all finite.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field (`dt`, `tau`, `T` or `N_batch`) and its value.
    pub fn validate(&self) -> Result<()> {
        if !(self.dt.is_finite() && self.dt > 0.0) {
            return Err(Error::invalid("dt", format!("must be a positive number of ms, got {}", self.dt)));
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(Error::invalid("tau", format!("must be a positive number of ms, got {}", self.tau)));
        }
        if !(self.duration.is_finite() && self.duration >= self.dt) {
            return Err(Error::invalid("T", format!("must be at least dt ({}) ms, got {}", self.dt, self.duration)));
        }
        if (self.duration / self.dt).ceil() > MAX_STEPS {
            return Err(Error::invalid(
                "T",
                format!(
                    "T / dt = {} / {} gives {:.3e} time steps per trial; at most {MAX_STEPS:.0e} are allowed (is a unit off? both are in ms)",
                    self.duration,
                    self.dt,
                    (self.duration / self.dt).ceil()
                ),
            ));
        }
        if self.n_batch == 0 {
            return Err(Error::invalid("N_batch", "must be at least 1, got 0"));
        }
        if !self.baseline_in.is_finite() {
            return Err(Error::invalid("baseline_in", format!("must be finite, got {}", self.baseline_in)));
        }
        if !(self.sigma_in.is_finite() && self.sigma_in >= 0.0) {
            return Err(Error::invalid("sigma_in", format!("must be >= 0, got {}", self.sigma_in)));
        }
        if let Some(t) = self.tau_in.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(Error::invalid("tau_in", format!("must be a positive number of ms, got {t}")));
        }
        Ok(())
    }

    /// Whether any input conditioning is on.
    pub fn conditions_inputs(&self) -> bool {
        self.baseline_in != 0.0 || self.sigma_in > 0.0 || self.rectify_inputs
    }

    /// Standard deviation of the per-step input noise, `sqrt(2 tau_in / dt) sigma_in` (PyCog).
    pub fn input_noise_std(&self) -> f64 {
        (2.0 * self.tau_in.unwrap_or(self.tau) / self.dt).sqrt() * self.sigma_in
    }

    /// `alpha = dt / tau`.
    pub fn alpha(&self) -> f64 {
        self.dt / self.tau
    }

    /// Number of time steps, `ceil(T / dt)`.
    pub fn n_steps(&self) -> usize {
        (self.duration / self.dt).ceil() as usize
    }

    /// The time (ms) of step `s`, `s * dt` (PsychRNN's `trial_function` clock starts at 0).
    pub fn time_of(&self, step: usize) -> f64 {
        step as f64 * self.dt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(dt: f64, tau: f64, duration: f64, n_batch: usize) -> TaskTiming {
        TaskTiming::new(dt, tau, duration, n_batch)
    }

    #[test]
    fn steps_and_alpha_follow_psychrnn() {
        let t = timing(10.0, 100.0, 2000.0, 64);
        assert_eq!(t.n_steps(), 200);
        assert!((t.alpha() - 0.1).abs() < 1e-15);
        assert_eq!(timing(10.0, 100.0, 2005.0, 1).n_steps(), 201);
        assert_eq!(t.time_of(3), 30.0);
    }

    #[test]
    fn invalid_values_are_named() {
        let msg = |t: TaskTiming| t.validate().unwrap_err().to_string();
        assert!(msg(timing(0.0, 100.0, 2000.0, 1)).starts_with("dt: "));
        assert!(msg(timing(-1.0, 100.0, 2000.0, 1)).starts_with("dt: "));
        assert!(msg(timing(10.0, 0.0, 2000.0, 1)).starts_with("tau: "));
        assert!(msg(timing(10.0, 100.0, 5.0, 1)).starts_with("T: must be at least dt"));
        assert!(msg(timing(10.0, 100.0, 2000.0, 0)).starts_with("N_batch: "));
        assert!(timing(10.0, 100.0, 10.0, 1).validate().is_ok());
        assert!(msg(timing(1e-300, 100.0, 2000.0, 1)).contains("time steps per trial; at most 1e6"));
        assert!(msg(timing(10.0, 100.0, 1e300, 1)).starts_with("T: T / dt"));
        assert!(timing(1.0, 100.0, 1e6, 1).validate().is_ok());
        assert!(msg(TaskTiming { sigma_in: -0.1, ..timing(10.0, 100.0, 20.0, 1) }).starts_with("sigma_in: "));
        assert!(msg(TaskTiming { tau_in: Some(0.0), ..timing(10.0, 100.0, 20.0, 1) }).starts_with("tau_in: "));
    }

    #[test]
    fn input_noise_is_scaled_by_tau_in_as_in_pycog() {
        let t = TaskTiming { sigma_in: 0.01, ..timing(20.0, 100.0, 2000.0, 1) };
        assert!((t.input_noise_std() - 0.01 * 10f64.sqrt()).abs() < 1e-15);
        let t = TaskTiming { tau_in: Some(20.0), ..t };
        assert!((t.input_noise_std() - 0.01 * 2f64.sqrt()).abs() < 1e-15);
        assert!(t.conditions_inputs() && !timing(20.0, 100.0, 2000.0, 1).conditions_inputs());
    }
}
