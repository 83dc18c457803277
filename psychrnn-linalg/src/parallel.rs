//! Two-way fork-join on a private worker thread: the one form of parallelism in psychrnn's hot
//! loop. Work is always split the same way (two fixed halves of a product or of a batch); the
//! thread count only decides whether the halves run one after the other or at the same time,
//! so the bits never depend on it.
//!
//! The second half runs on a worker that first takes the caller's floating-point mode
//! (flush-to-zero), so it computes exactly what the calling thread would. Inside a half, further
//! [`join`]s run sequentially: nesting would only queue work behind a busy worker.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::float_mode::FloatMode;

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Held by tests that change [`set_threads`], which is process-wide.
#[cfg(test)]
pub(crate) static TEST_THREADS: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Whether this thread is running one half of a [`join`].
    static IN_HALF: Cell<bool> = const { Cell::new(false) };
}

/// How many threads the hot loop may use (1: every [`join`] runs its halves in turn). The
/// results are the same for any value.
pub fn set_threads(threads: usize) {
    THREADS.store(threads.max(1), Ordering::Relaxed);
}

/// The current [`set_threads`] value.
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

/// The worker that runs second halves (one thread: every split is two-way, and the calling
/// thread computes the first half). `None` if the thread could not be started.
fn worker() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new().num_threads(1).thread_name(|_| "psychrnn-worker".into()).build().ok()
    })
    .as_ref()
}

/// Runs `first` on the calling thread and `second` on the worker when [`threads`] is above 1
/// (and not already inside a half), else both in turn on the calling thread.
pub fn join<RA: Send, RB: Send>(first: impl FnOnce() -> RA + Send, second: impl FnOnce() -> RB + Send) -> (RA, RB) {
    let nested = IN_HALF.with(Cell::get);
    match worker().filter(|_| threads() > 1 && !nested) {
        Some(pool) => {
            let mode = FloatMode::current();
            let mut second_result = None;
            let slot = &mut second_result;
            let first_result = pool.in_place_scope(|scope| {
                scope.spawn(move |_| {
                    mode.apply();
                    *slot = Some(as_half(second));
                });
                as_half(first)
            });
            // The scope returns only after the spawned half has run (or re-raises its panic).
            match second_result {
                Some(second_result) => (first_result, second_result),
                None => unreachable!("rayon's scope waits for its spawned work"),
            }
        }
        None => (first(), second()),
    }
}

/// Runs `work` marked as one half of a join.
fn as_half<R>(work: impl FnOnce() -> R) -> R {
    let before = IN_HALF.with(|h| h.replace(true));
    let result = work();
    IN_HALF.with(|h| h.set(before));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_runs_both_halves_on_two_threads_and_nested_joins_in_turn() {
        let _lock = TEST_THREADS.lock();
        set_threads(2);
        let main = std::thread::current().id();
        let ((a, inner), b) = join(
            || (std::thread::current().id(), join(|| std::thread::current().id(), || std::thread::current().id())),
            || std::thread::current().id(),
        );
        set_threads(1);
        assert_eq!(a, main);
        assert_ne!(b, main, "the second half runs on the worker");
        assert_eq!(inner, (main, main), "a join inside a half runs in turn");
        let (c, d) = join(|| std::thread::current().id(), || std::thread::current().id());
        assert_eq!((c, d), (main, main), "threads 1: both on the caller");
    }

    #[test]
    fn the_worker_computes_in_the_callers_floating_point_mode() {
        let _lock = TEST_THREADS.lock();
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let (first, second) = std::thread::spawn(move || {
            crate::flush_denormals_to_zero();
            set_threads(2);
            let r = join(move || std::hint::black_box(tiny) / 4.0, move || std::hint::black_box(tiny) / 4.0);
            set_threads(1);
            r
        })
        .join()
        .unwrap();
        assert_eq!(first.to_bits(), second.to_bits());
    }
}
