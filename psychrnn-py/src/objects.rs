//! Python objects that a manifest names by handle (`[task] type = "python", handle = 3`): the
//! registry's constructors are plain functions, so the Python side holds its objects here
//! ([`hold`]) while it builds and trains an experiment, and releases them after.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::prelude::*;

/// What the training loop tells Python metrics (PsychRNN's `performance_measure` receives the
/// epoch and the losses so far).
#[derive(Debug, Default)]
pub struct TrainingContext {
    /// The last update's number.
    pub epoch: AtomicU64,
    /// The logged losses so far (PsychRNN's `losses`).
    pub losses: Mutex<Vec<f64>>,
    /// PsychRNN's `verbosity`, passed on to the metric.
    pub verbose: bool,
    /// The run's `loss_epoch`: the trainer's loss log also asks the metric for a score (the
    /// metric column of the log), first at each such update; a Python metric is not called for
    /// it, as PsychRNN calls `performance_measure` only for its checks.
    pub loss_epoch: AtomicU64,
    /// The last update whose log was answered without calling the metric.
    pub log_answered: AtomicU64,
}

impl TrainingContext {
    /// Whether the score asked for now is the loss log's (see [`TrainingContext::loss_epoch`]).
    pub fn is_log_call(&self) -> bool {
        let (epoch, every) = (self.epoch.load(Ordering::Relaxed), self.loss_epoch.load(Ordering::Relaxed));
        every > 0 && epoch % every == 0 && self.log_answered.swap(epoch, Ordering::Relaxed) != epoch
    }
}

/// One stored object.
struct Stored {
    object: Py<PyAny>,
    context: Arc<TrainingContext>,
}

static OBJECTS: Mutex<Option<HashMap<u64, Stored>>> = Mutex::new(None);
static NEXT: AtomicU64 = AtomicU64::new(1);

/// The object stored under `handle` and its training context.
pub fn get(py: Python<'_>, handle: u64) -> Option<(Py<PyAny>, Arc<TrainingContext>)> {
    let objects = OBJECTS.lock().unwrap_or_else(PoisonError::into_inner);
    objects.as_ref()?.get(&handle).map(|s| (s.object.clone_ref(py), Arc::clone(&s.context)))
}

/// Stores `object` and returns its handle; [`release`] takes it out.
pub fn hold(object: Py<PyAny>, verbose: bool) -> u64 {
    let handle = NEXT.fetch_add(1, Ordering::Relaxed);
    let context = Arc::new(TrainingContext { verbose, ..TrainingContext::default() });
    let mut objects = OBJECTS.lock().unwrap_or_else(PoisonError::into_inner);
    objects.get_or_insert_with(HashMap::new).insert(handle, Stored { object, context });
    handle
}

/// Takes the object of `handle` out (nothing if there is none).
pub fn release(handle: u64) {
    let removed = {
        let mut objects = OBJECTS.lock().unwrap_or_else(PoisonError::into_inner);
        objects.as_mut().and_then(|map| map.remove(&handle))
    };
    drop(removed);
}

/// The last Python exception a task or metric raised during training, kept to raise again.
static STASHED: Mutex<Option<PyErr>> = Mutex::new(None);

/// Keeps `error` (the first since the last [`take_error`]).
pub fn stash_error(_py: Python<'_>, error: PyErr) {
    let mut slot = STASHED.lock().unwrap_or_else(PoisonError::into_inner);
    slot.get_or_insert(error);
}

/// The kept exception, if any.
pub fn take_error() -> Option<PyErr> {
    STASHED.lock().unwrap_or_else(PoisonError::into_inner).take()
}
