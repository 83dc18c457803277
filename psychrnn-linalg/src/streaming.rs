//! Copies into memory that will not be read again soon, with non-temporal stores: a
//! simulation's trajectory (`[T, B, N]` states and rates, tens of MB) is written once per step
//! and read only after the pass. Ordinary stores first read every line they write from memory
//! ("read for ownership") and the forward update stalled on them: writing the trajectory cost
//! 12-15% of a simulation at N_rec 256 (measured by writing to a cache-resident buffer instead).
//! Non-temporal stores go to memory through write-combining buffers without that read and
//! without evicting the cache-hot working set.
//!
//! The stores are weakly ordered: call [`stream_fence`] before another thread may read what
//! was written (the rate kernels do at the end of each half's pass).

/// Copies `src` into `dst` (same length), the bulk of it with non-temporal stores on x86-64
/// (64-byte AVX-512 stores at [`crate::simd_level`] AVX-512, else 16-byte SSE2 ones); a plain
/// copy elsewhere. The values are the same either way.
///
/// # Panics
/// If the lengths differ (an internal invariant).
pub fn stream_copy<T: Copy>(dst: &mut [T], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "stream_copy: lengths");
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    {
        let bytes = std::mem::size_of_val(src);
        // SAFETY: `dst` and `src` are valid for `bytes` bytes and do not overlap (one is borrowed
        // mutably); `T: Copy` has no drop glue, so a byte copy is a valid copy; the AVX-512 build
        // only runs where `simd_level` detected AVX-512F.
        unsafe {
            let (d, s) = (dst.as_mut_ptr().cast::<u8>(), src.as_ptr().cast::<u8>());
            if crate::simd_level() == crate::SimdLevel::Avx512 {
                stream_bytes_avx512(d, s, bytes);
            } else {
                stream_bytes_sse2(d, s, bytes);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// Orders every non-temporal store of this thread before the stores that follow it (an
/// `sfence`; nothing on other architectures).
pub fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `sfence` is part of the x86-64 baseline and has no operands.
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
}

/// The unaligned head of `d` by plain copy, then `L`-byte non-temporal stores, then the tail.
/// `store(d, s)` stores `L` bytes at the `L`-aligned `d` from the unaligned `s`.
///
/// # Safety
/// `d` and `s` valid for `bytes` bytes, not overlapping; `store` must be safe to call on this CPU.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn stream_bytes<const L: usize>(d: *mut u8, s: *const u8, bytes: usize, store: impl Fn(*mut u8, *const u8)) {
    let head = d.align_offset(L).min(bytes);
    // SAFETY (all blocks): every offset stays below `bytes`, for which both are valid.
    unsafe {
        std::ptr::copy_nonoverlapping(s, d, head);
        let mut at = head;
        while at + L <= bytes {
            store(d.add(at), s.add(at));
            at += L;
        }
        std::ptr::copy_nonoverlapping(s.add(at), d.add(at), bytes - at);
    }
}

/// # Safety
/// As [`stream_bytes`], on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[target_feature(enable = "avx512f")]
unsafe fn stream_bytes_avx512(d: *mut u8, s: *const u8, bytes: usize) {
    use std::arch::x86_64::{_mm512_loadu_si512, _mm512_stream_si512};
    // SAFETY: `stream_bytes` passes 64-byte aligned `d` valid for 64 bytes, `s` valid for 64.
    let store = |d: *mut u8, s: *const u8| unsafe { _mm512_stream_si512(d.cast(), _mm512_loadu_si512(s.cast())) };
    // SAFETY: as this function's contract.
    unsafe { stream_bytes::<64>(d, s, bytes, store) }
}

/// # Safety
/// As [`stream_bytes`] (SSE2 is part of the x86-64 baseline).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
unsafe fn stream_bytes_sse2(d: *mut u8, s: *const u8, bytes: usize) {
    use std::arch::x86_64::{_mm_loadu_si128, _mm_stream_si128};
    // SAFETY: `stream_bytes` passes 16-byte aligned `d` valid for 16 bytes, `s` valid for 16.
    let store = |d: *mut u8, s: *const u8| unsafe { _mm_stream_si128(d.cast(), _mm_loadu_si128(s.cast())) };
    // SAFETY: as this function's contract.
    unsafe { stream_bytes::<16>(d, s, bytes, store) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_and_offset_exactly() {
        let src: Vec<f32> = (0..300).map(|k| k as f32 * 0.5 - 7.25).collect();
        for offset in 0..17 {
            for len in [0, 1, 3, 4, 15, 16, 17, 31, 64, 100, 283] {
                let mut dst = vec![-1.0f32; offset + len + 5];
                stream_copy(&mut dst[offset..offset + len], &src[3..3 + len]);
                stream_fence();
                assert_eq!(&dst[offset..offset + len], &src[3..3 + len], "offset {offset}, len {len}");
                assert!(dst[..offset].iter().chain(&dst[offset + len..]).all(|&v| v == -1.0), "outside");
            }
        }
        // The SSE2 build, which the AVX-512 one hides on this kind of machine.
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        for offset in 0..9 {
            let mut dst = [0u8; 200];
            let bytes: Vec<u8> = (0..190u8).collect();
            // SAFETY: both buffers hold `190 - offset` bytes from where they are passed.
            unsafe { stream_bytes_sse2(dst[offset..].as_mut_ptr(), bytes[offset..].as_ptr(), 190 - offset) };
            stream_fence();
            assert_eq!(&dst[offset..190], &bytes[offset..], "sse2, offset {offset}");
            assert!(dst[..offset].iter().chain(&dst[190..]).all(|&v| v == 0));
        }
        let wide: Vec<f64> = (0..99).map(f64::from).collect();
        let mut out = vec![0.0f64; 99];
        stream_copy(&mut out[..], &wide);
        assert_eq!(out, wide);
    }
}
