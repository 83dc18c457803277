//! Conversions at the Python boundary: Python values to manifest values (TOML) and to trial
//! conditions (JSON); NumPy arrays (PsychRNN's `[batch, time, channel]`) to and from batches
//! (psychrnn's time-major `[time, batch, channel]`).

use ndarray::{Array3, ArrayView3};
use numpy::{IntoPyArray, PyArray3, PyReadonlyArray3};
use psychrnn_core::TrialBatch;
use psychrnn_core::array::{to_batch_major, to_time_major};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// `value` (under the manifest key `field`, for messages) as a TOML value: bools, ints, floats,
/// strings, dicts (whose `None` entries are left out, as unset keys), lists and tuples, NumPy
/// arrays and scalars.
///
/// # Errors
/// `TypeError` naming `field` for anything else (a `None` in a list, an object).
pub fn to_toml(value: &Bound<'_, PyAny>, field: &str) -> PyResult<toml::Value> {
    if value.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(toml::Value::Integer(value.extract()?));
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(value.extract()?));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(toml::Value::String(value.extract()?));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        return Ok(toml::Value::Table(table(dict, field)?));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, item) in value.try_iter()?.enumerate() {
            items.push(to_toml(&item?, &format!("{field}[{i}]"))?);
        }
        return Ok(toml::Value::Array(items));
    }
    // NumPy arrays and scalars (and anything else with `tolist`, such as array-likes).
    if value.hasattr("tolist")? && !value.is_none() {
        let plain = value.call_method0("tolist")?;
        if !plain.is(value) {
            return to_toml(&plain, field);
        }
    }
    Err(PyTypeError::new_err(format!(
        "{field}: a {} cannot be written into a manifest (use numbers, strings, bools, lists, dicts or NumPy arrays)",
        value.get_type().name()?
    )))
}

/// A Python dict (string keys) as a TOML table; `None` values are left out.
///
/// # Errors
/// As [`to_toml`]; `TypeError` for a key that is not a string.
pub fn table(dict: &Bound<'_, PyDict>, field: &str) -> PyResult<toml::Table> {
    let mut out = toml::Table::new();
    for (key, value) in dict.iter() {
        let key: String = key.extract().map_err(|_| PyTypeError::new_err(format!("{field}: keys must be strings")))?;
        if value.is_none() {
            continue;
        }
        let path = if field.is_empty() { key.clone() } else { format!("{field}.{key}") };
        out.insert(key, to_toml(&value, &path)?);
    }
    Ok(out)
}

/// A manifest dict as TOML text.
///
/// # Errors
/// As [`table`]; `PsychrnnError` if TOML cannot write it.
pub fn manifest_text(manifest: &Bound<'_, PyDict>) -> PyResult<String> {
    toml::to_string(&table(manifest, "")?).map_err(|e| crate::errors::PsychrnnError::new_err(format!("manifest: {e}")))
}

/// `value` as JSON, for trial conditions: what has no JSON form (an object) becomes its `str`.
pub fn to_json(value: &Bound<'_, PyAny>) -> serde_json::Value {
    use serde_json::Value;
    if value.is_none() {
        return Value::Null;
    }
    if value.is_instance_of::<PyBool>() {
        return value.extract().map_or(Value::Null, Value::Bool);
    }
    if value.is_instance_of::<PyInt>()
        && let Ok(i) = value.extract::<i64>()
    {
        return Value::from(i);
    }
    if value.is_instance_of::<PyFloat>() {
        return value.extract::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number);
    }
    if value.is_instance_of::<PyString>() {
        return value.extract().map_or(Value::Null, Value::String);
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        return Value::Object(dict.iter().map(|(k, v)| (k.to_string(), to_json(&v))).collect());
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        return Value::Array(
            value.try_iter().map(|it| it.flatten().map(|v| to_json(&v)).collect()).unwrap_or_default(),
        );
    }
    if let Ok(plain) = value.call_method0("tolist")
        && !plain.is(value)
    {
        return to_json(&plain);
    }
    Value::String(value.to_string())
}

/// The trial conditions of a batch from a Python list of dicts (one per trial; `None` or a
/// shorter list leaves the rest empty).
pub fn trial_params(params: &Bound<'_, PyAny>, n_trials: usize) -> Vec<psychrnn_core::TrialParams> {
    let mut out: Vec<psychrnn_core::TrialParams> = Vec::with_capacity(n_trials);
    if let Ok(items) = params.try_iter() {
        for item in items.flatten().take(n_trials) {
            match to_json(&item) {
                serde_json::Value::Object(map) => out.push(map),
                _ => out.push(psychrnn_core::TrialParams::new()),
            }
        }
    }
    out.resize(n_trials, psychrnn_core::TrialParams::new());
    out
}

/// A batch from PsychRNN's arrays `x [B, T, N_in]`, `y` and `mask [B, T, N_out]` (float32), checked
/// to agree in their batch and time sizes.
///
/// # Errors
/// `ValueError` naming the arrays whose shapes do not agree.
pub fn batch_from_arrays(
    x: ArrayView3<'_, f32>,
    y: ArrayView3<'_, f32>,
    mask: ArrayView3<'_, f32>,
    trial_params: Vec<psychrnn_core::TrialParams>,
) -> PyResult<TrialBatch> {
    let (b, t) = (x.shape()[0], x.shape()[1]);
    if y.shape()[..2] != [b, t] || mask.shape() != y.shape() || b == 0 || t == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "a batch needs x [B, T, N_in], y [B, T, N_out] and mask [B, T, N_out] with B, T >= 1; got x {:?}, y {:?}, mask {:?}",
            x.shape(),
            y.shape(),
            mask.shape()
        )));
    }
    Ok(TrialBatch {
        inputs: to_time_major(x),
        targets: to_time_major(y),
        mask: to_time_major(mask),
        trial_params,
        lengths: vec![t; b],
    })
}

/// A float32 array `[B, T, C]` from NumPy (any float dtype is converted by the caller).
pub type Array<'py> = PyReadonlyArray3<'py, f32>;

/// A float32 NumPy array `[B, T, C]`.
pub type Numpy<'py> = Bound<'py, PyArray3<f32>>;

/// A batch for Python: `(x, y, mask)` and the trial conditions as JSON text.
pub type NumpyBatch<'py> = (Numpy<'py>, Numpy<'py>, Numpy<'py>, String);

/// A simulation for Python: `(outputs, states)`.
pub type NumpyTrajectory<'py> = (Numpy<'py>, Numpy<'py>);

/// A time-major array as PsychRNN's batch-major NumPy array.
pub fn to_numpy<'py>(py: Python<'py>, time_major: ArrayView3<'_, f32>) -> Bound<'py, PyArray3<f32>> {
    to_batch_major(time_major).into_pyarray(py)
}

/// A batch as `(x, y, mask)` NumPy arrays `[B, T, ·]` and its trial conditions as JSON text.
pub fn batch_to_numpy<'py>(py: Python<'py>, batch: &TrialBatch) -> PyResult<NumpyBatch<'py>> {
    let params = serde_json::to_string(&batch.trial_params)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("trial conditions: {e}")))?;
    Ok((to_numpy(py, batch.inputs.view()), to_numpy(py, batch.targets.view()), to_numpy(py, batch.mask.view()), params))
}

/// An owned time-major copy of a batch-major NumPy array.
pub fn time_major(x: &Array<'_>) -> Array3<f32> {
    to_time_major(x.as_array())
}
