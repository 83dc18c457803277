//! Bundled losses, with PsychRNN's exact normalisation.
//!
//! - `mean_squared_error`: `mean over all T*B*N_out elements of (mask o (z - y))^2`. The divisor
//!   is the element count, not the mask sum (PsychRNN); `normalize = "mask_sum"` divides by the
//!   sum of the mask instead (PyCog).
//! - `binary_cross_entropy`: `p = clip(z, 1e-7, 1 - 1e-7)`, mean of
//!   `mask o -(y ln(p + 1e-7) + (1 - y) ln(1 - p + 1e-7))` (no sigmoid is applied).

use ndarray::{ArrayView3, ArrayViewMut3, Zip};
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{LossFunction, Real, Result};
use serde::{Deserialize, Serialize};

/// What a loss is divided by.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Normalize {
    /// The number of elements `T * B * N_out` (PsychRNN).
    #[default]
    Elements,
    /// The sum of the mask (PyCog).
    MaskSum,
}

/// Configuration of both losses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LossConfig {
    /// The divisor.
    #[serde(default)]
    pub normalize: Normalize,
}

/// Which formula.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// Masked mean squared error.
    MeanSquaredError,
    /// Masked binary cross-entropy.
    BinaryCrossEntropy,
}

/// A bundled loss.
pub struct Loss {
    kind: LossKind,
    config: LossConfig,
}

const CLIP: f64 = 1e-7;

impl Loss {
    /// A loss of the given kind.
    pub fn new(kind: LossKind, config: LossConfig) -> Self {
        Loss { kind, config }
    }
}

impl<F: Real> LossFunction<F> for Loss {
    fn loss(
        &self,
        z: ArrayView3<'_, F>,
        y: ArrayView3<'_, F>,
        mask: ArrayView3<'_, F>,
        mut d: ArrayViewMut3<'_, F>,
    ) -> F {
        let divisor = match self.config.normalize {
            Normalize::Elements => F::of(z.len() as f64),
            Normalize::MaskSum => mask.sum().max(F::of(1e-12)),
        };
        let scale = F::one() / divisor;
        let mut total = F::zero();
        match self.kind {
            LossKind::MeanSquaredError => {
                let two = F::of(2.0);
                Zip::from(&mut d).and(&z).and(&y).and(&mask).for_each(|d, &z, &y, &m| {
                    let e = m * (z - y);
                    total += e * e;
                    *d = two * m * e * scale;
                });
            }
            LossKind::BinaryCrossEntropy => {
                let (lo, hi, eps) = (F::of(CLIP), F::one() - F::of(CLIP), F::of(CLIP));
                Zip::from(&mut d).and(&z).and(&y).and(&mask).for_each(|d, &z, &y, &m| {
                    let p = z.max(lo).min(hi);
                    total += -m * (y * (p + eps).ln() + (F::one() - y) * (F::one() - p + eps).ln());
                    let inside = z >= lo && z <= hi;
                    *d = if inside {
                        -m * (y / (p + eps) - (F::one() - y) / (F::one() - p + eps)) * scale
                    } else {
                        F::zero()
                    };
                });
            }
        }
        total * scale
    }
}

/// `type = "mean_squared_error"`: [`Loss`] of [`LossKind::MeanSquaredError`].
pub struct MeanSquaredError;

impl Plugin for MeanSquaredError {
    type Kind = dyn LossFunction<f32>;
    type Config = LossConfig;
    const TAG: &'static str = "mean_squared_error";
    const DOC: &'static str = "masked MSE, mean over all elements (PsychRNN)";

    fn build(config: LossConfig, (): (), _: &BuildContext) -> Result<Box<dyn LossFunction<f32>>> {
        Ok(Box::new(Loss::new(LossKind::MeanSquaredError, config)))
    }
}

/// `type = "binary_cross_entropy"`: [`Loss`] of [`LossKind::BinaryCrossEntropy`].
pub struct BinaryCrossEntropy;

impl Plugin for BinaryCrossEntropy {
    type Kind = dyn LossFunction<f32>;
    type Config = LossConfig;
    const TAG: &'static str = "binary_cross_entropy";
    const DOC: &'static str = "masked BCE on outputs in (0, 1) (PsychRNN)";

    fn build(config: LossConfig, (): (), _: &BuildContext) -> Result<Box<dyn LossFunction<f32>>> {
        Ok(Box::new(Loss::new(LossKind::BinaryCrossEntropy, config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, array};

    #[test]
    fn mse_divides_by_every_element_not_the_mask_sum() {
        let z = array![[[1.0f64, 3.0]]];
        let y = array![[[0.0f64, 0.0]]];
        let m = array![[[1.0f64, 0.0]]];
        let mut d = Array3::zeros((1, 1, 2));
        let l = Loss::new(LossKind::MeanSquaredError, LossConfig::default());
        assert_eq!(LossFunction::<f64>::loss(&l, z.view(), y.view(), m.view(), d.view_mut()), 0.5);
        assert_eq!(d, array![[[1.0, 0.0]]]);
        let l = Loss::new(LossKind::MeanSquaredError, LossConfig { normalize: Normalize::MaskSum });
        assert_eq!(LossFunction::<f64>::loss(&l, z.view(), y.view(), m.view(), d.view_mut()), 1.0);
    }

    #[test]
    fn bce_matches_psychrnn_formula() {
        let z = array![[[0.8f64, 0.3]]];
        let y = array![[[1.0f64, 0.0]]];
        let m = array![[[1.0f64, 1.0]]];
        let mut d = Array3::zeros((1, 1, 2));
        let l = Loss::new(LossKind::BinaryCrossEntropy, LossConfig::default());
        let got = LossFunction::<f64>::loss(&l, z.view(), y.view(), m.view(), d.view_mut());
        let want = -((0.8f64 + 1e-7).ln() + (1.0 - 0.3f64 + 1e-7).ln()) / 2.0;
        assert!((got - want).abs() < 1e-12);
    }
}
