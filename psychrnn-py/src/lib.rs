//! # psychrnn-py
//!
//! The native half of the Python package `psychrnn_rs` (the import name differs from PsychRNN's
//! `psychrnn`, so both can be installed): a thin layer over the library API that the Python
//! modules under `python/psychrnn_rs/` wrap with PsychRNN's names.
//!
//! - [`errors`]: psychrnn's errors as the Python exception `PsychrnnError`, with the CLI's text.
//! - [`convert`]: Python values to manifest (TOML) and trial-condition (JSON) values, NumPy
//!   arrays to and from batches.
//! - [`objects`]: Python objects (tasks, metrics) that manifests name by handle.
//! - [`python_task`], [`python_metric`]: the task and metric plugins over such objects, so a
//!   task written in Python trains through the same trainer as a bundled one.
//! - [`interrupt`]: long work on a worker thread without the GIL; Ctrl-C stops it cleanly.
//! - [`model`]: `NativeModel`, the network behind PsychRNN's `Basic` and `LSTM`.
//! - [`commands`]: manifests into run directories, the CLI's commands, bundled tasks' batches,
//!   the simulator.

pub mod commands;
pub mod convert;
pub mod errors;
pub mod interrupt;
pub mod model;
pub mod objects;
pub mod python_metric;
pub mod python_task;

use pyo3::prelude::*;

/// The registry the binding resolves manifests in: the bundled plugins and the Python-object
/// task and metric (`type = "python"`).
///
/// # Errors
/// If a tag is registered twice (a bug).
pub fn registry() -> psychrnn_core::Result<psychrnn_core::Registry> {
    let mut registry = psychrnn_plugins::registry()?;
    registry.add::<python_task::PythonTaskPlugin>("psychrnn-py")?;
    registry.add::<python_metric::PythonMetricPlugin>("psychrnn-py")?;
    Ok(registry)
}

/// The module `psychrnn_rs._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VERSION", psychrnn_core::VERSION)?;
    m.add("PsychrnnError", m.py().get_type::<errors::PsychrnnError>())?;
    m.add_class::<model::NativeModel>()?;
    m.add_function(wrap_pyfunction!(commands::train_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(commands::command, m)?)?;
    m.add_function(wrap_pyfunction!(commands::main, m)?)?;
    m.add_function(wrap_pyfunction!(commands::set_worker, m)?)?;
    m.add_function(wrap_pyfunction!(commands::hold, m)?)?;
    m.add_function(wrap_pyfunction!(commands::release, m)?)?;
    m.add_function(wrap_pyfunction!(commands::task_batch, m)?)?;
    m.add_function(wrap_pyfunction!(commands::task_info, m)?)?;
    m.add_function(wrap_pyfunction!(commands::simulate, m)?)?;
    m.add_function(wrap_pyfunction!(commands::toml_text, m)?)?;
    Ok(())
}
