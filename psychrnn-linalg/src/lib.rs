//! Non-generic linear-algebra kernels over [faer], for the hot loop and for initialisation.
//!
//! faer is generic, so its code is compiled in whichever crate instantiates it. Keeping every
//! instantiation here, behind plain `f32`/`f64` slice functions, lets the workspace compile this
//! one crate at `opt-level = 3` even in `cargo test` builds (see the workspace `Cargo.toml`):
//! faer's eigen solver takes ~25 s for a 500x500 matrix unoptimised and ~0.15 s optimised.
//!
//! All matrices are dense, row-major slices. Every product is computed by faer's sequential
//! kernel (`Par::Seq`); large ones as two fixed column halves that [`join`] may run on two
//! cores. The split never depends on the thread count, so results are bit-for-bit the same for
//! any [`set_threads`].
//!
//! The per-step product of a recurrence has its own kernel, [`StepMatrix`] (`step_product`):
//! the same right-hand matrix at every step, packed once. A simulation's trajectory is written
//! out with non-temporal stores, [`stream_copy`] and [`stream_fence`] (`streaming`).
//!
//! Eigen-decompositions for analyses (a general matrix's eigenvalues, a symmetric one's
//! eigenvectors) are in `decompose`.
//!
//! Also here, because the hot loop shares them: [`join`] itself (the two-core fork-join the
//! rate kernels use for the halves of a batch, in `parallel`), the per-thread floating-point
//! mode it carries to the worker (`float_mode`), [`ComputeScope`] (those settings for the
//! length of a computation, then restored: `scope`), and [`simd_level`], which picks the AVX-512 or
//! AVX2 builds of the rate kernels' elementwise loops and of the noise (re-exported from
//! `psychrnn-simd`).

use faer::linalg::matmul::matmul;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, MatMut, MatRef, Par};

mod decompose;
mod float_mode;
mod parallel;
mod scope;
mod step_product;
mod streaming;

pub use decompose::{GeneralEigen, SymmetricEigen, eigen, eigenvalues, solve, symmetric_eigen};
pub use float_mode::flush_denormals_to_zero;
pub use parallel::{join, set_threads, threads};
pub use psychrnn_simd::{SimdLevel, limit_simd_level, simd_level};
pub use scope::ComputeScope;
pub use step_product::StepMatrix;
pub use streaming::{stream_copy, stream_fence};

/// Whether an operand of [`gemm_f32`]/[`gemm_f64`] is used as stored or transposed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Use the matrix as stored.
    N,
    /// Use the transpose of the stored matrix.
    T,
}

/// What a GEMM does with the existing contents of its output.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Acc {
    /// `C = op(A) op(B)`.
    Replace,
    /// `C += op(A) op(B)`.
    Add,
}

macro_rules! gemm_impl {
    ($name:ident, $t:ty) => {
        /// Row-major GEMM `C (m x n) (=|+=) op(A) (m x k) * op(B) (k x n)`.
        ///
        /// With `Op::N`, `a` holds an `m x k` matrix; with `Op::T` it holds `k x m` and its
        /// transpose is used (likewise `b`: `k x n`, or `n x k` transposed).
        ///
        /// # Panics
        /// If a slice length does not match its dimensions (an internal invariant: callers pass
        /// buffers they allocated with those dimensions).
        #[allow(clippy::too_many_arguments)]
        pub fn $name(c: &mut [$t], m: usize, n: usize, k: usize, a: &[$t], op_a: Op, b: &[$t], op_b: Op, acc: Acc) {
            assert_eq!(c.len(), m * n, "gemm: output length");
            assert_eq!(a.len(), m * k, "gemm: lhs length");
            assert_eq!(b.len(), k * n, "gemm: rhs length");
            if m == 0 || n == 0 {
                return;
            }
            let lhs = match op_a {
                Op::N => MatRef::from_row_major_slice(a, m, k),
                Op::T => MatRef::from_row_major_slice(a, k, m).transpose(),
            };
            let rhs = match op_b {
                Op::N => MatRef::from_row_major_slice(b, k, n),
                Op::T => MatRef::from_row_major_slice(b, n, k).transpose(),
            };
            let mut dst = MatMut::from_row_major_slice_mut(c, m, n);
            let beta = match acc {
                Acc::Replace => Accum::Replace,
                Acc::Add => Accum::Add,
            };
            if k == 0 {
                if acc == Acc::Replace {
                    dst.fill(0.0);
                }
                return;
            }
            if m * n * k >= SPLIT_WORK && n >= 2 {
                // Always the same two column halves, each by the sequential kernel: the bits do
                // not depend on whether the halves run in parallel.
                let half = n / 2;
                let (left, right) = dst.split_at_col_mut(half);
                let (rhs_left, rhs_right) = rhs.split_at_col(half);
                let product = |d: MatMut<'_, $t>, r: MatRef<'_, $t>| {
                    matmul(d, beta, lhs, r, 1.0, Par::Seq);
                    clear_upper_vector_state();
                };
                parallel::join(|| product(left, rhs_left), || product(right, rhs_right));
            } else if n < SKINNY && m >= 4 * SKINNY {
                // A tall, narrow output (e.g. T*B rows by N_out): faer maps a row-major output
                // to its transpose, whose few rows would fill a fraction of each kernel tile.
                // Computed column-major instead (its long side in the kernels' rows), then
                // copied back.
                let mut tall = vec![0.0; m * n];
                let mut scratch = MatMut::from_column_major_slice_mut(&mut tall, m, n);
                if acc == Acc::Add {
                    scratch.copy_from(dst.rb());
                }
                matmul(scratch.rb_mut(), beta, lhs, rhs, 1.0, Par::Seq);
                clear_upper_vector_state();
                dst.copy_from(scratch.rb());
            } else {
                matmul(dst, beta, lhs, rhs, 1.0, Par::Seq);
                clear_upper_vector_state();
            }
        }
    };
}

/// Outputs with fewer columns than this (and at least four times as many rows) are computed
/// column-major ([`gemm_f32`]): measured, the output products of PD-std (12800 x 2) ran on
/// kernel tiles a quarter full.
const SKINNY: usize = 8;

/// Products with at least this many multiply-adds (`m * n * k`) are computed as two column
/// halves (measured: worthwhile from about N_rec 256 at batch 64, 64 x 256 x 256 = 4.2 M).
pub const SPLIT_WORK: usize = 1 << 22;

/// The machine's f32 GEMM peak in GFLOP/s: the best of repeated `size x size x size` products
/// by [`gemm_f32`] (faer's kernel on two column halves, on two cores when `threads > 1`), for
/// about `seconds`. `psychrnn bench` reports the model's throughput against it.
pub fn gemm_peak_gflops_f32(size: usize, threads: usize, seconds: f64) -> f64 {
    let a: Vec<f32> = (0..size * size).map(|i| (i % 17) as f32 * 0.01).collect();
    let mut c = vec![0.0f32; size * size];
    let before = parallel::threads();
    set_threads(threads);
    let start = std::time::Instant::now();
    let mut best = f64::INFINITY;
    while best.is_infinite() || start.elapsed().as_secs_f64() < seconds {
        let t = std::time::Instant::now();
        gemm_f32(&mut c, size, size, size, &a, Op::N, &a, Op::T, Acc::Replace);
        best = best.min(t.elapsed().as_secs_f64());
    }
    set_threads(before);
    2.0 * (size as f64).powi(3) / best / 1e9
}

/// Clears the upper halves of the AVX/AVX-512 registers (`vzeroupper`) after a faer kernel.
///
/// faer's runtime-dispatched AVX-512 kernels can return with the upper vector state dirty; every
/// legacy-SSE instruction that follows (our baseline x86-64 code, libm's `expf`/`tanhf`) then
/// stalls. Measured here: one LSTM forward pass (B 64, T 200, N 50) took 370 ms with the dirty
/// state and 38 ms with this call.
#[allow(unsafe_code)]
#[inline]
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx")]
        fn zero_upper() {
            std::arch::x86_64::_mm256_zeroupper();
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked just above), which is all `zero_upper` needs.
            unsafe { zero_upper() };
        }
    }
}

gemm_impl!(gemm_f32, f32);
gemm_impl!(gemm_f64, f64);

/// Error of [`spectral_radius`], [`eigenvalues`] and [`symmetric_eigen`].
#[derive(Debug, Clone, PartialEq)]
pub enum EigenError {
    /// The slice does not hold `n * n` values.
    Shape {
        /// Expected number of values.
        expected: usize,
        /// Number of values found.
        found: usize,
    },
    /// The matrix holds a NaN or an infinity.
    NonFinite,
    /// The eigen solver did not converge.
    NoConvergence,
}

impl std::fmt::Display for EigenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EigenError::Shape { expected, found } => {
                write!(f, "expected {expected} values for a square matrix, found {found}")
            }
            EigenError::NonFinite => write!(f, "the matrix holds a NaN or an infinity"),
            EigenError::NoConvergence => write!(f, "the eigenvalue solver did not converge"),
        }
    }
}

impl std::error::Error for EigenError {}

/// Exact spectral radius (largest eigenvalue modulus) of a general, non-symmetric `n x n`
/// row-major matrix, from a full eigenvalue decomposition (Hessenberg + real Schur), not a
/// power-iteration estimate.
///
/// # Errors
/// [`EigenError`] if the shape is wrong, the matrix is not finite, or the solver fails.
pub fn spectral_radius(a: &[f64], n: usize) -> Result<f64, EigenError> {
    if a.len() != n * n {
        return Err(EigenError::Shape { expected: n * n, found: a.len() });
    }
    if n == 0 {
        return Ok(0.0);
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(EigenError::NonFinite);
    }
    let mat = MatRef::from_row_major_slice(a, n, n).to_owned();
    let eig = mat.eigenvalues().map_err(|_| EigenError::NoConvergence)?;
    Ok(eig.iter().map(|z| z.re.hypot(z.im)).fold(0.0, f64::max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_naive_for_every_transpose() {
        // A small product, and a tall narrow one (computed column-major).
        for (m, n, k) in [(3, 4, 5), (70, 3, 9)] {
            check_against_naive(m, n, k);
        }
    }

    fn check_against_naive(m: usize, n: usize, k: usize) {
        let a: Vec<f64> = (0..m * k).map(|i| i as f64 * 0.5 - 3.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64).sin()).collect();
        let at: Vec<f64> = (0..k * m).map(|idx| a[(idx % m) * k + idx / m]).collect();
        let bt: Vec<f64> = (0..n * k).map(|idx| b[(idx % k) * n + idx / k]).collect();
        let mut want = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        for (lhs, op_a) in [(&a, Op::N), (&at, Op::T)] {
            for (rhs, op_b) in [(&b, Op::N), (&bt, Op::T)] {
                let mut c = vec![1.0; m * n];
                gemm_f64(&mut c, m, n, k, lhs, op_a, rhs, op_b, Acc::Add);
                for (got, w) in c.iter().zip(&want) {
                    assert!((got - (w + 1.0)).abs() < 1e-12, "{m}x{n}x{k} {op_a:?}{op_b:?}");
                }
                gemm_f64(&mut c, m, n, k, lhs, op_a, rhs, op_b, Acc::Replace);
                for (got, w) in c.iter().zip(&want) {
                    assert!((got - w).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn large_products_are_split_and_give_the_same_bits_in_parallel() {
        let (m, n, k) = (64, 300, 300);
        assert!(m * n * k >= SPLIT_WORK);
        let _lock = parallel::TEST_THREADS.lock();
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 997.0 - 0.5).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 / 991.0 - 0.5).collect();
        let run = |threads| {
            set_threads(threads);
            let mut c = vec![0.5f32; m * n];
            gemm_f32(&mut c, m, n, k, &a, Op::N, &b, Op::T, Acc::Add);
            c
        };
        let (one, two) = (run(1), run(2));
        set_threads(1);
        assert_eq!(one, two);
        // And it is the product: compare with a naive sum (f64).
        for (i, j) in [(0, 0), (17, 299), (63, 150)] {
            let want: f64 = 0.5 + (0..k).map(|p| f64::from(a[i * k + p]) * f64::from(b[j * k + p])).sum::<f64>();
            assert!((f64::from(one[i * n + j]) - want).abs() < 1e-3, "{i},{j}");
        }
    }

    #[test]
    fn spectral_radius_of_a_rotation_and_a_triangular_matrix() {
        // A 2-D rotation scaled by 2 has complex eigenvalues of modulus 2.
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let r = spectral_radius(&[2.0 * c, -2.0 * s, 2.0 * s, 2.0 * c], 2).unwrap();
        assert!((r - 2.0).abs() < 1e-12);
        // Eigenvalues of a triangular matrix are its diagonal.
        let t = [1.0, 5.0, 7.0, 0.0, -3.5, 2.0, 0.0, 0.0, 0.25];
        assert!((spectral_radius(&t, 3).unwrap() - 3.5).abs() < 1e-12);
        assert!(matches!(spectral_radius(&t, 2), Err(EigenError::Shape { .. })));
        assert_eq!(spectral_radius(&[f64::NAN], 1), Err(EigenError::NonFinite));
    }
}
