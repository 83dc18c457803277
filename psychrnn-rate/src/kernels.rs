//! [`KernelReal`]: the float types with psychrnn-linalg's GEMM and step-product kernels.
//!
//! The contract's [`Real`] knows nothing of a numeric backend (a lab's plugin compiles no faer);
//! the engine's code is generic over this extension of it instead.

use psychrnn_core::Real;
use psychrnn_linalg::{Acc, Op, StepMatrix};

/// A [`Real`] with the dense kernels of the hot loop: `f32` for training, `f64` for the gradient
/// checks.
pub trait KernelReal: Real {
    /// Row-major GEMM `C (m x n) (=|+=) op(A) (m x k) op(B) (k x n)`, see [`psychrnn_linalg::gemm_f32`].
    #[expect(clippy::too_many_arguments, reason = "a GEMM's operands, shapes and modes")]
    fn gemm(c: &mut [Self], m: usize, n: usize, k: usize, a: &[Self], op_a: Op, b: &[Self], op_b: Op, acc: Acc);
    /// `b` (`k x n`, row-major) prepared for the per-step products of a recurrence, see
    /// [`psychrnn_linalg::StepMatrix`].
    fn step_matrix(b: &[Self], k: usize, n: usize) -> StepMatrix<Self>;
    /// `c (m x n) = a (m x k) B` for a [`KernelReal::step_matrix`] `B`.
    fn step_product(b: &StepMatrix<Self>, c: &mut [Self], a: &[Self], m: usize);
    /// [`KernelReal::step_product`] into rows of [`StepMatrix::padded_n`] values (every tile
    /// stored whole; see `StepMatrix::padded_product`).
    fn step_product_padded(b: &StepMatrix<Self>, c: &mut [Self], a: &[Self], m: usize);
}

macro_rules! kernel_real {
    ($t:ty, $gemm:path) => {
        impl KernelReal for $t {
            fn gemm(c: &mut [$t], m: usize, n: usize, k: usize, a: &[$t], op_a: Op, b: &[$t], op_b: Op, acc: Acc) {
                $gemm(c, m, n, k, a, op_a, b, op_b, acc);
            }
            fn step_matrix(b: &[$t], k: usize, n: usize) -> StepMatrix<$t> {
                StepMatrix::<$t>::new(b, k, n)
            }
            fn step_product(b: &StepMatrix<$t>, c: &mut [$t], a: &[$t], m: usize) {
                b.product(c, a, m);
            }
            fn step_product_padded(b: &StepMatrix<$t>, c: &mut [$t], a: &[$t], m: usize) {
                b.padded_product(c, a, m);
            }
        }
    };
}

kernel_real!(f32, psychrnn_linalg::gemm_f32);
kernel_real!(f64, psychrnn_linalg::gemm_f64);
