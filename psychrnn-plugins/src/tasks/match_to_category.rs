//! `match_to_category`: PsychRNN's category task: a bump of activity on a ring of `N_in` input
//! channels encodes an angle; report which of `N_out` equal sectors of the circle it lies in.
//!
//! Per trial (PsychRNN, `match_to_category.py`): angle `U[0, 2 pi)`, category
//! `int(angle / (2 pi / N_out))`. Inputs carry noise `(1 / (2 dt)) stim_noise N(0, 1)`; from
//! `onset_time` for `input_dur` ms channel i adds `exp(-d_i^2 / 2) / sqrt(2 pi)` with `d_i` the
//! angle from channel i's preferred angle (wrapped once into [-pi, pi]); preferred angles are
//! `linspace(0, 2 pi, N_in)` with both ends included, as in PsychRNN (the first and last channels
//! coincide). Then for `output_dur` ms the target is 1 on the category's channel and 0 elsewhere,
//! mask 1 on every channel; elsewhere the mask is 0.

use std::f64::consts::PI;

use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::task::Timeline;
use psychrnn_core::task::blocks::add_gaussian_noise;
use psychrnn_core::{Error, Result, Rng, Task, TaskTiming, TrialMut, TrialParams};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The registry tag.
pub const TAG: &str = "match_to_category";

fn n_in() -> usize {
    16
}
fn n_out() -> usize {
    2
}
fn onset() -> f64 {
    200.0
}
fn input_dur() -> f64 {
    1000.0
}
fn output_dur() -> f64 {
    800.0
}
fn stim_noise() -> f64 {
    0.1
}

/// `[task] type = "match_to_category"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct MatchToCategoryConfig {
    /// Number of input channels on the ring.
    #[serde(default = "n_in")]
    pub N_in: usize,
    /// Number of categories (output channels).
    #[serde(default = "n_out")]
    pub N_out: usize,
    /// Stimulus onset (ms).
    #[serde(default = "onset")]
    pub onset_time: f64,
    /// Stimulus length (ms).
    #[serde(default = "input_dur")]
    pub input_dur: f64,
    /// Response length (ms).
    #[serde(default = "output_dur")]
    pub output_dur: f64,
    /// Stimulus noise level.
    #[serde(default = "stim_noise")]
    pub stim_noise: f64,
}

/// The task.
pub struct MatchToCategory {
    config: MatchToCategoryConfig,
    timing: TaskTiming,
    preferred: Vec<f64>,
}

impl Plugin for MatchToCategory {
    type Kind = dyn Task;
    type Config = MatchToCategoryConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PsychRNN's category task: which sector of the circle holds the angle encoded on a ring of inputs";

    /// # Errors
    /// Fewer than 2 channels, negative times, or a trial that does not fit in `T`.
    fn build(c: MatchToCategoryConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        if c.N_in < 2 {
            return Err(Error::invalid("N_in", format!("must be at least 2, got {}", c.N_in)));
        }
        if c.N_out < 1 {
            return Err(Error::invalid("N_out", "must be at least 1, got 0"));
        }
        for (name, v) in [
            ("onset_time", c.onset_time),
            ("input_dur", c.input_dur),
            ("output_dur", c.output_dur),
            ("stim_noise", c.stim_noise),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::invalid(name, format!("must be >= 0, got {v}")));
            }
        }
        let needed = c.onset_time + c.input_dur + c.output_dur;
        if needed > timing.duration {
            return Err(Error::invalid(
                "",
                format!(
                    "a trial needs onset_time + input_dur + output_dur = {needed} ms, longer than T = {} ms",
                    timing.duration
                ),
            ));
        }
        let preferred = (0..c.N_in).map(|i| 2.0 * PI * i as f64 / (c.N_in - 1) as f64).collect();
        Ok(Box::new(MatchToCategory { config: c, timing: timing.clone(), preferred }))
    }
}

/// `a` wrapped once into [-pi, pi] (PsychRNN's single correction).
fn wrap_once(a: f64) -> f64 {
    if a > PI {
        a - 2.0 * PI
    } else if a < -PI {
        a + 2.0 * PI
    } else {
        a
    }
}

impl Task for MatchToCategory {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }

    fn n_in(&self) -> usize {
        self.config.N_in
    }

    fn n_out(&self) -> usize {
        self.config.N_out
    }

    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let c = &self.config;
        let angle = 2.0 * PI * rng.random::<f64>();
        let category = ((angle / (2.0 * PI / c.N_out as f64)) as usize).min(c.N_out - 1);
        let timeline = Timeline::sequential(c.onset_time, &[("stimulus", c.input_dur), ("response", c.output_dur)]);
        let bump: Vec<f32> = self
            .preferred
            .iter()
            .map(|p| ((-wrap_once(p - angle).powi(2) / 2.0).exp() / (2.0 * PI).sqrt()) as f32)
            .collect();
        let noise_std = c.stim_noise / (2.0 * self.timing.dt);
        for s in 0..self.timing.n_steps() {
            let t = self.timing.time_of(s);
            let mut x = trial.inputs.row_mut(s);
            add_gaussian_noise(x.view_mut(), noise_std, rng);
            if timeline.contains("stimulus", t) {
                x += &ndarray::ArrayView1::from(&bump);
            }
            if timeline.contains("response", t) {
                trial.targets[[s, category]] = 1.0;
                trial.mask.row_mut(s).fill(1.0);
            }
        }
        let mut params = TrialParams::new();
        params.insert("angle".into(), angle.into());
        params.insert("category".into(), category.into());
        params.insert("onset_time".into(), c.onset_time.into());
        params.insert("input_dur".into(), c.input_dur.into());
        params.insert("output_dur".into(), c.output_dur.into());
        params.insert("stim_noise".into(), c.stim_noise.into());
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
        psychrnn_core::registry::construct::<MatchToCategory>(table, timing, ctx).map(|built| built.object)
    }

    fn timing() -> TaskTiming {
        TaskTiming::new(10.0, 100.0, 2000.0, 8)
    }

    #[test]
    fn passes_the_task_contract() {
        check_task_contract(build(&toml::Table::new(), &timing(), &BuildContext::default()).unwrap().as_ref(), 16)
            .unwrap();
    }

    #[test]
    fn bump_category_epochs_and_mask_follow_psychrnn() {
        let t = build(&toml::Table::new(), &timing(), &BuildContext::default()).unwrap();
        let batch = t.generate_batch(100, &mut stream(4, Purpose::User, 0));
        let noise_bound = 6.0 * 0.1 / 20.0;
        for (b, p) in batch.trial_params.iter().enumerate() {
            let angle = p["angle"].as_f64().unwrap();
            let category = p["category"].as_u64().unwrap() as usize;
            assert_eq!(category, usize::from(angle >= PI));
            for s in 0..200 {
                let time = s as f64 * 10.0;
                for i in 0..16 {
                    let pref = 2.0 * PI * i as f64 / 15.0;
                    let want = if (200.0..1200.0).contains(&time) {
                        (-wrap_once(pref - angle).powi(2) / 2.0).exp() / (2.0 * PI).sqrt()
                    } else {
                        0.0
                    };
                    assert!(
                        (f64::from(batch.inputs[[s, b, i]]) - want).abs() < noise_bound,
                        "trial {b} step {s} channel {i}"
                    );
                }
                let response = (1200.0..2000.0).contains(&time);
                for k in 0..2 {
                    assert_eq!(batch.mask[[s, b, k]], if response { 1.0 } else { 0.0 });
                    assert_eq!(batch.targets[[s, b, k]], if response && k == category { 1.0 } else { 0.0 });
                }
            }
        }
        // The ring duplicates angle 0: the first and last channels carry the same bump.
        assert!((batch.inputs[[50, 0, 0]] - batch.inputs[[50, 0, 15]]).abs() < 2.0 * noise_bound as f32);
        assert_eq!(t.accuracy(&batch, batch.targets.view()), 1.0);
    }

    #[test]
    fn a_trial_longer_than_t_is_rejected() {
        let short = TaskTiming { duration: 1500.0, ..timing() };
        let err = build(&toml::Table::new(), &short, &BuildContext::default()).err().unwrap().to_string();
        assert!(err.contains("2000 ms, longer than T = 1500 ms"), "{err}");
    }
}
