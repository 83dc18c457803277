//! Bundled optimizers: `adam` (TensorFlow 1 semantics, as PsychRNN) and `sgd`.
//!
//! TF1's Adam applies epsilon before bias correction: with `t` the step number,
//! `lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)`, `m = beta1 m + (1 - beta1) g`,
//! `v = beta2 v + (1 - beta2) g^2`, `theta -= lr_t m / (sqrt(v) + eps)`.
//! (PyTorch and optax put epsilon after the correction; the difference matters early on.)

use std::collections::BTreeMap;

use ndarray::{Array2, Zip};
use psychrnn_core::registry::BuildContext;
use psychrnn_core::{Error, Optimizer, Result, config_table, parse_config};
use serde::{Deserialize, Serialize};

fn lr() -> f64 {
    0.001
}
fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn eps() -> f64 {
    1e-8
}

/// `[optimizer] type = "adam"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate (PsychRNN: 0.001).
    #[serde(default = "lr")]
    pub learning_rate: f64,
    /// First-moment decay.
    #[serde(default = "beta1")]
    pub beta1: f64,
    /// Second-moment decay.
    #[serde(default = "beta2")]
    pub beta2: f64,
    /// Epsilon (TF1's "epsilon hat").
    #[serde(default = "eps")]
    pub epsilon: f64,
}

/// Adam with TF1 semantics.
pub struct Adam {
    config: AdamConfig,
    step: i32,
    lr_t: f32,
    slots: BTreeMap<String, (Array2<f32>, Array2<f32>)>,
}

fn check_rate(lr: f64) -> Result<()> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("learning_rate", format!("must be positive, got {lr}")))
    }
}

impl Adam {
    /// Builds Adam.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a non-positive learning rate, betas outside [0, 1) or a negative epsilon.
    pub fn new(config: AdamConfig) -> Result<Self> {
        check_rate(config.learning_rate)?;
        for (name, b) in [("beta1", config.beta1), ("beta2", config.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(name, format!("must lie in [0, 1), got {b}")));
            }
        }
        if config.epsilon.is_nan() || config.epsilon < 0.0 {
            return Err(Error::invalid("epsilon", format!("must be >= 0, got {}", config.epsilon)));
        }
        Ok(Adam { config, step: 0, lr_t: 0.0, slots: BTreeMap::new() })
    }
}

impl Optimizer for Adam {
    fn config(&self) -> toml::Table {
        config_table("adam", &self.config)
    }

    fn begin_step(&mut self) {
        self.step += 1;
        let c = &self.config;
        self.lr_t = (c.learning_rate * (1.0 - c.beta2.powi(self.step)).sqrt() / (1.0 - c.beta1.powi(self.step))) as f32;
    }

    fn update(&mut self, name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let (m, v) = self
            .slots
            .entry(name.to_string())
            .or_insert_with(|| (Array2::zeros(param.raw_dim()), Array2::zeros(param.raw_dim())));
        let (b1, b2, e, lr_t) =
            (self.config.beta1 as f32, self.config.beta2 as f32, self.config.epsilon as f32, self.lr_t);
        Zip::from(param).and(m).and(v).and(grad).for_each(|p, m, v, &g| {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr_t * *m / (v.sqrt() + e);
        });
    }
}

/// `[optimizer] type = "sgd"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate.
    #[serde(default = "lr")]
    pub learning_rate: f64,
}

/// Plain gradient descent, `theta -= lr g`.
pub struct Sgd {
    config: SgdConfig,
}

impl Optimizer for Sgd {
    fn config(&self) -> toml::Table {
        config_table("sgd", &self.config)
    }

    fn update(&mut self, _name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let lr = self.config.learning_rate as f32;
        Zip::from(param).and(grad).for_each(|p, &g| *p -= lr * g);
    }
}

/// Registry constructor of `adam`.
///
/// # Errors
/// As [`Adam::new`].
pub fn build_adam(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn Optimizer>> {
    Ok(Box::new(Adam::new(parse_config(table)?)?))
}

/// Registry constructor of `sgd`.
///
/// # Errors
/// A non-positive learning rate or an unknown key.
pub fn build_sgd(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn Optimizer>> {
    let config: SgdConfig = parse_config(table)?;
    check_rate(config.learning_rate)?;
    Ok(Box::new(Sgd { config }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn adam_first_step_moves_by_lr_in_the_gradient_sign() {
        // At t = 1: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1, so the step is
        // lr * g / |g| (up to epsilon): the TF1 form.
        let mut adam = Adam::new(AdamConfig { learning_rate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }).unwrap();
        let mut p = array![[1.0f32, 1.0]];
        adam.begin_step();
        adam.update("w", &mut p, &array![[0.5, -2.0]]);
        assert!((p[[0, 0]] - 0.99).abs() < 1e-6 && (p[[0, 1]] - 1.01).abs() < 1e-6, "{p}");
    }

    #[test]
    fn adam_with_zero_gradient_never_moves() {
        let mut adam = Adam::new(AdamConfig { learning_rate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }).unwrap();
        let mut p = array![[0.3f32]];
        for _ in 0..5 {
            adam.begin_step();
            adam.update("w", &mut p, &array![[0.0]]);
        }
        assert_eq!(p, array![[0.3f32]]);
    }

    #[test]
    fn invalid_learning_rate_is_named() {
        let mut t = toml::Table::new();
        t.insert("learning_rate".into(), toml::Value::Float(-1.0));
        assert_eq!(
            build_sgd(&t, &BuildContext::default()).err().unwrap().to_string(),
            "learning_rate: must be positive, got -1"
        );
    }
}
