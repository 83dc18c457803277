//! `flip_flop`: Sussillo & Barak's (2013) n-bit flip-flop, the standard test of fixed-point
//! analysis (FixedPointFinder's example). Each of `bits` input channels carries sparse pulses
//! of +1 or -1; the matching output holds the sign of its channel's last pulse. Every channel
//! pulses at the trial's start (as FixedPointFinder's `FlipFlopData` does), so every output has
//! a target from the first step, and the whole trial is in the mask. A trained network holds
//! `2^bits` memories: its stable fixed points, one per corner of the cube, with saddles between.
//! Accuracy: the fraction of steps and outputs whose sign is the target's.

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The registry tag.
pub const TAG: &str = "flip_flop";

fn bits() -> usize {
    3
}

fn pulse_rate() -> f64 {
    2.0
}

/// `[task] type = "flip_flop"` (rates in Hz, durations in ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlipFlopConfig {
    /// Number of bits: input channels, and outputs holding them (3 in Sussillo & Barak's
    /// figure and FixedPointFinder's example).
    #[serde(default = "bits")]
    pub bits: usize,
    /// Pulses per second on each channel after the first (a Bernoulli draw each step).
    #[serde(default = "pulse_rate")]
    pub pulse_rate: f64,
    /// How long a pulse lasts (ms; default one step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulse_duration: Option<f64>,
}

/// The task.
pub struct FlipFlop {
    config: FlipFlopConfig,
    timing: TaskTiming,
    pulse_steps: usize,
}

impl Plugin for FlipFlop {
    type Kind = dyn Task;
    type Config = FlipFlopConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "Sussillo & Barak's n-bit flip-flop: each output holds the sign of its input channel's last +-1 pulse";

    fn build(config: FlipFlopConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(FlipFlop::new(config, timing.clone())?))
    }
}

impl FlipFlop {
    /// Builds the task.
    ///
    /// # Errors
    /// [`Error::Invalid`] for no bits (or more than 64), a negative or non-finite rate, or a
    /// pulse shorter than a step or longer than the trial.
    pub fn new(config: FlipFlopConfig, timing: TaskTiming) -> Result<Self> {
        if config.bits == 0 || config.bits > 64 {
            return Err(Error::invalid("task.bits", format!("must be between 1 and 64, got {}", config.bits)));
        }
        if !(config.pulse_rate.is_finite() && config.pulse_rate >= 0.0) {
            return Err(Error::invalid(
                "task.pulse_rate",
                format!("must be a rate >= 0 (Hz), got {}", config.pulse_rate),
            ));
        }
        let duration = config.pulse_duration.unwrap_or(timing.dt);
        let pulse_steps = (duration / timing.dt).round();
        if !(pulse_steps >= 1.0 && pulse_steps as usize <= timing.n_steps()) {
            return Err(Error::invalid(
                "task.pulse_duration",
                format!("must last at least one step ({} ms) and at most the trial, got {duration} ms", timing.dt),
            ));
        }
        Ok(FlipFlop { config, timing, pulse_steps: pulse_steps as usize })
    }
}

impl Task for FlipFlop {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        self.config.bits
    }

    fn n_out(&self) -> usize {
        self.config.bits
    }

    fn generate_trial(&self, rng: &mut Rng, trial: TrialMut<'_>) -> TrialParams {
        let TrialMut { mut inputs, mut targets, mut mask, length } = trial;
        let steps = *length;
        let p = (self.config.pulse_rate * self.timing.dt / 1000.0).min(1.0);
        let mut flips = vec![0u64; self.config.bits];
        for bit in 0..self.config.bits {
            let mut held = 0.0f32;
            let mut pulse_left = 0;
            for s in 0..steps {
                if pulse_left == 0 && (s == 0 || rng.random_bool(p)) {
                    held = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                    pulse_left = self.pulse_steps;
                    flips[bit] += 1;
                }
                if pulse_left > 0 {
                    inputs[[s, bit]] = held;
                    pulse_left -= 1;
                }
                targets[[s, bit]] = held;
                mask[[s, bit]] = 1.0;
            }
        }
        let mut params = TrialParams::new();
        params.insert("pulses".into(), serde_json::Value::from(flips));
        params
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        let (mut right, mut counted) = (0usize, 0usize);
        for ((&o, &t), &m) in outputs.iter().zip(batch.targets.iter()).zip(batch.mask.iter()) {
            if m > 0.0 {
                counted += 1;
                right += usize::from(o.signum() == t.signum() && o != 0.0);
            }
        }
        if counted == 0 { 0.0 } else { right as f64 / counted as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pycog::test_support::{batch, build, table};

    #[test]
    fn every_output_holds_the_sign_of_its_channels_last_pulse() {
        let task = build(table("type = \"flip_flop\"\ndt = 10.0\nT = 1000.0\npulse_rate = 5.0"));
        assert_eq!((task.n_in(), task.n_out()), (3, 3));
        let b = batch(task.as_ref(), 40);
        let (steps, trials, bits) = b.inputs.dim();
        let mut pulses = 0;
        for trial in 0..trials {
            for bit in 0..bits {
                assert!(b.inputs[[0, trial, bit]].abs() == 1.0, "every channel pulses at the start");
                let mut last = 0.0;
                for s in 0..steps {
                    let u = b.inputs[[s, trial, bit]];
                    assert!([-1.0, 0.0, 1.0].contains(&u));
                    if u != 0.0 {
                        last = u;
                        pulses += 1;
                    }
                    assert_eq!(b.targets[[s, trial, bit]], last, "trial {trial} bit {bit} step {s}");
                    assert_eq!(b.mask[[s, trial, bit]], 1.0);
                }
            }
        }
        // 5 Hz over 1 s on 3 channels of 40 trials, plus the first pulses: about 720.
        assert!((500..1000).contains(&pulses), "{pulses} pulses");
        // The targets themselves score 1; silence scores 0.
        assert_eq!(task.accuracy(&b, b.targets.view()), 1.0);
        assert_eq!(task.accuracy(&b, ndarray::Array3::zeros(b.targets.raw_dim()).view()), 0.0);
    }

    #[test]
    fn bad_settings_are_named() {
        use super::super::pycog::test_support::try_build;
        let err = try_build(table("type = \"flip_flop\"\nT = 1000.0\nbits = 0")).err().unwrap();
        assert!(err.contains("task.bits"), "{err}");
        let err = try_build(table("type = \"flip_flop\"\nT = 1000.0\npulse_duration = 1.0")).err().unwrap();
        assert!(err.contains("task.pulse_duration"), "{err}");
        let err = try_build(table("type = \"flip_flop\"\nT = 1000.0\npulse_rate = -1.0")).err().unwrap();
        assert!(err.contains("task.pulse_rate"), "{err}");
    }
}
