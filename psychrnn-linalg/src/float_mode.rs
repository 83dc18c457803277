//! The floating-point mode of a thread (x86-64 MXCSR: flush-to-zero, denormals-are-zero). It is
//! per thread, so work handed to another core takes the caller's mode with it
//! ([`FloatMode::current`] / [`FloatMode::apply`]) and computes the same bits there.

/// Sets flush-to-zero and denormals-are-zero for the calling thread's SSE/AVX arithmetic, so
/// results and operands below `f32::MIN_POSITIVE` (about 1e-38) count as 0 instead of taking
/// a microcode assist of ~100 cycles each. Saturating gates (LSTM sigmoids) and ReLU networks
/// produce such values constantly; flushing them changes nothing measurable in the results
/// and keeps every run just as reproducible (the same inputs give the same bits). Returns
/// whether the mode could be set (only on x86-64).
pub fn flush_denormals_to_zero() -> bool {
    let mode = FloatMode::current();
    FloatMode(mode.0 | FTZ | DAZ).apply();
    cfg!(target_arch = "x86_64")
}

const FTZ: u32 = 1 << 15;
const DAZ: u32 = 1 << 6;

/// A thread's floating-point control word (0 where there is none to read).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FloatMode(u32);

impl FloatMode {
    /// The calling thread's mode.
    #[allow(unsafe_code)]
    pub(crate) fn current() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: reads the current thread's MXCSR register; no memory is accessed. SSE2 is
            // part of the x86-64 baseline, so the instruction always exists.
            #[allow(deprecated)]
            FloatMode(unsafe { std::arch::x86_64::_mm_getcsr() })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            FloatMode(0)
        }
    }

    /// Makes this the calling thread's mode.
    #[allow(unsafe_code)]
    pub(crate) fn apply(self) {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: writes the current thread's MXCSR with a value read from MXCSR (possibly
            // with the FTZ/DAZ bits added), changing only how floats round and treat denormals.
            #[allow(deprecated)]
            unsafe {
                std::arch::x86_64::_mm_setcsr(self.0)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushing_turns_denormal_results_into_zero() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let handle = std::thread::spawn(move || {
            let before = std::hint::black_box(tiny) / 4.0;
            let set = flush_denormals_to_zero();
            let after = std::hint::black_box(tiny) / 4.0;
            (before, set, after)
        });
        let (before, set, after) = handle.join().unwrap();
        assert!(before > 0.0, "without the flag the result is a denormal");
        if set {
            assert_eq!(after, 0.0);
        }
    }

    #[test]
    fn a_mode_carried_to_another_thread_gives_the_same_results_there() {
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let mode = std::thread::spawn(|| {
            flush_denormals_to_zero();
            FloatMode::current()
        })
        .join()
        .unwrap();
        let (plain, carried) = std::thread::spawn(move || {
            let plain = std::hint::black_box(tiny) / 4.0;
            mode.apply();
            (plain, std::hint::black_box(tiny) / 4.0)
        })
        .join()
        .unwrap();
        assert!(plain > 0.0);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(carried, 0.0);
        }
    }
}
