//! Standard-normal draws for recurrent and input noise: the Box–Muller transform in `f32`,
//! written as branch-free loops over a chunk so the compiler vectorises them (noise is a large
//! share of a small network's training time).
//!
//! Each pair of 32-bit words `(a, b)` gives two independent N(0, 1) values,
//! `r cos(theta)` and `r sin(theta)` with `r = sqrt(-2 ln u)`, `u = (a / 2 + 1/2) / 2^31` in
//! (0, 1) and `theta = 2 pi b / 2^32`. The logarithm, sine and cosine are short polynomials on
//! reduced ranges, accurate to `f32` rounding (tested against `f64`); `u` never reaches 0, so
//! values stay within about 6.7 standard deviations (a tail probability of 3e-11). The
//! arithmetic is plain IEEE `f32`, so the values are the same on every machine.

use super::Rng;
use super::lanes::{GROUP_WORDS, Lanes};
#[cfg(target_arch = "x86_64")]
use psychrnn_simd::{SimdLevel, simd_level};

/// Values per chunk (even: two per pair of words).
const CHUNK: usize = 256;

/// Fills `out` with N(0, 1) draws, consuming one 32-bit word of `rng` per value (rounded up to
/// an even number per chunk of 256).
pub fn fill_standard_normal<F: crate::Real>(rng: &mut Rng, out: &mut [F]) {
    let mut words = [0u32; CHUNK];
    let mut values = [0f32; CHUNK];
    for chunk in out.chunks_mut(CHUNK) {
        let pairs = chunk.len().div_ceil(2);
        rand::RngExt::fill(rng, &mut words[..2 * pairs]);
        let (radii, angles) = words[..2 * pairs].split_at(pairs);
        let (cosines, sines) = values[..2 * pairs].split_at_mut(pairs);
        box_muller(radii, angles, cosines, sines);
        for (o, &v) in chunk.iter_mut().zip(&values[..2 * pairs]) {
            *o = F::of(f64::from(v));
        }
    }
}

/// `cosines[k], sines[k] = r cos(theta), r sin(theta)` of the words `radii[k]`, `angles[k]`:
/// compiled for AVX-512 (16 lanes) or AVX2 (8 lanes) where the CPU has it, else for the x86-64
/// baseline (4 lanes). None uses FMA, so all give the same bits.
fn box_muller(radii: &[u32], angles: &[u32], cosines: &mut [f32], sines: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    match simd_level() {
        // SAFETY: the CPU supports the one feature each function is compiled for (checked by
        // `simd_level`).
        SimdLevel::Avx512 => return unsafe { box_muller_avx512(radii, angles, cosines, sines) },
        SimdLevel::Avx2 => return unsafe { box_muller_avx2(radii, angles, cosines, sines) },
        SimdLevel::Baseline => {}
    }
    box_muller_lanes(radii, angles, cosines, sines);
}

/// [`box_muller_lanes`] compiled with AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn box_muller_avx512(radii: &[u32], angles: &[u32], cosines: &mut [f32], sines: &mut [f32]) {
    box_muller_lanes(radii, angles, cosines, sines);
}

/// [`box_muller_lanes`] compiled with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn box_muller_avx2(radii: &[u32], angles: &[u32], cosines: &mut [f32], sines: &mut [f32]) {
    box_muller_lanes(radii, angles, cosines, sines);
}

/// The next [`GROUP_WORDS`] standard normals of a per-trial stream: one group of sixteen
/// ChaCha8 blocks ([`Lanes`], lane-interleaved), its first half of words the radii and its
/// second half the angles of the Box–Muller pairs; `out` holds the cosine values, then the sine
/// values. Compiled, ChaCha and transform together, for AVX-512, AVX2 or the baseline, all with
/// the same bits.
pub(crate) fn normal_group(lanes: &mut Lanes, out: &mut [f32; GROUP_WORDS]) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    match simd_level() {
        // SAFETY: as in `box_muller`.
        SimdLevel::Avx512 => return unsafe { normal_group_avx512(lanes, out) },
        SimdLevel::Avx2 => return unsafe { normal_group_avx2(lanes, out) },
        SimdLevel::Baseline => {}
    }
    normal_group_lanes(lanes, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn normal_group_avx512(lanes: &mut Lanes, out: &mut [f32; GROUP_WORDS]) {
    normal_group_lanes(lanes, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn normal_group_avx2(lanes: &mut Lanes, out: &mut [f32; GROUP_WORDS]) {
    normal_group_lanes(lanes, out);
}

#[inline(always)]
fn normal_group_lanes(lanes: &mut Lanes, out: &mut [f32; GROUP_WORDS]) {
    let mut words = [0u32; GROUP_WORDS];
    lanes.next_group(&mut words);
    let (radii, angles) = words.split_at(GROUP_WORDS / 2);
    let (cosines, sines) = out.split_at_mut(GROUP_WORDS / 2);
    box_muller_lanes(radii, angles, cosines, sines);
}

/// The transform itself, branch-free so it vectorises for whatever features it is compiled with.
#[inline(always)]
fn box_muller_lanes(radii: &[u32], angles: &[u32], cosines: &mut [f32], sines: &mut [f32]) {
    let rows = radii.iter().zip(angles).zip(cosines.iter_mut().zip(sines.iter_mut()));
    for ((&a, &b), (c, s)) in rows {
        let u = (((a >> 1) as i32) as f32 + 0.5) * (1.0 / 2_147_483_648.0);
        let r = (-2.0 * ln(u)).sqrt();
        let (sin, cos) = sin_cos_turn(b);
        *c = r * cos;
        *s = r * sin;
    }
}

/// Natural logarithm of a positive, normal `f32`: `x = m 2^e` with `m` in `[sqrt(1/2), sqrt(2))`,
/// `ln m = 2 atanh(s)` with `s = (m - 1) / (m + 1)`, `|s| <= 0.172`, by its series to `s^9`.
#[inline(always)]
fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut e = ((bits >> 23) & 0xff) as i32 - 127;
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > std::f32::consts::SQRT_2;
    m = if big { 0.5 * m } else { m };
    e += i32::from(big);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    const L3: f32 = 1.0 / 3.0;
    const L5: f32 = 1.0 / 5.0;
    const L7: f32 = 1.0 / 7.0;
    const L9: f32 = 1.0 / 9.0;
    let series = 1.0 + s2 * (L3 + s2 * (L5 + s2 * (L7 + s2 * L9)));
    e as f32 * std::f32::consts::LN_2 + 2.0 * s * series
}

/// `(sin, cos)` of the angle `2 pi w / 2^32`: the top two bits pick the quadrant; within it the
/// angle is `pi/4 + x` with `|x| <= pi/4`, where the Taylor series of `sin x` (to `x^9`) and
/// `cos x` (to `x^10`) are accurate to `f32` rounding.
#[inline(always)]
fn sin_cos_turn(w: u32) -> (f32, f32) {
    use std::f32::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4};
    let quadrant = w >> 30;
    let x = ((w & 0x3fff_ffff) as i32) as f32 * (FRAC_PI_2 / 1_073_741_824.0) - FRAC_PI_4;
    let x2 = x * x;
    // Horner's rule on the Taylor coefficients, multiplied (written as divisions by 6, 20, ...,
    // they compiled to nine vector divisions per 16 pairs, the transform's bottleneck).
    const S3: f32 = -1.0 / 6.0;
    const S5: f32 = 1.0 / 120.0;
    const S7: f32 = -1.0 / 5040.0;
    const S9: f32 = 1.0 / 362_880.0;
    const C4: f32 = 1.0 / 24.0;
    const C6: f32 = -1.0 / 720.0;
    const C8: f32 = 1.0 / 40_320.0;
    const C10: f32 = -1.0 / 3_628_800.0;
    let sin_x = x + x * x2 * (S3 + x2 * (S5 + x2 * (S7 + x2 * S9)));
    let cos_x = 1.0 + x2 * (-0.5 + x2 * (C4 + x2 * (C6 + x2 * (C8 + x2 * C10))));
    // sin and cos of pi/4 + x, then turned by the quadrant.
    let (sin_q, cos_q) = ((sin_x + cos_x) * FRAC_1_SQRT_2, (cos_x - sin_x) * FRAC_1_SQRT_2);
    let odd = quadrant & 1 == 1;
    let (sin, cos) = if odd { (cos_q, -sin_q) } else { (sin_q, cos_q) };
    if quadrant >= 2 { (-sin, -cos) } else { (sin, cos) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logarithm_sine_and_cosine_match_f64_to_f32_rounding() {
        let mut worst = (0.0f64, 0.0f64);
        for k in 0..200_000u32 {
            let w = k.wrapping_mul(2_654_435_761);
            let u = (((w >> 1) as i32) as f32 + 0.5) * (1.0 / 2_147_483_648.0);
            let ln_err = (f64::from(ln(u)) - f64::from(u).ln()).abs() / f64::from(u).ln().abs().max(1e-3);
            let theta = 2.0 * std::f64::consts::PI * f64::from(w) / 4_294_967_296.0;
            let (s, c) = sin_cos_turn(w);
            let trig_err = (f64::from(s) - theta.sin()).abs().max((f64::from(c) - theta.cos()).abs());
            worst = (worst.0.max(ln_err), worst.1.max(trig_err));
        }
        assert!(worst.0 < 1e-6, "ln relative error {}", worst.0);
        assert!(worst.1 < 1e-6, "sin/cos error {}", worst.1);
        // The extremes of the range.
        assert!((ln(f32::MIN_POSITIVE) - f32::MIN_POSITIVE.ln()).abs() < 1e-4);
        assert_eq!(ln(1.0), 0.0);
        for (w, want) in [(0u32, (0.0, 1.0)), (1 << 30, (1.0, 0.0)), (2 << 30, (0.0, -1.0)), (3 << 30, (-1.0, 0.0))] {
            let (s, c) = sin_cos_turn(w);
            assert!((s - want.0).abs() < 1e-6 && (c - want.1).abs() < 1e-6, "{w}: {s} {c}");
        }
    }

    #[test]
    fn every_code_path_gives_the_same_bits() {
        let words: Vec<u32> = (0..4096u32).map(|k| k.wrapping_mul(2_654_435_761) ^ (k << 7)).collect();
        let (radii, angles) = words.split_at(2048);
        type Kernel = fn(&[u32], &[u32], &mut [f32], &mut [f32]);
        let run = |kernel: Kernel| {
            let (mut c, mut s) = (vec![0.0f32; 2048], vec![0.0f32; 2048]);
            kernel(radii, angles, &mut c, &mut s);
            (c, s)
        };
        let baseline = run(box_muller_lanes);
        assert_eq!(run(box_muller), baseline);
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                assert_eq!(run(|r, a, c, s| unsafe { box_muller_avx2(r, a, c, s) }), baseline);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                assert_eq!(run(|r, a, c, s| unsafe { box_muller_avx512(r, a, c, s) }), baseline);
            }
        }
        // The per-trial groups, likewise.
        let lanes = Lanes::at(&crate::rng::stream(4, crate::rng::Purpose::TrainNoise, 2), 3 << 40);
        let group = |kernel: fn(&mut Lanes, &mut [f32; GROUP_WORDS])| {
            let mut lanes = lanes.clone();
            let mut out = [[0f32; GROUP_WORDS]; 3];
            out.iter_mut().for_each(|o| kernel(&mut lanes, o));
            out
        };
        let baseline = group(normal_group_lanes);
        assert_eq!(group(normal_group), baseline);
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                assert_eq!(group(|l, o| unsafe { normal_group_avx2(l, o) }), baseline);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                assert_eq!(group(|l, o| unsafe { normal_group_avx512(l, o) }), baseline);
            }
        }
    }

    #[test]
    fn per_trial_groups_are_box_muller_of_the_interleaved_keystream() {
        let base = crate::rng::stream(6, crate::rng::Purpose::TestNoise, 1);
        let mut lanes = Lanes::at(&base, 0);
        let mut words = [0u32; GROUP_WORDS];
        lanes.clone().next_group(&mut words);
        let mut out = [0f32; GROUP_WORDS];
        normal_group(&mut lanes, &mut out);
        let half = GROUP_WORDS / 2;
        for k in 0..half {
            let u = (((words[k] >> 1) as i32) as f32 + 0.5) * (1.0 / 2_147_483_648.0);
            let theta = 2.0 * std::f64::consts::PI * f64::from(words[half + k]) / 4_294_967_296.0;
            let r = (-2.0 * f64::from(u).ln()).sqrt();
            assert!((f64::from(out[k]) - r * theta.cos()).abs() < 1e-5, "cosine {k}");
            assert!((f64::from(out[half + k]) - r * theta.sin()).abs() < 1e-5, "sine {k}");
        }
    }

    #[test]
    fn values_are_a_pure_function_of_the_stream() {
        let mut a = vec![0.0f32; 1001];
        let mut b = vec![0.0f64; 1001];
        fill_standard_normal(&mut crate::rng::stream(1, crate::rng::Purpose::User, 0), &mut a);
        fill_standard_normal(&mut crate::rng::stream(1, crate::rng::Purpose::User, 0), &mut b);
        assert!(a.iter().zip(&b).all(|(&x, &y)| f64::from(x) == y));
        assert!(a.iter().all(|v| v.is_finite() && v.abs() < 7.0));
    }
}
