//! The floating-point scalar of the numerical code: `f32` for training, `f64` for gradient checks.

use ndarray::{LinalgScalar, ScalarOperand};
use rand_distr::{Distribution, StandardNormal};

use crate::rng::Rng;

/// A float type the models, losses and regularisers are generic over. Training runs in `f32`;
/// the finite-difference gradient checks instantiate the same code in `f64`. (The engine's
/// dense kernels extend it: `psychrnn_rate::KernelReal`.)
pub trait Real:
    num_traits::Float
    + LinalgScalar
    + ScalarOperand
    + std::fmt::Debug
    + std::fmt::Display
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::iter::Sum
    + Default
    + Send
    + Sync
    + 'static
{
    /// Conversion from `f64` (rounding for `f32`).
    fn of(v: f64) -> Self;
    /// Conversion to `f64`.
    fn f64(self) -> f64;
    /// One draw from N(0, 1).
    fn standard_normal(rng: &mut Rng) -> Self;
}

impl Real for f32 {
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn f64(self) -> f64 {
        f64::from(self)
    }
    fn standard_normal(rng: &mut Rng) -> f32 {
        StandardNormal.sample(rng)
    }
}

impl Real for f64 {
    fn of(v: f64) -> f64 {
        v
    }
    fn f64(self) -> f64 {
        self
    }
    fn standard_normal(rng: &mut Rng) -> f64 {
        StandardNormal.sample(rng)
    }
}
