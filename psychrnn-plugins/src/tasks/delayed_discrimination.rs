//! `delayed_discrimination`: PsychRNN's vibrotactile delayed comparison (Romo-like): two
//! flutter frequencies separated by a delay; report whether f1 > f2 (output 0) or f1 < f2
//! (output 1).
//!
//! Per trial (PsychRNN, `delayed_discrim.py`): each epoch length not given in the manifest is
//! drawn, in this order, as onset `U T/8`, stimulus 1 `U T/4`, delay `U T/4`, stimulus 2 `U T/4`,
//! decision `U T/8` (given values are absolute ms); the pair is one of
//! (18,10) (22,14) (26,18) (30,22) (34,26) Hz and the order `>`/`<` is drawn uniformly. Each
//! stimulus adds `(p(f), n(f))` to the inputs, with `p(f) = 0.4 + 0.8 (f - 10) / 24` and
//! `n(f) = 0.4 + 0.8 (34 - f) / 24` (positively and negatively tuned channels). During the
//! decision epoch the target is 1 on the chosen channel and 0.2 on the other, mask 1; elsewhere
//! the mask is 0.

use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::Timeline;
use psychrnn_core::task::blocks::{add_gaussian_noise, psychrnn_stimulus_noise_std};
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::perceptual_discrimination::{HIGH, LOW};

/// The registry tag.
pub const TAG: &str = "delayed_discrimination";

/// PsychRNN's frequency pairs (Hz), `(higher, lower)`.
pub const FREQUENCY_PAIRS: [(f64, f64); 5] = [(18.0, 10.0), (22.0, 14.0), (26.0, 18.0), (30.0, 22.0), (34.0, 26.0)];

fn default_stim_noise() -> f64 {
    0.1
}

/// `[task] type = "delayed_discrimination"`; epoch lengths in ms (absent: drawn per trial).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayedDiscriminationConfig {
    /// Time before stimulus 1 (default `U T/8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset_time: Option<f64>,
    /// Stimulus 1 length (default `U T/4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stim_duration_1: Option<f64>,
    /// Delay length (default `U T/4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_duration: Option<f64>,
    /// Stimulus 2 length (default `U T/4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stim_duration_2: Option<f64>,
    /// Decision length (default `U T/8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_duration: Option<f64>,
    /// Stimulus noise level (PsychRNN: 0.1).
    #[serde(default = "default_stim_noise")]
    pub stim_noise: f64,
}

/// The task.
pub struct DelayedDiscrimination {
    config: DelayedDiscriminationConfig,
    timing: TaskTiming,
}

/// Positively tuned input for frequency `f`.
pub fn positive_tuning(f: f64) -> f64 {
    0.4 + 0.8 * (f - 10.0) / 24.0
}

/// Negatively tuned input for frequency `f`.
pub fn negative_tuning(f: f64) -> f64 {
    0.4 + 0.8 * (34.0 - f) / 24.0
}

impl Plugin for DelayedDiscrimination {
    type Kind = dyn Task;
    type Config = DelayedDiscriminationConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str = "PsychRNN's delayed frequency comparison: f1 > f2 or f1 < f2 after a delay";

    /// # Errors
    /// A negative epoch length or stimulus noise, or given epochs longer than `T`.
    fn build(config: DelayedDiscriminationConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        let fixed = [
            ("onset_time", config.onset_time),
            ("stim_duration_1", config.stim_duration_1),
            ("delay_duration", config.delay_duration),
            ("stim_duration_2", config.stim_duration_2),
            ("decision_duration", config.decision_duration),
        ];
        for (name, v) in fixed {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(Error::invalid(name, format!("must be a non-negative number of ms, got {v}")));
            }
        }
        let given: f64 = fixed.iter().filter_map(|(_, v)| *v).sum();
        if given > timing.duration {
            return Err(Error::invalid(
                "",
                format!("the given epochs last {given} ms, longer than T = {} ms", timing.duration),
            ));
        }
        if !(config.stim_noise.is_finite() && config.stim_noise >= 0.0) {
            return Err(Error::invalid("stim_noise", format!("must be >= 0, got {}", config.stim_noise)));
        }
        Ok(Box::new(DelayedDiscrimination { config, timing: timing.clone() }))
    }
}

impl Task for DelayedDiscrimination {
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
        let c = &self.config;
        let mut draw =
            |given: Option<f64>, fraction: f64| given.unwrap_or_else(|| rng.random::<f64>() * big_t * fraction);
        let onset = draw(c.onset_time, 1.0 / 8.0);
        let stim_1 = draw(c.stim_duration_1, 1.0 / 4.0);
        let delay = draw(c.delay_duration, 1.0 / 4.0);
        let stim_2 = draw(c.stim_duration_2, 1.0 / 4.0);
        let decision = draw(c.decision_duration, 1.0 / 8.0);
        let timeline = Timeline::sequential(
            onset,
            &[("stimulus_1", stim_1), ("delay", delay), ("stimulus_2", stim_2), ("decision", decision)],
        );
        let pair = FREQUENCY_PAIRS[rng.random_range(0..FREQUENCY_PAIRS.len())];
        let choice = rng.random_range(0..2usize);
        let (f1, f2) = if choice == 0 { pair } else { (pair.1, pair.0) };
        let noise_std = psychrnn_stimulus_noise_std(self.timing.dt, c.stim_noise);

        for s in 0..self.timing.n_steps() {
            let t = self.timing.time_of(s);
            let mut x = trial.inputs.row_mut(s);
            add_gaussian_noise(x.view_mut(), noise_std, rng);
            let stimulus = if timeline.contains("stimulus_1", t) {
                Some(f1)
            } else if timeline.contains("stimulus_2", t) {
                Some(f2)
            } else {
                None
            };
            if let Some(f) = stimulus {
                x[0] += positive_tuning(f) as f32;
                x[1] += negative_tuning(f) as f32;
            }
            if timeline.contains("decision", t) {
                trial.targets[[s, choice]] = HIGH;
                trial.targets[[s, 1 - choice]] = LOW;
                trial.mask.row_mut(s).fill(1.0);
            }
        }

        let mut params = TrialParams::new();
        timeline.record(&mut params);
        params.insert("stim_noise".into(), c.stim_noise.into());
        params.insert("f1".into(), f1.into());
        params.insert("f2".into(), f2.into());
        params.insert("choice".into(), choice.into());
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};
    use psychrnn_core::testing::check_task_contract;

    /// The registry's constructor of the task.
    fn build(table: &toml::Table, timing: &TaskTiming, ctx: &BuildContext) -> Result<Box<dyn Task>> {
        psychrnn_core::registry::construct::<DelayedDiscrimination>(table, timing, ctx).map(|built| built.object)
    }

    fn task(table: toml::Table) -> Box<dyn Task> {
        build(&table, &TaskTiming::new(10.0, 100.0, 2000.0, 8), &BuildContext::default()).unwrap()
    }

    fn num(p: &TrialParams, k: &str) -> f64 {
        p[k].as_f64().unwrap()
    }

    #[test]
    fn passes_the_task_contract() {
        check_task_contract(task(toml::Table::new()).as_ref(), 16).unwrap();
    }

    #[test]
    fn epochs_frequencies_targets_and_mask_follow_psychrnn() {
        let t = task(toml::Table::new());
        let batch = t.generate_batch(200, &mut stream(2, Purpose::User, 0));
        let bound = 6.0 * psychrnn_stimulus_noise_std(10.0, 0.1);
        for (b, p) in batch.trial_params.iter().enumerate() {
            let (s1, d, s2, dec, end) =
                (num(p, "stimulus_1"), num(p, "delay"), num(p, "stimulus_2"), num(p, "decision"), num(p, "end"));
            assert!(
                s1 < 250.0
                    && d - s1 < 500.0
                    && s2 - d < 500.0
                    && dec - s2 < 500.0
                    && end - dec < 250.0
                    && end <= 2000.0
            );
            let (f1, f2, choice) = (num(p, "f1"), num(p, "f2"), p["choice"].as_u64().unwrap() as usize);
            let pair = if f1 > f2 { (f1, f2) } else { (f2, f1) };
            assert!(FREQUENCY_PAIRS.contains(&pair));
            assert_eq!(choice, usize::from(f1 < f2));
            for s in 0..200 {
                let time = s as f64 * 10.0;
                let f = if s1 <= time && time < d {
                    Some(f1)
                } else if s2 <= time && time < dec {
                    Some(f2)
                } else {
                    None
                };
                let (w0, w1) = f.map_or((0.0, 0.0), |f| (positive_tuning(f), negative_tuning(f)));
                assert!((f64::from(batch.inputs[[s, b, 0]]) - w0).abs() < bound, "trial {b} step {s}");
                assert!((f64::from(batch.inputs[[s, b, 1]]) - w1).abs() < bound);
                let decision = dec <= time && time < end;
                let m = if decision { 1.0 } else { 0.0 };
                assert_eq!((batch.mask[[s, b, 0]], batch.mask[[s, b, 1]]), (m, m));
                let y = (batch.targets[[s, b, choice]], batch.targets[[s, b, 1 - choice]]);
                assert_eq!(y, if decision { (1.0, 0.2) } else { (0.0, 0.0) });
            }
        }
        assert_eq!(t.accuracy(&batch, batch.targets.view()), 1.0);
    }

    #[test]
    fn given_epoch_lengths_are_absolute_and_checked() {
        let table: toml::Table = toml::from_str("onset_time = 100.0\nstim_duration_1 = 300.0\ndelay_duration = 400.0\nstim_duration_2 = 300.0\ndecision_duration = 200.0").unwrap();
        let batch = task(table).generate_batch(4, &mut stream(1, Purpose::User, 0));
        for p in &batch.trial_params {
            assert_eq!(
                (num(p, "stimulus_1"), num(p, "delay"), num(p, "stimulus_2"), num(p, "decision"), num(p, "end")),
                (100.0, 400.0, 800.0, 1100.0, 1300.0)
            );
        }
        let too_long: toml::Table = toml::from_str("delay_duration = 2500.0").unwrap();
        let timing = TaskTiming::new(10.0, 100.0, 2000.0, 8);
        assert!(
            build(&too_long, &timing, &BuildContext::default()).err().unwrap().to_string().contains("longer than T")
        );
    }
}
