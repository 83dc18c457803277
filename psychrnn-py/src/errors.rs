//! psychrnn's errors as Python exceptions: one class, `psychrnn_rs.PsychrnnError` (a
//! `ValueError`, as most are bad input), whose message is what the CLI prints after `error: `
//! (the field path, then each cause).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::create_exception!(
    psychrnn_rs,
    PsychrnnError,
    PyValueError,
    "An error of psychrnn: a bad manifest field, file, shape or value (named in the message), or a failed run."
);

/// `error` as a `PsychrnnError` with the CLI's text.
pub fn to_py(error: &(dyn std::error::Error + 'static)) -> PyErr {
    let report = psychrnn_cli::error_report(error);
    PsychrnnError::new_err(report.strip_prefix("error: ").unwrap_or(&report).to_string())
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

impl<T> IntoPyResult<T> for psychrnn_cli::CliResult<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(|e| to_py(e.as_ref()))
    }
}
