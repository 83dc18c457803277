//! # psychrnn-simd
//!
//! Which vector extension the hot loops are compiled for at run time: one detection shared by
//! the contract's noise generator (`psychrnn-core`) and the kernels (`psychrnn-linalg`), with no
//! dependencies, so the contract crate stays free of any numeric backend.
//!
//! The workspace is compiled for the x86-64 baseline (SSE2, 4 `f32` lanes) so that one binary
//! runs everywhere. The few loops that dominate a small network's time (the rate kernels'
//! elementwise steps, the noise) are also compiled inside `#[target_feature]` functions for
//! AVX-512 and AVX2 and picked by [`simd_level`]. None enables fused multiply-add, and Rust
//! never contracts `a * b + c` on its own, so every path computes the same IEEE operations:
//! the bits do not depend on the CPU (each such kernel has a test comparing its paths). The
//! one exception, the step product (`psychrnn_linalg::StepMatrix`), uses fused multiply-adds on every
//! path (in software on the baseline), which keeps the same guarantee.

use std::sync::atomic::{AtomicU8, Ordering};

/// The widest vector extension of this CPU that the hot loops have a build for (ordered:
/// `Baseline < Avx2 < Avx512`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// The x86-64 baseline (or another architecture).
    Baseline = 0,
    /// AVX2: 8 `f32` lanes.
    Avx2 = 1,
    /// AVX-512F: 16 `f32` lanes.
    Avx512 = 2,
}

static LIMIT: AtomicU8 = AtomicU8::new(SimdLevel::Avx512 as u8);

/// Caps the builds the hot loops use, process-wide (default: no cap). Results never depend on
/// it; it exists to show that (tests run every build and compare the bits).
pub fn limit_simd_level(level: SimdLevel) {
    LIMIT.store(level as u8, Ordering::Relaxed);
}

/// This CPU's [`SimdLevel`], capped by [`limit_simd_level`] (detected once; a cached load
/// afterwards).
#[inline]
pub fn simd_level() -> SimdLevel {
    let limit = match LIMIT.load(Ordering::Relaxed) {
        0 => SimdLevel::Baseline,
        1 => SimdLevel::Avx2,
        _ => SimdLevel::Avx512,
    };
    detected().min(limit)
}

#[inline]
fn detected() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return SimdLevel::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return SimdLevel::Avx2;
        }
    }
    SimdLevel::Baseline
}
