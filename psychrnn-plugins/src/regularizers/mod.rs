//! Bundled regularisers (PsychRNN's; every term is a mean, not a sum or a norm):
//!
//! - `l1_weights`: `sum_k c_k mean|W_k,eff|` with per-matrix coefficients, e.g. `W_rec = 0.01`
//!   (PsychRNN's `L1_in`, `L1_rec`, `L1_out`);
//! - `l2_weights`: `sum_k c_k mean(W_k,eff^2)` (`L2_in`, `L2_rec`, `L2_out`);
//! - `l2_firing_rate`: `c mean(f(x)^2)` over all `T x B x N_rec` rates (`L2_firing_rate`).

use std::collections::BTreeMap;

use ndarray::Zip;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{Error, Real, Regularizer, RegularizerGrads, RegularizerInput, Result};
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

/// `type = "l1_weights"`: [`WeightPenalty`] of power 1.
pub struct L1Weights;

impl Plugin for L1Weights {
    type Kind = dyn Regularizer<f32>;
    type Config = WeightCoefficients;
    const TAG: &'static str = "l1_weights";
    const DOC: &'static str = "coefficient * mean |W_eff| per named matrix";

    fn build(config: WeightCoefficients, (): (), _: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
        Ok(Box::new(WeightPenalty::new(1, config)?))
    }
}

/// `type = "l2_weights"`: [`WeightPenalty`] of power 2.
pub struct L2Weights;

impl Plugin for L2Weights {
    type Kind = dyn Regularizer<f32>;
    type Config = WeightCoefficients;
    const TAG: &'static str = "l2_weights";
    const DOC: &'static str = "coefficient * mean W_eff^2 per named matrix";

    fn build(config: WeightCoefficients, (): (), _: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
        Ok(Box::new(WeightPenalty::new(2, config)?))
    }
}

impl Plugin for FiringRatePenalty {
    type Kind = dyn Regularizer<f32>;
    type Config = FiringRateConfig;
    const TAG: &'static str = "l2_firing_rate";
    const DOC: &'static str = "coefficient * mean f(x)^2 over all rates";

    /// # Errors
    /// A non-finite coefficient.
    fn build(config: FiringRateConfig, (): (), _: &BuildContext) -> Result<Box<dyn Regularizer<f32>>> {
        if !config.coefficient.is_finite() {
            return Err(Error::invalid("coefficient", format!("must be finite, got {}", config.coefficient)));
        }
        Ok(Box::new(FiringRatePenalty { config }))
    }
}

/// A firing-rate penalty with coefficient `c` (for tests and programmatic use).
pub fn firing_rate(c: f64) -> FiringRatePenalty {
    FiringRatePenalty { config: FiringRateConfig { coefficient: c } }
}
