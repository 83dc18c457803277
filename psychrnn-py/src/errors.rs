//! psychrnn's errors as Python exceptions: one class, `psychrnn_rs.PsychrnnError` (a
//! `ValueError`, as most are bad input), whose message is what the CLI prints after `error: `
//! (the field path, then each cause).

use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    psychrnn_rs,
    PsychrnnError,
    PyValueError,
    "An error of psychrnn: a bad manifest field, file, shape or value (named in the message), or a failed run."
);

/// An error as it can cross threads (CLI errors are not `Send`): the CLI's report, and whether it
/// is a run stopped by Ctrl-C.
#[derive(Debug)]
pub struct PortableError {
    interrupted: bool,
    report: String,
}

impl PortableError {
    /// An error that is only a message.
    pub fn message(text: &str) -> Self {
        PortableError { interrupted: false, report: text.to_string() }
    }
}

/// `error` with the CLI's report.
pub fn portable(error: &(dyn std::error::Error + 'static)) -> PortableError {
    let interrupted = matches!(error.downcast_ref(), Some(psychrnn_cli::CliError::Interrupted(_)));
    PortableError { interrupted, report: psychrnn_cli::error_report(error) }
}

impl From<PortableError> for PyErr {
    /// `KeyboardInterrupt` for a run stopped by Ctrl-C, else `PsychrnnError`, with the CLI's
    /// message (without its `error: `).
    fn from(e: PortableError) -> PyErr {
        let message = e.report.strip_prefix("error: ").unwrap_or(&e.report).to_string();
        if e.interrupted { PyKeyboardInterrupt::new_err(message) } else { PsychrnnError::new_err(message) }
    }
}

/// `error` as a Python exception with the CLI's text ([`portable`]).
pub fn to_py(error: &(dyn std::error::Error + 'static)) -> PyErr {
    portable(error).into()
}

/// Converts psychrnn's results into Python's.
pub trait IntoPyResult<T> {
    /// `Err` as a `PsychrnnError` ([`to_py`]).
    ///
    /// # Errors
    /// The converted error.
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for psychrnn_core::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| to_py(&e))
    }
}
