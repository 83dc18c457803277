//! Bundled regularisers (PsychRNN's; every term is a mean, not a sum or a norm):
//!
//! - `l1_weights`: `sum_k c_k mean|W_k,eff|` with per-matrix coefficients, e.g. `W_rec = 0.01`
//!   (PsychRNN's `L1_in`, `L1_rec`, `L1_out`);
//! - `l2_weights`: `sum_k c_k mean(W_k,eff^2)` (`L2_in`, `L2_rec`, `L2_out`);
//! - `l2_firing_rate`: `c mean(f(x)^2)` over all `T x B x N_rec` rates (`L2_firing_rate`).

use std::collections::BTreeMap;

use ndarray::Zip;
use psychrnn_core::registry::BuildContext;
use psychrnn_core::{Error, Real, Regularizer, RegularizerGrads, RegularizerInput, Result, config_table, parse_config};
use serde::{Deserialize, Serialize};

/// Per-matrix coefficients of `l1_weights`/`l2_weights`, keyed by effective-weight name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct WeightCoefficients(pub BTreeMap<String, f64>);

/// `sign(w)` with `sign(0) = 0`, the subgradient TensorFlow uses for `|w|`.
fn sign<F: Real>(w: F) -> F {
    if w > F::zero() {
        F::one()
    } else if w < F::zero() {
        -F::one()
    } else {
        F::zero()
    }
}

/// `l1_weights` or `l2_weights`.
pub struct WeightPenalty {
    power: u8,
    coefficients: WeightCoefficients,
}

impl WeightPenalty {
    /// `power` 1 (L1) or 2 (L2).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming a non-finite coefficient.
    pub fn new(power: u8, coefficients: WeightCoefficients) -> Result<Self> {
        if let Some((k, v)) = coefficients.0.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::invalid(k.as_str(), format!("must be finite, got {v}")));
        }
        Ok(WeightPenalty { power, coefficients })
    }
}

impl<F: Real> Regularizer<F> for WeightPenalty {
    fn config(&self) -> toml::Table {
        config_table(if self.power == 1 { "l1_weights" } else { "l2_weights" }, &self.coefficients)
    }

    fn check(&self, names: &[&str]) -> Result<()> {
        for k in self.coefficients.0.keys() {
            if !names.contains(&k.as_str()) {
                return Err(Error::invalid(
                    k.as_str(),
                    format!("the model has no effective weight `{k}`; it has {}", names.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn penalty(&self, input: &RegularizerInput<'_, F>, grads: &mut RegularizerGrads<F>) -> F {
        let mut total = F::zero();
        for (name, &c) in &self.coefficients.0 {
            let (Some(w), Some(g)) = (input.effective.get(name), grads.effective.get_mut(name)) else {
                continue;
            };
            let scale = F::of(c / w.len().max(1) as f64);
            Zip::from(g).and(w).for_each(|g, &w| {
                if self.power == 1 {
                    total += scale * w.abs();
                    *g += scale * sign(w);
                } else {
                    total += scale * w * w;
                    *g += F::of(2.0) * scale * w;
                }
            });
        }
        total
    }
}

/// `l2_firing_rate` configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FiringRateConfig {
    /// The coefficient (PsychRNN's `L2_firing_rate`).
    pub coefficient: f64,
}

/// `l2_firing_rate`.
pub struct FiringRatePenalty {
    config: FiringRateConfig,
}

impl<F: Real> Regularizer<F> for FiringRatePenalty {
    fn config(&self) -> toml::Table {
        config_table("l2_firing_rate", &self.config)
    }

    fn penalty(&self, input: &RegularizerInput<'_, F>, grads: &mut RegularizerGrads<F>) -> F {
        let scale = F::of(self.config.coefficient / input.rates.len().max(1) as f64);
        let mut total = F::zero();
        Zip::from(grads.rates_mut()).and(&input.rates).for_each(|g, &r| {
            total += scale * r * r;
            *g += F::of(2.0) * scale * r;
        });
        total
    }
}

/// Registry constructor of `l1_weights`.
///
/// # Errors
/// A non-numeric or non-finite coefficient.
pub fn build_l1(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
    Ok(Box::new(WeightPenalty::new(1, parse_config(table)?)?))
}

/// Registry constructor of `l2_weights`.
///
/// # Errors
/// A non-numeric or non-finite coefficient.
pub fn build_l2(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
    Ok(Box::new(WeightPenalty::new(2, parse_config(table)?)?))
}

/// Registry constructor of `l2_firing_rate`.
///
/// # Errors
/// A missing or non-finite coefficient, or an unknown key.
pub fn build_firing_rate(table: &toml::Table, _ctx: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
    let config: FiringRateConfig = parse_config(table)?;
    if !config.coefficient.is_finite() {
        return Err(Error::invalid("coefficient", format!("must be finite, got {}", config.coefficient)));
    }
    Ok(Box::new(FiringRatePenalty { config }))
}

/// A firing-rate penalty with coefficient `c` (for tests and programmatic use).
pub fn firing_rate(c: f64) -> FiringRatePenalty {
    FiringRatePenalty { config: FiringRateConfig { coefficient: c } }
}
