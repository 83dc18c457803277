//! `perceptual_discrimination`: PsychRNN's two-alternative random-dot-motion-like task.
//!
//! Two input channels carry noise throughout and, during the stimulus, a baseline of 1 plus the
//! coherence on the channel of the correct direction. After the stimulus plus 20 ms the target
//! is 1 on the correct output channel and 0.2 on the other; the loss mask is 1 from the end of
//! the stimulus on (so the first 20 ms of the response window are trained towards 0).
//!
//! Per trial (PsychRNN, `perceptual_discrimination.py`): coherence from {0.1, 0.3, 0.5, 0.7}
//! (or fixed), direction 0/1 uniformly (or fixed), onset `U[0,1) T/2`, duration `U[0,1) T/4 + T/8`.

use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::blocks::{add_gaussian_noise, psychrnn_stimulus_noise_std};
use psychrnn_core::task::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod};
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The registry tag.
pub const TAG: &str = "perceptual_discrimination";

/// PsychRNN's coherence set.
pub const COHERENCES: [f64; 4] = [0.1, 0.3, 0.5, 0.7];
/// Target on the correct channel.
pub const HIGH: f32 = 1.0;
/// Target on the other channel.
pub const LOW: f32 = 0.2;
/// Time (ms) after the stimulus before the target switches on.
pub const TARGET_DELAY: f64 = 20.0;

fn default_stim_noise() -> f64 {
    0.1
}

/// `[task] type = "perceptual_discrimination"` (plus `dt`, `tau`, `T`, `N_batch`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerceptualDiscriminationConfig {
    /// Fixed coherence for every trial (default: drawn from {0.1, 0.3, 0.5, 0.7}).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coherence: Option<f64>,
    /// Fixed direction, 0 or 1, for every trial (default: drawn uniformly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<u8>,
    /// Stimulus noise level (PsychRNN: 0.1).
    #[serde(default = "default_stim_noise")]
    pub stim_noise: f64,
}

/// The task.
pub struct PerceptualDiscrimination {
    config: PerceptualDiscriminationConfig,
    timing: TaskTiming,
}

impl Plugin for PerceptualDiscrimination {
    type Kind = dyn Task;
    type Config = PerceptualDiscriminationConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PsychRNN's two-choice perceptual discrimination (coherence 0.1-0.7, choice after the stimulus)";

    fn build(config: PerceptualDiscriminationConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(PerceptualDiscrimination::new(config, timing.clone())?))
    }
}

impl PerceptualDiscrimination {
    /// Builds the task.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a direction other than 0/1, a non-finite coherence or a negative
    /// `stim_noise`.
    pub fn new(config: PerceptualDiscriminationConfig, timing: TaskTiming) -> Result<Self> {
        if let Some(d) = config.direction
            && d > 1
        {
            return Err(Error::invalid("direction", format!("must be 0 or 1, got {d}")));
        }
        if let Some(c) = config.coherence
            && !c.is_finite()
        {
            return Err(Error::invalid("coherence", format!("must be a finite number, got {c}")));
        }
        if !(config.stim_noise.is_finite() && config.stim_noise >= 0.0) {
            return Err(Error::invalid("stim_noise", format!("must be >= 0, got {}", config.stim_noise)));
        }
        Ok(PerceptualDiscrimination { config, timing })
    }
}

impl Task for PerceptualDiscrimination {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        2
    }

    fn n_out(&self) -> usize {
        2
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let big_t = self.timing.duration;
        let coherence = self.config.coherence.unwrap_or_else(|| COHERENCES[rng.random_range(0..COHERENCES.len())]);
        let direction = usize::from(self.config.direction.unwrap_or_else(|| rng.random_range(0..2u8)));
        let onset = rng.random::<f64>() * big_t / 2.0;
        let duration = rng.random::<f64>() * big_t / 4.0 + big_t / 8.0;
        let stim_end = onset + duration;
        let noise_std = psychrnn_stimulus_noise_std(self.timing.dt, self.config.stim_noise);

        for s in 0..self.timing.n_steps() {
            let t = self.timing.time_of(s);
            let mut x = trial.inputs.row_mut(s);
            add_gaussian_noise(x.view_mut(), noise_std, rng);
            if onset < t && t < stim_end {
                x[direction] += 1.0 + coherence as f32;
                x[1 - direction] += 1.0;
            }
            if t > stim_end + TARGET_DELAY {
                trial.targets[[s, direction]] = HIGH;
                trial.targets[[s, 1 - direction]] = LOW;
            }
            if t >= stim_end {
                trial.mask.row_mut(s).fill(1.0);
            }
        }

        let mut params = TrialParams::new();
        params.insert("coherence".into(), coherence.into());
        params.insert("direction".into(), direction.into());
        params.insert("stim_noise".into(), self.config.stim_noise.into());
        params.insert("onset_time".into(), onset.into());
        params.insert("stim_duration".into(), duration.into());
        params
    }

    /// Signed coherence from -0.64 to 0.64 (positive: evidence for output 0), a finer grid
    /// than training's four coherences so the psychometric curve's slope is resolved.
    fn behaviour(&self) -> Option<Behaviour> {
        let mut conditions = Vec::new();
        for direction in [0u8, 1] {
            for coherence in ANALYSIS_COHERENCES {
                let mut config = toml::Table::new();
                config.insert("coherence".into(), coherence.into());
                config.insert("direction".into(), i64::from(direction).into());
                let sign = if direction == 0 { 1.0 } else { -1.0 };
                let correct_choice = (coherence > 0.0).then_some(usize::from(direction));
                conditions.push(Condition {
                    config,
                    signed_stimulus: sign * coherence,
                    correct_choice,
                    group: String::new(),
                    variables: vec![("coherence".into(), sign * coherence)],
                });
            }
        }
        Some(Behaviour {
            conditions,
            stimulus_label: "signed coherence".into(),
            psychometric_variables: Vec::new(),
            readout: Readout::MaskedMean,
            stimulus_period: Some(StimulusPeriod {
                onset: "onset_time".into(),
                end: StimulusEnd::DurationParam("stim_duration".into()),
            }),
            cue_combination: None,
        })
    }
}

/// The coherences `psychrnn analyze` sweeps, in each direction.
pub const ANALYSIS_COHERENCES: [f64; 8] = [0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64];

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};
    use psychrnn_core::testing::check_task_contract;

    fn timing() -> TaskTiming {
        TaskTiming::new(10.0, 100.0, 2000.0, 64)
    }

    fn task(coherence: Option<f64>, direction: Option<u8>) -> PerceptualDiscrimination {
        PerceptualDiscrimination::new(
            PerceptualDiscriminationConfig { coherence, direction, stim_noise: 0.1 },
            timing(),
        )
        .unwrap()
    }

    fn num(p: &TrialParams, key: &str) -> f64 {
        p[key].as_f64().unwrap()
    }

    #[test]
    fn passes_the_task_contract() {
        check_task_contract(&task(None, None), 16).unwrap();
    }

    #[test]
    fn epochs_inputs_targets_and_mask_follow_psychrnn() {
        let t = task(None, None);
        let batch = t.generate_batch(200, &mut stream(3, Purpose::User, 0));
        let noise_bound = 6.0 * psychrnn_stimulus_noise_std(10.0, 0.1) as f32;
        for (b, p) in batch.trial_params.iter().enumerate() {
            let (coh, dir) = (num(p, "coherence"), p["direction"].as_u64().unwrap() as usize);
            let (onset, dur) = (num(p, "onset_time"), num(p, "stim_duration"));
            assert!(COHERENCES.contains(&coh));
            assert!((0.0..1000.0).contains(&onset), "onset {onset}");
            assert!((250.0..750.0).contains(&dur), "duration {dur}");
            for s in 0..200 {
                let time = s as f64 * 10.0;
                let x = |c| batch.inputs[[s, b, c]];
                let in_stim = onset < time && time < onset + dur;
                let (want_dir, want_other) = if in_stim { (1.0 + coh as f32, 1.0) } else { (0.0, 0.0) };
                assert!((x(dir) - want_dir).abs() < noise_bound, "trial {b} step {s}");
                assert!((x(1 - dir) - want_other).abs() < noise_bound);
                let y = |c| batch.targets[[s, b, c]];
                let m = |c| batch.mask[[s, b, c]];
                if time > onset + dur + 20.0 {
                    assert_eq!((y(dir), y(1 - dir)), (1.0, 0.2));
                } else {
                    assert_eq!((y(0), y(1)), (0.0, 0.0));
                }
                let want_mask = if time >= onset + dur { 1.0 } else { 0.0 };
                assert_eq!((m(0), m(1)), (want_mask, want_mask));
            }
        }
    }

    #[test]
    fn coherence_set_and_directions_are_all_drawn() {
        let batch = task(None, None).generate_batch(400, &mut stream(5, Purpose::User, 0));
        for c in COHERENCES {
            let n = batch.trial_params.iter().filter(|p| num(p, "coherence") == c).count();
            assert!((60..140).contains(&n), "coherence {c} drawn {n} times of 400");
        }
        let right = batch.trial_params.iter().filter(|p| p["direction"] == 1).count();
        assert!((160..240).contains(&right));
    }

    #[test]
    fn fixed_coherence_and_direction_are_honoured() {
        let batch = task(Some(0.05), Some(1)).generate_batch(20, &mut stream(5, Purpose::User, 0));
        assert!(batch.trial_params.iter().all(|p| num(p, "coherence") == 0.05 && p["direction"] == 1));
    }

    #[test]
    fn noise_has_psychrnn_std_outside_the_stimulus() {
        let batch = task(None, None).generate_batch(64, &mut stream(9, Purpose::User, 0));
        // Before the earliest possible onset (t = 0 is excluded by the strict inequality).
        let first = batch.inputs.index_axis(ndarray::Axis(0), 0);
        let var = first.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / first.len() as f64;
        let want = psychrnn_stimulus_noise_std(10.0, 0.1);
        assert!((var.sqrt() - want).abs() < 0.25 * want, "std {} vs {want}", var.sqrt());
    }

    #[test]
    fn accuracy_scores_the_targets_as_perfect_and_the_swapped_targets_as_zero() {
        let t = task(None, None);
        let batch = t.generate_batch(32, &mut stream(1, Purpose::User, 0));
        assert_eq!(t.accuracy(&batch, batch.targets.view()), 1.0);
        let mut swapped = batch.targets.clone();
        swapped.invert_axis(ndarray::Axis(2));
        assert_eq!(t.accuracy(&batch, swapped.view()), 0.0);
    }

    #[test]
    fn invalid_direction_is_named() {
        let cfg = PerceptualDiscriminationConfig { coherence: None, direction: Some(2), stim_noise: 0.1 };
        let err = PerceptualDiscrimination::new(cfg, timing()).err().unwrap();
        assert_eq!(err.to_string(), "direction: must be 0 or 1, got 2");
    }
}
