//! `pycog_romo`: PyCog's parametric working memory (Romo et al.; Barak et al. 2010), Fig 7 of
//! Song et al. 2016.
//!
//! Two inputs encode a vibration frequency, positively (`0.2 + 0.8 (f - f_min) / (f_max -
//! f_min)`) and negatively tuned. f1 is shown for 500 ms after a 100 ms fixation, held over a
//! delay drawn uniformly from 2.5-3.5 s, then f2 for 500 ms; the decision (300 ms) is choice 1
//! when f1 > f2. Pairs (f1, f2) come from {(18,10), (22,14), (26,18), (30,22), (34,26)} in either
//! order (10 conditions); catch trials (2 s) with probability 1/11. PyCog's performance is the
//! smallest fraction correct over the conditions.

use ndarray::ArrayView3;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::{Behaviour, Condition, Readout, StimulusEnd, StimulusPeriod, Timeline, blocks};
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{HIGH, check_durations, check_fits, check_probability, draw_catch, finish_choice, set_input, uniform};

/// The registry tag.
pub const TAG: &str = "pycog_romo";

fn f_duration() -> f64 {
    500.0
}
fn delay_min() -> f64 {
    2500.0
}
fn delay_max() -> f64 {
    3500.0
}
/// Fixation of PyCog's test trials, which the analyses simulate.
const TEST_FIXATION: f64 = 500.0;
/// Delay of PyCog's test trials.
const TEST_DELAY: f64 = 3000.0;

fn catch_duration() -> f64 {
    2000.0
}
fn pairs() -> Vec<[f64; 2]> {
    vec![[18.0, 10.0], [22.0, 14.0], [26.0, 18.0], [30.0, 22.0], [34.0, 26.0]]
}

/// `[task] type = "pycog_romo"` (durations in ms, frequencies in Hz).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RomoConfig {
    /// Fixation before f1 (PyCog: 100 in training, 500 at test).
    #[serde(default = "super::default_fixation")]
    pub fixation: f64,
    /// Duration of each stimulus.
    #[serde(default = "f_duration")]
    pub f_duration: f64,
    /// Shortest delay.
    #[serde(default = "delay_min")]
    pub delay_min: f64,
    /// Longest delay (exclusive; equal to `delay_min` for a fixed delay).
    #[serde(default = "delay_max")]
    pub delay_max: f64,
    /// Decision epoch.
    #[serde(default = "super::default_decision")]
    pub decision: f64,
    /// Frequency pairs, larger first; each is shown in either order.
    #[serde(default = "pairs")]
    pub pairs: Vec<[f64; 2]>,
    /// Catch-trial probability (default 1 / (2 x pairs + 1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_probability: Option<f64>,
    /// Duration of catch trials.
    #[serde(default = "catch_duration")]
    pub catch_duration: f64,
    /// Fixed f1 for every non-catch trial (with `f2`; default: drawn from `pairs`, whose range
    /// still sets the input tuning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    /// Fixed f2, likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f2: Option<f64>,
}

/// The task.
pub struct Romo {
    config: RomoConfig,
    timing: TaskTiming,
    range: (f64, f64),
}

impl Plugin for Romo {
    type Kind = dyn Task;
    type Config = RomoConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str = "PyCog's parametric working memory (Romo): is f1 > f2 after a 2.5-3.5 s delay";

    fn build(config: RomoConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        Ok(Box::new(Romo::new(config, timing.clone())?))
    }
}

impl Romo {
    /// Builds the task.
    ///
    /// # Errors
    /// [`Error::Invalid`] for no pairs, equal frequencies within a pair, `delay_max <
    /// delay_min`, a non-positive duration, a probability outside [0, 1], or a `T` shorter than
    /// the longest trial.
    pub fn new(config: RomoConfig, timing: TaskTiming) -> Result<Self> {
        for (field, v) in [("f1", config.f1), ("f2", config.f2)] {
            if let Some(v) = v
                && !v.is_finite()
            {
                return Err(Error::invalid(field, format!("must be finite, got {v}")));
            }
        }
        let c = &config;
        check_durations(&[
            ("fixation", c.fixation),
            ("f_duration", c.f_duration),
            ("delay_min", c.delay_min),
            ("decision", c.decision),
            ("catch_duration", c.catch_duration),
        ])?;
        check_probability("catch_probability", c.catch_probability)?;
        if c.delay_max < c.delay_min {
            return Err(Error::invalid(
                "delay_max",
                format!("must be >= delay_min ({}), got {}", c.delay_min, c.delay_max),
            ));
        }
        if c.pairs.is_empty() || c.pairs.iter().any(|[a, b]| a == b || !a.is_finite() || !b.is_finite()) {
            return Err(Error::invalid(
                "pairs",
                format!("need distinct finite frequencies in each pair, got {:?}", c.pairs),
            ));
        }
        let all = c.pairs.iter().flatten().copied();
        let range = all.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), f| (lo.min(f), hi.max(f)));
        let longest = c.fixation + 2.0 * c.f_duration + c.delay_max + c.decision;
        check_fits(&timing, longest.max(c.catch_duration))?;
        Ok(Romo { config, timing, range })
    }

    /// The positively and negatively tuned inputs of frequency `f`.
    pub fn tuned(&self, f: f64) -> (f64, f64) {
        let (min, max) = self.range;
        (0.2 + 0.8 * (f - min) / (max - min), 0.2 + 0.8 * (max - f) / (max - min))
    }
}

impl Task for Romo {
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
        let (c, dt) = (&self.config, self.timing.dt);
        if let Some(catch) = draw_catch(rng, &mut trial, c.catch_probability, 2 * c.pairs.len(), c.catch_duration, dt) {
            return catch;
        }
        let [high, low] = c.pairs[rng.random_range(0..c.pairs.len())];
        let greater = rng.random::<bool>();
        let (f1, f2) = if greater { (high, low) } else { (low, high) };
        let (f1, f2) = (c.f1.unwrap_or(f1), c.f2.unwrap_or(f2));
        let choice = usize::from(f1 < f2);
        let delay = if c.delay_max > c.delay_min { uniform(rng, dt, c.delay_min, c.delay_max) } else { c.delay_min };
        let timeline = Timeline::sequential(
            0.0,
            &[
                ("fixation", c.fixation),
                ("stimulus_1", c.f_duration),
                ("delay", delay),
                ("stimulus_2", c.f_duration),
                ("decision", c.decision),
            ],
        );
        for (epoch, f) in [("stimulus_1", f1), ("stimulus_2", f2)] {
            let (pos, neg) = self.tuned(f);
            set_input(&mut trial, &timeline, dt, epoch, 0, pos);
            set_input(&mut trial, &timeline, dt, epoch, 1, neg);
        }
        let mut params = TrialParams::new();
        params.insert("f1".into(), f1.into());
        params.insert("f2".into(), f2.into());
        params.insert("delay_duration".into(), delay.into());
        finish_choice(&mut trial, &timeline, dt, choice, HIGH, params)
    }

    fn accuracy(&self, batch: &TrialBatch, outputs: ArrayView3<'_, f32>) -> f64 {
        blocks::min_condition_accuracy(batch, outputs, &["f1", "f2"])
    }

    /// PyCog's 10 conditions (each pair in both orders, no catch trials), the choice at the end;
    /// tuning to f1 from its onset through the delay (PyCog Fig 7).
    fn behaviour(&self) -> Option<Behaviour> {
        let mut conditions = Vec::new();
        for &[high, low] in &self.config.pairs {
            for (f1, f2) in [(high, low), (low, high)] {
                let mut config = toml::Table::new();
                config.insert("f1".into(), f1.into());
                config.insert("f2".into(), f2.into());
                config.insert("catch_probability".into(), 0.0.into());
                // PyCog's test trials (romo.py, mode "test"): 500 ms fixation, a 3 s delay.
                config.insert("fixation".into(), TEST_FIXATION.into());
                config.insert("delay_min".into(), TEST_DELAY.into());
                config.insert("delay_max".into(), TEST_DELAY.into());
                conditions.push(Condition {
                    config,
                    signed_stimulus: f1 - f2,
                    correct_choice: (f1 != f2).then_some(usize::from(f1 < f2)),
                    group: String::new(),
                    variables: vec![("f1".into(), f1), ("f2".into(), f2)],
                });
            }
        }
        Some(Behaviour {
            conditions,
            stimulus_label: "f1 - f2 (Hz)".into(),
            psychometric_variables: Vec::new(),
            readout: Readout::AtEnd,
            stimulus_period: Some(StimulusPeriod {
                onset: "stimulus_1".into(),
                end: StimulusEnd::TimeParam("delay".into()),
            }),
            cue_combination: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{batch, build, is_catch, num, table};

    #[test]
    fn f1_and_f2_bracket_a_variable_delay() {
        let task = build(table("type = \"pycog_romo\"\nT = 4900.0"));
        let batch = batch(task.as_ref(), 200);
        let mut delays = std::collections::BTreeSet::new();
        for b in (0..200).filter(|&b| !is_catch(&batch, b)) {
            let p = &batch.trial_params[b];
            let (f1, f2, delay) = (num(p, "f1"), num(p, "f2"), num(p, "delay_duration"));
            assert!((2500.0..3500.0).contains(&delay) && delay % 20.0 == 0.0);
            delays.insert(delay as i64);
            assert_eq!(p["choice"].as_u64().unwrap(), u64::from(f1 < f2));
            assert_eq!((f1 - f2).abs(), 8.0);
            let x = batch.inputs.slice(ndarray::s![.., b, 0]);
            let at = |ms: f64| x[(ms / 20.0) as usize];
            assert_eq!(at(100.0), (0.2 + 0.8 * (f1 - 10.0) / 24.0) as f32);
            assert_eq!(at(700.0), 0.0, "nothing during the delay");
            assert_eq!(at(600.0 + delay), (0.2 + 0.8 * (f2 - 10.0) / 24.0) as f32);
            assert_eq!(batch.lengths[b], ((1400.0 + delay) / 20.0) as usize);
        }
        assert!(delays.len() > 10);
        assert!(batch.n_steps() <= 245);
    }

    #[test]
    fn a_declared_condition_fixes_the_pair() {
        let task = build(table("type = \"pycog_romo\"\nT = 5500.0\nf1 = 14.0\nf2 = 22.0\ncatch_probability = 0.0"));
        let batch = batch(task.as_ref(), 20);
        for p in &batch.trial_params {
            assert_eq!((num(p, "f1"), num(p, "f2"), p["choice"].as_u64()), (14.0, 22.0, Some(1)));
        }
        let behaviour = task.behaviour().unwrap();
        assert_eq!(behaviour.conditions.len(), 10);
        assert!(behaviour.conditions.iter().all(|c| c.signed_stimulus.abs() == 8.0 && c.variables[0].0 == "f1"));
    }
}
