//! The per-step product of a recurrence, `C (m x n) = A (m x k) B (k x n)` with the same `B` at
//! every step and few rows `m` (the trials of half a batch): `B` is packed once into column
//! panels ([`StepMatrix::new`]) and every product reads the panels as they are.
//!
//! faer has no pre-packed API: called at every step, it packed its operands again and ran a
//! 32-row product at 120–160 GFLOP/s per core where its large products reach 230. This kernel
//! keeps a tile of `MR` rows by 32 columns in registers and streams one panel row per `k`.
//!
//! Every element is summed in order of `k` from zero with one fused multiply-add per term:
//! the hardware's in the AVX-512 and AVX2 builds, [`f32::mul_add`] (correctly rounded in
//! software) in the baseline one, so every build gives the same bits, equal to the plain triple
//! loop of `mul_add`s (tested). FMA halves the instructions of the inner loop; without it the
//! kernel ran at 160 GFLOP/s per core at N 256-512, with it at 220 (faer: 190), measured on
//! the AVX-512 machine of BENCHMARKS.md. Only the `f32` product has its own kernel; the `f64`
//! one (used by the gradient checks) is faer's.

use crate::simd::{SimdLevel, simd_level};
use crate::{Acc, Op, gemm_f64};

/// Columns per packed panel (two AVX-512 vectors); the last panel is 16 wide when at most 16
/// columns are left.
const PANEL: usize = 32;
/// The narrower panel and the tile width of the AVX2 and baseline builds.
const HALF: usize = 16;

/// A `k x n` right-hand matrix prepared for repeated [`StepMatrix::product`]s.
#[derive(Clone, Debug)]
pub struct StepMatrix<T> {
    k: usize,
    n: usize,
    /// `f32`: the panels (panel `p` holds columns `32p..` as `k` rows of its width, zero-padded
    /// past `n`); `f64`: the row-major matrix.
    data: Vec<T>,
}

impl StepMatrix<f64> {
    /// Keeps `b` (`k x n`, row-major) for faer's product.
    ///
    /// # Panics
    /// If `b.len() != k * n` (an internal invariant).
    pub fn new(b: &[f64], k: usize, n: usize) -> Self {
        assert_eq!(b.len(), k * n, "step product: rhs length");
        StepMatrix { k, n, data: b.to_vec() }
    }

    /// `c (m x n) = a (m x k) B`, row-major.
    ///
    /// # Panics
    /// If a slice length does not match (an internal invariant).
    pub fn product(&self, c: &mut [f64], a: &[f64], m: usize) {
        gemm_f64(c, m, self.n, self.k, a, Op::N, &self.data, Op::N, Acc::Replace);
    }
}

impl StepMatrix<f32> {
    /// Packs `b` (`k x n`, row-major) into column panels.
    ///
    /// # Panics
    /// If `b.len() != k * n` (an internal invariant).
    pub fn new(b: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(b.len(), k * n, "step product: rhs length");
        let mut data = Vec::with_capacity(k * n.div_ceil(HALF) * HALF);
        for j0 in (0..n).step_by(PANEL) {
            let (width, cols) = (panel_width(n - j0), (n - j0).min(PANEL));
            for row in b.chunks_exact(n.max(1)).take(k) {
                data.extend_from_slice(&row[j0..j0 + cols]);
                data.extend(std::iter::repeat_n(0.0, width - cols));
            }
        }
        StepMatrix { k, n, data }
    }

    /// `c (m x n) = a (m x k) B`, row-major, built for the CPU's widest vector extension
    /// ([`simd_level`]; the same bits on every path).
    ///
    /// # Panics
    /// If a slice length does not match (an internal invariant).
    pub fn product(&self, c: &mut [f32], a: &[f32], m: usize) {
        assert_eq!(c.len(), m * self.n, "step product: output length");
        assert_eq!(a.len(), m * self.k, "step product: lhs length");
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            let fma = std::arch::is_x86_feature_detected!("fma");
            match simd_level() {
                // SAFETY: the CPU has the features each build is compiled for (`simd_level`
                // checks AVX-512F and AVX2, FMA is checked here).
                SimdLevel::Avx512 if fma => return unsafe { self.product_avx512(c, a, m) },
                SimdLevel::Avx2 | SimdLevel::Avx512 if fma => return unsafe { self.product_avx2(c, a, m) },
                _ => {}
            }
        }
        self.panels::<2, HALF>(c, a, m);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    fn product_avx512(&self, c: &mut [f32], a: &[f32], m: usize) {
        // 8 rows x 32 columns: 16 accumulator registers of the 32.
        self.panels::<8, PANEL>(c, a, m);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn product_avx2(&self, c: &mut [f32], a: &[f32], m: usize) {
        // 6 rows x 16 columns: 12 accumulator registers of the 16.
        self.panels::<6, HALF>(c, a, m);
    }

    /// Every panel, in column blocks of `W` (or 16 for a 16-wide panel), `MR` rows at a time.
    #[inline(always)]
    fn panels<const MR: usize, const W: usize>(&self, c: &mut [f32], a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        if k == 0 {
            c.fill(0.0);
            return;
        }
        for j0 in (0..n).step_by(PANEL) {
            let width = panel_width(n - j0);
            let panel = &self.data[j0 * k..j0 * k + width * k];
            if W == PANEL && width == PANEL {
                self.rows::<MR, W>(c, a, m, panel, width, j0, 0);
            } else {
                for sub in (0..width).step_by(HALF) {
                    self.rows::<MR, HALF>(c, a, m, panel, width, j0, sub);
                }
            }
        }
    }

    /// Columns `j0 + sub ..` (`W` of them) of every row: tiles of `MR` rows, then single rows.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn rows<const MR: usize, const W: usize>(
        &self,
        c: &mut [f32],
        a: &[f32],
        m: usize,
        panel: &[f32],
        width: usize,
        j0: usize,
        sub: usize,
    ) {
        let (k, n) = (self.k, self.n);
        let cols = (n - j0 - sub).min(W);
        let mut row = 0;
        while row + MR <= m {
            let acc = tile::<MR, W>(&a[row * k..(row + MR) * k], k, panel, width, sub);
            store(c, n, row, j0 + sub, cols, &acc);
            row += MR;
        }
        while row < m {
            let acc = tile::<1, W>(&a[row * k..(row + 1) * k], k, panel, width, sub);
            store(c, n, row, j0 + sub, cols, &acc);
            row += 1;
        }
    }
}

/// Width of the panel that starts with `left` columns still to pack.
fn panel_width(left: usize) -> usize {
    if left > HALF { PANEL } else { HALF }
}

/// `MR x W` products of `a`'s rows (`MR x k`) with columns `sub..sub + W` of a panel whose rows
/// are `stride` wide, summed in order of `k` by fused multiply-adds (the compiler keeps the
/// tile in registers; when the sum was split over two loops, it did not).
#[inline(always)]
fn tile<const MR: usize, const W: usize>(
    a: &[f32],
    k: usize,
    panel: &[f32],
    stride: usize,
    sub: usize,
) -> [[f32; W]; MR] {
    let rows: [&[f32]; MR] = std::array::from_fn(|i| &a[i * k..(i + 1) * k]);
    let mut acc = [[0.0f32; W]; MR];
    for (kk, panel_row) in panel.chunks_exact(stride).enumerate() {
        let b: &[f32; W] = match panel_row[sub..sub + W].try_into() {
            Ok(b) => b,
            Err(_) => unreachable!("a panel row holds W columns from sub"),
        };
        for (acc_row, a_row) in acc.iter_mut().zip(&rows) {
            let av = a_row[kk];
            for (cv, &bv) in acc_row.iter_mut().zip(b) {
                *cv = av.mul_add(bv, *cv);
            }
        }
    }
    acc
}

/// Writes the first `cols` columns of a tile into rows `row..` at column `col` of `c`.
#[inline(always)]
fn store<const MR: usize, const W: usize>(
    c: &mut [f32],
    n: usize,
    row: usize,
    col: usize,
    cols: usize,
    acc: &[[f32; W]; MR],
) {
    for (i, acc_row) in acc.iter().enumerate() {
        let start = (row + i) * n + col;
        c[start..start + cols].copy_from_slice(&acc_row[..cols]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit_simd_level;

    /// The plain triple loop, summing in order of `k` from zero by fused multiply-adds.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f32;
                for kk in 0..k {
                    acc = a[i * k + kk].mul_add(b[kk * n + j], acc);
                }
                c[i * n + j] = acc;
            }
        }
        c
    }

    /// Deterministic values in [-1, 1) with all mantissa bits in play.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    #[test]
    fn every_build_equals_the_plain_loop_bit_for_bit() {
        // Panels of 32 and 16, partial last columns, row tails, k = 1, a single row.
        let shapes = [(32, 50, 50), (32, 100, 100), (25, 37, 64), (9, 256, 17), (1, 1, 1), (7, 3, 33), (64, 512, 512)];
        for level in [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512] {
            limit_simd_level(level);
            for &(m, k, n) in &shapes {
                let (a, b) = (values(m * k, 1 + m as u64), values(k * n, 2 + n as u64));
                let packed = StepMatrix::<f32>::new(&b, k, n);
                let mut c = vec![f32::NAN; m * n];
                packed.product(&mut c, &a, m);
                let expected = naive(&a, &b, m, k, n);
                let same = c.iter().zip(&expected).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{level:?} m {m} k {k} n {n}");
            }
        }
        limit_simd_level(SimdLevel::Avx512);
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros() {
        let packed = StepMatrix::<f32>::new(&[], 0, 3);
        let mut c = vec![1.0f32; 6];
        packed.product(&mut c, &[], 2);
        assert_eq!(c, vec![0.0; 6]);
    }

    #[test]
    fn the_f64_product_is_faers() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = values(m * k, 3).into_iter().map(f64::from).collect();
        let b: Vec<f64> = values(k * n, 4).into_iter().map(f64::from).collect();
        let mut expected = vec![0.0; m * n];
        gemm_f64(&mut expected, m, n, k, &a, Op::N, &b, Op::N, Acc::Replace);
        let mut c = vec![0.0; m * n];
        StepMatrix::<f64>::new(&b, k, n).product(&mut c, &a, m);
        assert_eq!(c, expected);
    }
}
