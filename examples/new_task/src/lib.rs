//! Tutorial: a new task in your own crate (PsychRNN's *Define New Task* notebook).
//!
//! `simple_pd` is the notebook's `SimplePD`: perceptual discrimination whose coherence is drawn
//! from an exponential distribution (mean 0.2) instead of a fixed set. A task implements
//! [`Task`]: its sizes and timing, and `generate_trial`, which draws a trial's conditions and
//! fills its inputs, targets and loss mask. The accuracy defaults to PsychRNN's. It declares
//! itself to the registry once, as a [`Plugin`] (tag, description, configuration type,
//! constructor); [`registry`] adds it with one line.

use psychrnn_core::task::blocks::{add_gaussian_noise, psychrnn_stimulus_noise_std};
use psychrnn_core::{BuildContext, Error, Plugin, Registry, Result, Rng, Task, TaskTiming, TrialMut, TrialParams};
use rand::RngExt;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

/// The tag manifests use.
pub const TAG: &str = "simple_pd";

fn default_mean() -> f64 {
    0.2
}

/// `[task] type = "simple_pd"`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SimplePdConfig {
    /// Mean of the exponential coherence distribution.
    #[serde(default = "default_mean")]
    pub coherence_mean: f64,
}

/// The task.
pub struct SimplePd {
    timing: TaskTiming,
    coherence: Exp<f64>,
}

/// The plugin: its tag, description, configuration type and constructor, declared once.
impl Plugin for SimplePd {
    type Kind = dyn Task;
    type Config = SimplePdConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "perceptual discrimination with exponentially distributed coherence (PsychRNN's SimplePD)";

    /// # Errors
    /// A non-positive `coherence_mean`.
    fn build(config: SimplePdConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        let coherence = Exp::new(1.0 / config.coherence_mean).map_err(|_| {
            Error::invalid("coherence_mean", format!("must be positive, got {}", config.coherence_mean))
        })?;
        Ok(Box::new(SimplePd { timing: timing.clone(), coherence }))
    }
}

/// The bundled plugins plus `simple_pd`.
///
/// # Errors
/// If a tag is registered twice.
pub fn registry() -> Result<Registry> {
    let mut r = psychrnn_plugins::registry()?;
    r.add::<SimplePd>(concat!("psychrnn-example-new-task ", env!("CARGO_PKG_VERSION")))?;
    Ok(r)
}

impl Task for SimplePd {
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
        let t_total = self.timing.duration;
        let coherence = self.coherence.sample(rng);
        let direction = rng.random_range(0..2usize);
        let onset = rng.random::<f64>() * t_total / 2.0;
        let duration = rng.random::<f64>() * t_total / 4.0 + t_total / 8.0;
        let noise = psychrnn_stimulus_noise_std(self.timing.dt, 0.1);
        for s in 0..self.timing.n_steps() {
            let t = self.timing.time_of(s);
            add_gaussian_noise(trial.inputs.row_mut(s), noise, rng);
            if onset < t && t < onset + duration {
                trial.inputs[[s, direction]] += 1.0 + coherence as f32;
                trial.inputs[[s, 1 - direction]] += 1.0;
            }
            if t > onset + duration + 20.0 {
                trial.targets[[s, direction]] = 1.0;
            }
            if t >= onset + duration {
                trial.mask.row_mut(s).fill(1.0);
            }
        }
        let mut p = TrialParams::new();
        p.insert("coherence".into(), coherence.into());
        p.insert("direction".into(), direction.into());
        p.insert("onset_time".into(), onset.into());
        p.insert("stim_duration".into(), duration.into());
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};

    fn task() -> Box<dyn Task> {
        let timing = TaskTiming::new(10.0, 100.0, 1000.0, 8);
        SimplePd::build(SimplePdConfig { coherence_mean: 0.2 }, &timing, &BuildContext::default()).unwrap()
    }

    #[test]
    fn passes_the_conformance_kit() {
        psychrnn_core::testing::check_task_contract(task().as_ref(), 16).unwrap();
    }

    #[test]
    fn coherence_is_exponential_with_the_configured_mean() {
        let batch = task().generate_batch(2000, &mut stream(1, Purpose::User, 0));
        let mean = batch.trial_params.iter().map(|p| p["coherence"].as_f64().unwrap()).sum::<f64>() / 2000.0;
        assert!((mean - 0.2).abs() < 0.02, "mean coherence {mean}");
        assert!(batch.trial_params.iter().all(|p| p["coherence"].as_f64().unwrap() >= 0.0));
    }

    #[test]
    fn the_example_manifest_trains_through_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.toml");
        let mut manifest = psychrnn_core::Manifest::load(&path).unwrap();
        psychrnn_core::testing::shrink_for_smoke_test(&mut manifest, 4);
        let exp =
            psychrnn_train::Experiment::from_manifest(&manifest, &registry().unwrap(), "t", std::path::Path::new("."))
                .unwrap();
        let out = psychrnn_train::train(&exp, &mut psychrnn_train::trainer::Silent).unwrap();
        assert_eq!(out.iterations, 4);
        // Pinned: reorganising psychrnn must not change what this manifest trains to.
        assert_eq!(
            psychrnn_core::testing::params_sha256(&out.params),
            "3afad6c1a6458f7436b3f66e962e80ebc0a4122c7f432c13ca37a0c764174f04"
        );
        assert!(exp.lock_manifest().to_toml().unwrap().contains("psychrnn-example-new-task"));
    }
}
