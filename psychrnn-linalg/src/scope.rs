//! [`ComputeScope`]: the hot loop's process settings (flush-to-zero on the calling thread, the
//! thread count of [`join`](crate::join)), set while a computation runs and restored afterwards,
//! so a library caller's own floating-point mode and thread count are left as they were.

use std::marker::PhantomData;

use crate::float_mode::FloatMode;
use crate::parallel::{set_threads, threads};

/// While alive: denormals flush to zero on this thread ([`crate::flush_denormals_to_zero`]) and
/// the kernels use `threads` threads. Dropping it restores the previous floating-point mode and
/// thread count. It stays on the thread that made it (the mode is per thread).
#[must_use = "the settings are restored when the scope is dropped"]
pub struct ComputeScope {
    mode: FloatMode,
    threads: usize,
    _this_thread: PhantomData<*const ()>,
}

impl ComputeScope {
    /// Enters the hot loop's settings with `threads` threads (see [`set_threads`]).
    pub fn enter(threads_wanted: usize) -> Self {
        let scope = ComputeScope { mode: FloatMode::current(), threads: threads(), _this_thread: PhantomData };
        crate::flush_denormals_to_zero();
        set_threads(threads_wanted);
        scope
    }
}

impl Drop for ComputeScope {
    fn drop(&mut self) {
        self.mode.apply();
        set_threads(self.threads);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_sets_the_mode_and_threads_and_restores_them() {
        let _lock = crate::parallel::TEST_THREADS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(f32::MIN_POSITIVE);
            set_threads(1);
            let (mode, before) = (FloatMode::current(), std::hint::black_box(tiny) / 4.0);
            {
                let _scope = ComputeScope::enter(2);
                assert_eq!(threads(), 2);
                if cfg!(target_arch = "x86_64") {
                    assert_eq!(std::hint::black_box(tiny) / 4.0, 0.0, "denormals flush inside the scope");
                }
            }
            assert_eq!(threads(), 1);
            assert_eq!(FloatMode::current(), mode);
            assert!(before > 0.0 && std::hint::black_box(tiny) / 4.0 > 0.0, "denormals are back after it");
        })
        .join()
        .unwrap();
    }
}
