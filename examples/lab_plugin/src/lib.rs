//! Tutorial: a lab's plugin library, loaded by psychrnn at run time.
//!
//! Build it with `cargo build --release -p psychrnn-example-lab-plugin`, then either list it in a
//! manifest (`[plugins] paths = ["target/release/libpsychrnn_example_lab_plugin.so"]`) or pass
//! `--plugin <path>` to any `psychrnn` command. It adds:
//!
//! - task `go_no_go`: one input channel carries a pulse on go trials (probability `go_prob`);
//!   after it the network must answer 1 on go trials and 0 on no-go trials;
//! - regularizer `l1_firing_rate`: `coefficient * mean |f(x)|` over all rates.
//!
//! It must be built by the same compiler against the same psychrnn-core as the `psychrnn`
//! binary; the host checks both before calling into it. Every constructor and method runs
//! behind a panic guard compiled into this library (`psychrnn_core::plugin::register`), so a
//! panic here becomes an error in psychrnn instead of a crash. The `panic_after_trials` switch of `go_no_go` exists to
//! test exactly that.

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::Zip;
use psychrnn_core::plugin::Registrar;
use psychrnn_core::registry::Plugin;
use psychrnn_core::task::blocks::add_gaussian_noise;
use psychrnn_core::{
    BuildContext, Error, Real, Regularizer, RegularizerGrads, RegularizerInput, Result, Rng, Task, TaskTiming,
    TrialMut, TrialParams,
};
use rand::RngExt;
use serde::{Deserialize, Serialize};

fn half() -> f64 {
    0.5
}

/// `[task] type = "go_no_go"`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoNoGoConfig {
    /// Probability of a go trial.
    #[serde(default = "half")]
    pub go_prob: f64,
    /// For testing the panic guard: panic once this many trials were generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic_after_trials: Option<u64>,
}

/// The go/no-go task.
pub struct GoNoGo {
    config: GoNoGoConfig,
    timing: TaskTiming,
    generated: AtomicU64,
}

impl Plugin for GoNoGo {
    type Kind = dyn Task;
    type Config = GoNoGoConfig;
    const TAG: &'static str = "go_no_go";
    const DOC: &'static str = "respond 1 after a go pulse, 0 without one (lab plugin)";

    fn build(config: GoNoGoConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
        if !(0.0..=1.0).contains(&config.go_prob) {
            return Err(Error::invalid("go_prob", format!("must lie in [0, 1], got {}", config.go_prob)));
        }
        Ok(Box::new(GoNoGo { config, timing: timing.clone(), generated: AtomicU64::new(0) }))
    }
}

impl Task for GoNoGo {
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }
    fn n_in(&self) -> usize {
        1
    }
    fn n_out(&self) -> usize {
        1
    }
    fn generate_trial(&self, rng: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
        let n = self.generated.fetch_add(1, Ordering::Relaxed);
        if self.config.panic_after_trials.is_some_and(|limit| n >= limit) {
            panic!("go_no_go was told to panic after {n} trials");
        }
        let go = rng.random::<f64>() < self.config.go_prob;
        let big_t = self.timing.duration;
        let (onset, end) = (big_t * 0.2, big_t * 0.4);
        for s in 0..self.timing.n_steps() {
            let t = self.timing.time_of(s);
            add_gaussian_noise(trial.inputs.row_mut(s), 0.05, rng);
            if go && onset <= t && t < end {
                trial.inputs[[s, 0]] += 1.0;
            }
            if t >= end + 100.0 {
                trial.targets[[s, 0]] = if go { 1.0 } else { 0.0 };
                trial.mask[[s, 0]] = 1.0;
            }
        }
        let mut p = TrialParams::new();
        p.insert("go".into(), go.into());
        p
    }
    /// Correct when the mean masked output is on the right side of 0.5.
    fn accuracy(&self, batch: &psychrnn_core::TrialBatch, outputs: ndarray::ArrayView3<'_, f32>) -> f64 {
        let n = batch.n_trials();
        let correct = (0..n)
            .filter(|&b| {
                let (mut sum, mut count) = (0.0, 0.0);
                for s in 0..batch.n_steps() {
                    let m = f64::from(batch.mask[[s, b, 0]]);
                    sum += m * f64::from(outputs[[s, b, 0]]);
                    count += m;
                }
                let go = batch.trial_params[b]["go"].as_bool().unwrap_or(false);
                (count > 0.0) && ((sum / count > 0.5) == go)
            })
            .count();
        correct as f64 / n.max(1) as f64
    }
}

/// `[[regularizers]] type = "l1_firing_rate"`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct L1RateConfig {
    /// The coefficient.
    pub coefficient: f64,
}

/// `coefficient * mean |r|`.
pub struct L1FiringRate(L1RateConfig);

impl Plugin for L1FiringRate {
    type Kind = dyn Regularizer<f32>;
    type Config = L1RateConfig;
    const TAG: &'static str = "l1_firing_rate";
    const DOC: &'static str = "coefficient * mean |f(x)| (lab plugin)";

    fn build(config: L1RateConfig, (): (), _: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
        Ok(Box::new(L1FiringRate(config)))
    }
}

impl<F: Real> Regularizer<F> for L1FiringRate {
    fn penalty(&self, input: &RegularizerInput<'_, F>, grads: &mut RegularizerGrads<F>) -> F {
        let scale = F::of(self.0.coefficient / input.rates.len().max(1) as f64);
        let mut total = F::zero();
        Zip::from(grads.rates_mut()).and(&input.rates).for_each(|g, &r| {
            total += scale * r.abs();
            *g += scale
                * if r > F::zero() {
                    F::one()
                } else if r < F::zero() {
                    -F::one()
                } else {
                    F::zero()
                };
        });
        total
    }
}

/// Registers the library's plugins: one line per plugin type.
pub fn register(r: &mut dyn Registrar) {
    psychrnn_core::plugin::register::<GoNoGo>(r);
    psychrnn_core::plugin::register::<L1FiringRate>(r);
}

psychrnn_core::declare_plugin!(register);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_task_passes_the_conformance_kit() {
        let timing = TaskTiming::new(10.0, 100.0, 1000.0, 8);
        let config = GoNoGoConfig { go_prob: 0.5, panic_after_trials: None };
        let task = GoNoGo::build(config, &timing, &BuildContext::default()).unwrap();
        psychrnn_core::testing::check_task_contract(task.as_ref(), 16).unwrap();
    }

    #[test]
    fn the_regularizer_passes_the_conformance_kit() {
        let reg = L1FiringRate(L1RateConfig { coefficient: 0.3 });
        psychrnn_core::testing::check_regularizer(&reg, &[("W_rec", 3, 3)]).unwrap();
    }
}
