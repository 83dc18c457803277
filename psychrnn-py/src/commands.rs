//! The module-level functions of `psychrnn_rs._native`: manifests into run directories (the
//! CLI's `train`, byte for byte), any CLI command in process, bundled tasks' batches, and the
//! simulator on weights held in NumPy.

use std::path::{Path, PathBuf};

use numpy::PyReadonlyArrayDyn;
use psychrnn_core::npz::{NpyArray, NpzContents};
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_rate::Simulator;
use psychrnn_rate::dynamics::{Lesion, Perturbation, Pulse};
use psychrnn_sweep::local::Worker;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert;
use crate::errors::{IntoPyResult, PsychrnnError, portable};
use crate::interrupt;

/// Trains a manifest into a run directory exactly as `psychrnn train` does: the manifest file
/// `path`, or manifest `text` resolved as if it were the file `origin` (its stem names an unnamed
/// run, relative paths start at its directory). Returns the run directory.
#[pyfunction]
#[pyo3(signature = (path = None, text = None, origin = None, out = None, overrides = Vec::new(), force = false, quiet = false))]
#[expect(clippy::too_many_arguments, reason = "the keyword arguments of one Python function")]
pub fn train_manifest(
    py: Python<'_>,
    path: Option<PathBuf>,
    text: Option<String>,
    origin: Option<PathBuf>,
    out: Option<PathBuf>,
    overrides: Vec<String>,
    force: bool,
    quiet: bool,
) -> PyResult<PathBuf> {
    let _ = interrupt::flag();
    let result = interrupt::run(py, move || match (path, text) {
        (Some(path), None) => {
            psychrnn_cli::run::train(&path, out, &overrides, force, quiet).map_err(|e| portable(e.as_ref()))
        }
        (None, Some(text)) => {
            let origin = origin.unwrap_or_else(|| PathBuf::from("run.toml"));
            psychrnn_cli::run::train_text(&text, &origin, out, &overrides, force, quiet)
                .map_err(|e| portable(e.as_ref()))
        }
        _ => Err(crate::errors::PortableError::message("give a manifest path or manifest text")),
    });
    result?.map_err(PyErr::from)
}

/// Runs a `psychrnn` command line in this process (without the program name), raising
/// `PsychrnnError` with the CLI's message if it fails; `--help` and `--version` return their
/// text instead.
#[pyfunction]
pub fn command(py: Python<'_>, argv: Vec<String>) -> PyResult<Option<String>> {
    use clap::Parser as _;
    let cli = match psychrnn_cli::Cli::try_parse_from(std::iter::once("psychrnn".to_string()).chain(argv)) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            return Ok(Some(e.render().to_string()));
        }
        Err(e) => return Err(PsychrnnError::new_err(e.render().to_string())),
    };
    let _ = interrupt::flag();
    let result = interrupt::run(py, move || psychrnn_cli::dispatch(cli).map_err(|e| portable(e.as_ref())))?;
    result.map(|()| None).map_err(PyErr::from)
}

/// The `psychrnn` command line itself (`python -m psychrnn_rs ...`; `argv` with the program
/// name): Ctrl-C is handled as by the binary. Returns the exit code.
#[pyfunction]
pub fn main(py: Python<'_>, argv: Vec<String>) -> i32 {
    i32::from(py.detach(|| psychrnn_cli::main_code(argv)))
}

/// Holds a Python object (a task, a metric) for manifests to name by the returned handle.
#[pyfunction]
#[pyo3(signature = (object, verbose = false))]
pub fn hold(object: Py<PyAny>, verbose: bool) -> u64 {
    crate::objects::hold(object, verbose)
}

/// Releases a held object.
#[pyfunction]
pub fn release(handle: u64) {
    crate::objects::release(handle);
}

/// Makes `program args... sweep task` the command sweeps start their runs with (this
/// interpreter running `-m psychrnn_rs`, as the package sets it up).
#[pyfunction]
pub fn set_worker(program: PathBuf, args: Vec<String>) -> bool {
    let args = args.into_iter().map(Into::into).chain(["sweep".into(), "task".into()]).collect();
    Worker::set_default(Worker { program, args })
}

/// A bundled task from its manifest table (with `type` and the timing keys).
fn bundled_task(table: &Bound<'_, PyDict>) -> PyResult<Box<dyn psychrnn_core::Task>> {
    let table = convert::table(table, "task")?;
    let registry = crate::registry().py_err()?;
    let (task, _warnings) = psychrnn_train::experiment::task_from_table(&table, &registry, ".".as_ref()).py_err()?;
    Ok(task)
}

/// `n_trials` trials of the bundled task of `table` (its random draws from `seed`), as PsychRNN's
/// `(x, y, mask)` `[batch, time, channel]` and the trial conditions as JSON text.
#[pyfunction]
pub fn task_batch<'py>(
    py: Python<'py>,
    table: &Bound<'py, PyDict>,
    n_trials: usize,
    seed: u64,
) -> PyResult<convert::NumpyBatch<'py>> {
    let task = bundled_task(table)?;
    if n_trials == 0 {
        return Err(PyValueError::new_err("n_trials must be at least 1"));
    }
    let batch = py.detach(|| task.generate_batch(n_trials, &mut stream(seed, Purpose::User, 0)));
    convert::batch_to_numpy(py, &batch)
}

/// `(N_in, N_out, N_steps)` of the bundled task of `table`.
#[pyfunction]
pub fn task_info(table: &Bound<'_, PyDict>) -> PyResult<(usize, usize, usize)> {
    let task = bundled_task(table)?;
    Ok((task.n_in(), task.n_out(), task.timing().n_steps()))
}

/// A manifest dict as TOML text.
#[pyfunction]
pub fn toml_text(manifest: &Bound<'_, PyDict>) -> PyResult<String> {
    convert::manifest_text(manifest)
}

/// The weight arrays of a dict (`W_in`, `W_rec`, `W_out`, `b_rec`, `b_out`, `init_state`; float32)
/// and the transfer function's name, as the simulator reads a weight file.
fn weight_arrays(weights: &Bound<'_, PyDict>, transfer_function: &str) -> PyResult<NpzContents> {
    let mut arrays = vec![NpyArray::string("transfer_function_name", transfer_function)];
    for key in ["W_in", "W_rec", "W_out", "b_rec", "b_out", "init_state"] {
        let Some(value) = weights.get_item(key)? else { continue };
        let a: PyReadonlyArrayDyn<'_, f32> = value
            .extract()
            .map_err(|e| PsychrnnError::new_err(format!("weights `{key}`: expected float32 values: {e}")))?;
        let a = a.as_array();
        arrays.push(NpyArray::f32(key, a.shape(), a.iter().copied().collect()));
    }
    Ok(NpzContents { arrays, skipped: Vec::new() })
}

/// PsychRNN's `BasicSimulator.run_trials` on effective weights held in NumPy (`W_in`, `W_rec`,
/// `W_out`, `b_rec`, `b_out`, `init_state`, float32): inputs `x [batch, time, N_in]`, `alpha`
/// (`dt / tau`), recurrent noise `rec_noise` (drawn from `seed`; 0 for none), the transfer
/// function by name, PsychRNN's `t_connectivity [time, N_rec, N_rec]` (multiplies `W_rec` at each
/// step), `lesions` as `(units, from_step)` and `pulses` as `(units, start_step, end_step,
/// amplitude)`. Returns `(outputs, states)` `[batch, time, ·]`.
#[pyfunction]
#[pyo3(signature = (weights, x, alpha, rec_noise = 0.0, transfer_function = "relu".to_string(), t_connectivity = None, lesions = Vec::new(), pulses = Vec::new(), seed = 0))]
#[expect(clippy::too_many_arguments, reason = "the keyword arguments of one Python function")]
pub fn simulate<'py>(
    py: Python<'py>,
    weights: &Bound<'py, PyDict>,
    x: convert::Array<'py>,
    alpha: f64,
    rec_noise: f64,
    transfer_function: String,
    t_connectivity: Option<convert::Array<'py>>,
    lesions: Vec<(Vec<usize>, usize)>,
    pulses: Vec<(Vec<usize>, usize, usize, f64)>,
    seed: u64,
) -> PyResult<convert::NumpyTrajectory<'py>> {
    let contents = weight_arrays(weights, &transfer_function)?;
    let (simulator, _) =
        Simulator::from_contents(&contents, Path::new("weights"), Some(alpha), Some(rec_noise)).py_err()?;
    let n = simulator.n_rec();
    let inputs = convert::time_major(&x);
    let perturbation = Perturbation {
        rec_multiplier: t_connectivity.map(|m| m.as_array().to_owned()),
        lesions: lesions.into_iter().map(|(units, from_step)| Lesion { units, from_step }).collect(),
        pulses: pulses
            .into_iter()
            .map(|(units, start_step, end_step, amplitude)| Pulse { units, start_step, end_step, amplitude })
            .collect(),
    };
    perturbation.validate(inputs.shape()[0], n).py_err()?;
    let trajectory = py.detach(|| {
        let mut noise = (rec_noise > 0.0).then(|| Noise::from(stream(seed, Purpose::User, 1)));
        simulator.run(inputs.view(), noise.as_mut(), Some(&perturbation))
    });
    let trajectory = trajectory.py_err()?;
    Ok((convert::to_numpy(py, trajectory.outputs.view()), convert::to_numpy(py, trajectory.states.view())))
}
