//! `pycog_sine`: PyCog's autonomous sine-wave generator: no inputs, one output whose target is
//! `sin(2 pi t / period)` over the whole trial (all of it in the mask), trials lasting 2 or 3
//! whole periods (drawn). Whole periods keep the target's phase continuous from one trial to
//! the next, so the task also makes sense run continuously (`training.continuous`), where each
//! trial starts where the previous one ended and the network, without inputs, cannot see a
//! trial boundary.
//! Accuracy: the fraction of trials whose RMSE is within `tolerance`.

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::blocks;
use psychrnn_core::{Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use serde::{Deserialize, Serialize};

use rand::RngExt;

use super::{check_durations, check_fits, n_steps};

/// The registry tag.
pub const TAG: &str = "pycog_sine";

fn tolerance() -> f64 {
    0.05
}

/// `[task] type = "pycog_sine"` (durations in ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SineConfig {
    /// Period of the sine wave (default: 8 tau, PyCog's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<f64>,
    /// A trial counts as correct when its RMSE is at most this (PyCog's target: 0.05).
    #[serde(default = "tolerance")]
    pub tolerance: f64,
}

/// The task.
pub struct Sine {
    config: SineConfig,
    timing: TaskTiming,
    period: f64,
}

impl Plugin for Sine {
    type Kind = dyn Task;
    type Config = SineConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str = "PyCog's autonomous sine-wave generator (no inputs)";

    fn build(config: SineConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Sine::new(config, timing.clone())?))
    }
}

impl Sine {
    /// Builds the task.
    ///
    /// # Errors
    /// [`psychrnn_core::Error::Invalid`] for a non-positive period or tolerance, or a `T`
    /// shorter than three periods.
    pub fn new(config: SineConfig, timing: TaskTiming) -> Result<Self> {
        let period = config.period.unwrap_or(8.0 * timing.tau);
        check_durations(&[("period", period), ("tolerance", config.tolerance)])?;
        check_fits(&timing, 3.0 * period)?;
        Ok(Sine { config, timing, period })
    }
}

impl Task for Sine {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        0
    }

    fn n_out(&self) -> usize {
        1
    }

    fn generate_trial(&self, rng: &mut Rng, trial: TrialMut<'_>) -> TrialParams {
        let dt = self.timing.dt;
        let duration = self.period * f64::from(rng.random_range(2..=3u8));
        let TrialMut { mut targets, mut mask, length, .. } = trial;
        *length = n_steps(duration, dt).min(targets.nrows());
        for s in 0..*length {
            // PyCog's clock: step s is at time (s + 1) dt.
            let t = (s + 1) as f64 * dt;
            targets[[s, 0]] = (2.0 * std::f64::consts::PI * t / self.period).sin() as f32;
            mask[[s, 0]] = 1.0;
        }
        let mut params = TrialParams::new();
        params.insert("duration".into(), duration.into());
        params.insert("period".into(), self.period.into());
        params
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::fraction_within_rmse(batch, outputs, self.config.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{batch, build, num, table};

    #[test]
    fn trials_last_two_or_three_whole_periods_of_a_sine() {
        let task = build(table("type = \"pycog_sine\"\ndt = 10.0\nT = 2400.0"));
        assert_eq!(task.n_in(), 0);
        let batch = batch(task.as_ref(), 30);
        for b in 0..30 {
            let d = num(&batch.trial_params[b], "duration");
            assert!(d == 1600.0 || d == 2400.0, "duration {d}");
            let len = batch.lengths[b];
            assert_eq!(len, (d / 10.0) as usize);
            assert!(batch.mask.slice(ndarray::s![..len, b, 0]).iter().all(|&m| m == 1.0));
            // A quarter period (200 ms, step 19) is the peak.
            assert!((batch.targets[[19, b, 0]] - 1.0).abs() < 1e-6);
        }
    }
}
