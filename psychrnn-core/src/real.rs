//! The floating-point scalar of the numerical code: `f32` for training, `f64` for gradient checks.

use ndarray::{LinalgScalar, ScalarOperand};
use psychrnn_linalg::{Acc, Op, StepMatrix};
use rand_distr::{Distribution, StandardNormal};

use crate::rng::Rng;

/// A float type the models, losses and regularisers are generic over. Training runs in `f32`;
/// the finite-difference gradient checks instantiate the same code in `f64`.
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
    /// Row-major GEMM `C (m x n) (=|+=) op(A) (m x k) op(B) (k x n)`, see [`psychrnn_linalg::gemm_f32`].
    #[allow(clippy::too_many_arguments)]
    fn gemm(c: &mut [Self], m: usize, n: usize, k: usize, a: &[Self], op_a: Op, b: &[Self], op_b: Op, acc: Acc);
    /// `b` (`k x n`, row-major) prepared for the per-step products of a recurrence, see
    /// [`psychrnn_linalg::StepMatrix`].
    fn step_matrix(b: &[Self], k: usize, n: usize) -> StepMatrix<Self>;
    /// `c (m x n) = a (m x k) B` for a [`Real::step_matrix`] `B`.
    fn step_product(b: &StepMatrix<Self>, c: &mut [Self], a: &[Self], m: usize);
    /// [`Real::step_product`] into rows of [`StepMatrix::padded_n`] values (every tile stored
    /// whole; see `StepMatrix::padded_product`).
    fn step_product_padded(b: &StepMatrix<Self>, c: &mut [Self], a: &[Self], m: usize);
    /// Conversion from `f64` (rounding for `f32`).
    fn of(v: f64) -> Self;
    /// Conversion to `f64`.
    fn f64(self) -> f64;
    /// One draw from N(0, 1).
    fn standard_normal(rng: &mut Rng) -> Self;
}

impl Real for f32 {
    fn gemm(c: &mut [f32], m: usize, n: usize, k: usize, a: &[f32], op_a: Op, b: &[f32], op_b: Op, acc: Acc) {
        psychrnn_linalg::gemm_f32(c, m, n, k, a, op_a, b, op_b, acc);
    }
    fn step_matrix(b: &[f32], k: usize, n: usize) -> StepMatrix<f32> {
        StepMatrix::<f32>::new(b, k, n)
    }
    fn step_product(b: &StepMatrix<f32>, c: &mut [f32], a: &[f32], m: usize) {
        b.product(c, a, m);
    }
    fn step_product_padded(b: &StepMatrix<f32>, c: &mut [f32], a: &[f32], m: usize) {
        b.padded_product(c, a, m);
    }
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
    fn gemm(c: &mut [f64], m: usize, n: usize, k: usize, a: &[f64], op_a: Op, b: &[f64], op_b: Op, acc: Acc) {
        psychrnn_linalg::gemm_f64(c, m, n, k, a, op_a, b, op_b, acc);
    }
    fn step_matrix(b: &[f64], k: usize, n: usize) -> StepMatrix<f64> {
        StepMatrix::<f64>::new(b, k, n)
    }
    fn step_product(b: &StepMatrix<f64>, c: &mut [f64], a: &[f64], m: usize) {
        b.product(c, a, m);
    }
    fn step_product_padded(b: &StepMatrix<f64>, c: &mut [f64], a: &[f64], m: usize) {
        b.padded_product(c, a, m);
    }
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
