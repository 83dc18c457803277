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

use crate::{Acc, Op, gemm_f64};
use psychrnn_simd::{SimdLevel, simd_level};

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

impl<T> StepMatrix<T> {
    /// `n` rounded up to the panels' widths (a multiple of 16): the output row stride of
    /// `padded_product`.
    pub fn padded_n(&self) -> usize {
        self.n.div_ceil(HALF) * HALF
    }
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

    /// [`StepMatrix::product`] into rows of [`StepMatrix::padded_n`] values.
    ///
    /// # Panics
    /// As [`StepMatrix::product`].
    pub fn padded_product(&self, c: &mut [f64], a: &[f64], m: usize) {
        let (n, ldc) = (self.n, self.padded_n());
        assert_eq!(c.len(), m * ldc, "step product: output length");
        let mut dense = vec![0.0; m * n];
        self.product(&mut dense, a, m);
        for (row, values) in c.chunks_exact_mut(ldc.max(1)).zip(dense.chunks_exact(n.max(1))) {
            row[..n].copy_from_slice(values);
            row[n..].fill(0.0);
        }
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
        self.product_with_stride(c, self.n, a, m);
    }

    /// [`StepMatrix::product`] into rows of [`StepMatrix::padded_n`] values, every tile
    /// stored whole: a narrow last panel (the readout's few outputs, or `N_rec` not a multiple
    /// of 32) then needs no copy of a run-time length, which was a `memmove` call per row of
    /// every tile (7% of a simulation at N_rec 100). Columns past `n` hold the products with
    /// the zero padding of `B` (zeros for finite `a`).
    ///
    /// # Panics
    /// If a slice length does not match (an internal invariant).
    pub fn padded_product(&self, c: &mut [f32], a: &[f32], m: usize) {
        self.product_with_stride(c, self.padded_n(), a, m);
    }

    /// The product into rows of `ldc` values (`n` or [`StepMatrix::padded_n`]).
    fn product_with_stride(&self, c: &mut [f32], ldc: usize, a: &[f32], m: usize) {
        assert_eq!(c.len(), m * ldc, "step product: output length");
        assert_eq!(a.len(), m * self.k, "step product: lhs length");
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            let fma = std::arch::is_x86_feature_detected!("fma");
            match simd_level() {
                // SAFETY: the CPU has the features each build is compiled for (`simd_level`
                // checks AVX-512F and AVX2, FMA is checked here).
                SimdLevel::Avx512 if fma => return unsafe { self.product_avx512(c, ldc, a, m) },
                SimdLevel::Avx2 | SimdLevel::Avx512 if fma => return unsafe { self.product_avx2(c, ldc, a, m) },
                _ => {}
            }
        }
        self.panels::<2, HALF>(c, ldc, a, m);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    fn product_avx512(&self, c: &mut [f32], ldc: usize, a: &[f32], m: usize) {
        // 8 rows x 32 columns: 16 accumulator registers of the 32.
        self.panels::<8, PANEL>(c, ldc, a, m);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn product_avx2(&self, c: &mut [f32], ldc: usize, a: &[f32], m: usize) {
        // 6 rows x 16 columns: 12 accumulator registers of the 16.
        self.panels::<6, HALF>(c, ldc, a, m);
    }

    /// Every panel, in column blocks of `W` (or 16 for a 16-wide panel), `MR` rows at a time.
    #[inline(always)]
    fn panels<const MR: usize, const W: usize>(&self, c: &mut [f32], ldc: usize, a: &[f32], m: usize) {
        let (k, n) = (self.k, self.n);
        if k == 0 {
            c.fill(0.0);
            return;
        }
        for j0 in (0..n).step_by(PANEL) {
            let width = panel_width(n - j0);
            let panel = &self.data[j0 * k..j0 * k + width * k];
            if W == PANEL && width == PANEL {
                self.rows::<MR, W>(c, ldc, a, m, panel, width, j0, 0);
            } else {
                for sub in (0..width).step_by(HALF) {
                    self.rows::<MR, HALF>(c, ldc, a, m, panel, width, j0, sub);
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
        ldc: usize,
        a: &[f32],
        m: usize,
        panel: &[f32],
        width: usize,
        j0: usize,
        sub: usize,
    ) {
        let k = self.k;
        // Whole tiles where the rows have room (always with `padded_n`).
        let cols = if j0 + sub + W <= ldc { W } else { (self.n - j0 - sub).min(W) };
        let mut row = 0;
        while row + MR <= m {
            let acc = tile::<MR, W>(&a[row * k..(row + MR) * k], k, panel, width, sub);
            store(c, ldc, row, j0 + sub, cols, &acc);
            row += MR;
        }
        while row < m {
            let acc = tile::<1, W>(&a[row * k..(row + 1) * k], k, panel, width, sub);
            store(c, ldc, row, j0 + sub, cols, &acc);
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
        if cols == W {
            // A copy of known length is a few vector stores; `copy_from_slice` of a run-time
            // length was a call to `memmove` per row of every tile.
            let dst: &mut [f32; W] = match (&mut c[start..start + W]).try_into() {
                Ok(dst) => dst,
                Err(_) => unreachable!("a full tile row holds W columns"),
            };
            *dst = *acc_row;
        } else {
            c[start..start + cols].copy_from_slice(&acc_row[..cols]);
        }
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
    fn the_padded_product_is_the_product_with_zeros_past_n() {
        for level in [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512] {
            limit_simd_level(level);
            for &(m, k, n) in &[(32, 102, 100), (9, 40, 2), (17, 33, 33), (3, 5, 16), (8, 64, 64)] {
                let (a, b) = (values(m * k, 5 + k as u64), values(k * n, 6 + n as u64));
                let packed = StepMatrix::<f32>::new(&b, k, n);
                let ldc = packed.padded_n();
                assert!(ldc >= n && ldc % HALF == 0 && ldc < n + HALF, "padded width {ldc} of {n}");
                let mut padded = vec![f32::NAN; m * ldc];
                packed.padded_product(&mut padded, &a, m);
                let mut dense = vec![f32::NAN; m * n];
                packed.product(&mut dense, &a, m);
                for (row, want) in padded.chunks_exact(ldc).zip(dense.chunks_exact(n)) {
                    assert!(
                        row[..n].iter().zip(want).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{level:?} {m} {k} {n}"
                    );
                    assert!(row[n..].iter().all(|&v| v == 0.0), "{level:?} padding of {n}");
                }
            }
        }
        limit_simd_level(SimdLevel::Avx512);
        let b: Vec<f64> = values(4 * 3, 9).into_iter().map(f64::from).collect();
        let a: Vec<f64> = values(2 * 4, 8).into_iter().map(f64::from).collect();
        let packed = StepMatrix::<f64>::new(&b, 4, 3);
        let (mut padded, mut dense) = (vec![f64::NAN; 2 * packed.padded_n()], vec![0.0; 6]);
        packed.padded_product(&mut padded, &a, 2);
        packed.product(&mut dense, &a, 2);
        assert_eq!((&padded[..3], &padded[16..19]), (&dense[..3], &dense[3..]));
        assert!(padded[3..16].iter().chain(&padded[19..]).all(|&v| v == 0.0));
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
