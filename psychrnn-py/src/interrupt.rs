//! Long work (training, a CLI command) on a worker thread while the interpreter's thread waits
//! without the GIL, so Python code the work calls back into (a task's batches) can run, and
//! Ctrl-C is seen: it sets the interrupt flag, which psychrnn checks after every update (a run
//! stops with a checkpoint, a sweep starts nothing new), and `KeyboardInterrupt` is raised once
//! the work has stopped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use pyo3::prelude::*;

use crate::errors::PsychrnnError;

/// The flag Ctrl-C sets, shared with the CLI's commands ([`psychrnn_cli::use_host_interrupt`]).
static FLAG: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| {
    let flag = Arc::new(AtomicBool::new(false));
    psychrnn_cli::use_host_interrupt(Arc::clone(&flag));
    flag
});

/// The interrupt flag, cleared.
pub fn flag() -> Arc<AtomicBool> {
    FLAG.store(false, Ordering::SeqCst);
    Arc::clone(&FLAG)
}

/// Runs `work` on a worker thread and waits for it, raising `KeyboardInterrupt` after it has
/// stopped if Ctrl-C came meanwhile, and `PsychrnnError` if it panicked (a bug: the
/// interpreter lives on).
///
/// # Errors
/// As described.
pub fn run<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> PyResult<T> {
    let flag = Arc::clone(&FLAG);
    std::thread::scope(|scope| {
        let handle = scope.spawn(work);
        let mut interrupted: Option<PyErr> = None;
        while !handle.is_finished() {
            py.detach(|| {
                for _ in 0..10 {
                    if handle.is_finished() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            if let Err(e) = py.check_signals() {
                flag.store(true, Ordering::SeqCst);
                interrupted.get_or_insert(e);
            }
        }
        let result = handle.join();
        if let Some(e) = interrupted {
            return Err(e);
        }
        result.map_err(|panic| {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            PsychrnnError::new_err(format!("internal error (please report it): {text}"))
        })
    })
}
