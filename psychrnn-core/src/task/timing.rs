//! The timing every task shares: dt, tau, trial duration T and batch size (PsychRNN's names).

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
}

impl TaskTiming {
    /// Checks the ranges: `dt > 0`, `tau > 0`, `T >= dt`, `N_batch >= 1`, all finite.
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
        if self.n_batch == 0 {
            return Err(Error::invalid("N_batch", "must be at least 1, got 0"));
        }
        Ok(())
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
        TaskTiming { dt, tau, duration, n_batch }
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
    }
}
