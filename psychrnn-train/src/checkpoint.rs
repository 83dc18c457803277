//! Checkpoints: a [`TrainingState`] in one `.npz` file, written atomically (temporary file and
//! rename), so a run killed at any moment leaves the previous checkpoint intact.
//!
//! Members: `param/<name>` (raw parameters), `optim/<slot>` (optimizer tensors) and `state`
//! (JSON text: update, trials, stage, optimizer scalars, logged rows, curriculum checks).

use std::path::Path;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::trainer::{MetricRecord, MetricsRow, TrainingState};
use psychrnn_core::error::{Error, Result};
use psychrnn_core::npz::{NpyArray, NpyData, read_npz, write_npz};
use psychrnn_core::optim::OptimizerState;
use psychrnn_core::params::ParamSet;

/// The JSON part of a checkpoint.
#[derive(Serialize, Deserialize)]
struct Meta {
    psychrnn_version: String,
    iteration: u64,
    trials: u64,
    stage: usize,
    optimizer_scalars: std::collections::BTreeMap<String, f64>,
    metrics: Vec<MetricsRow>,
    metric_history: Vec<MetricRecord>,
}

fn tensors(prefix: &str, set: &ParamSet<f32>) -> impl Iterator<Item = NpyArray> {
    set.iter()
        .map(move |(name, a)| NpyArray::from_ndarray(format!("{prefix}/{name}"), a))
        .collect::<Vec<_>>()
        .into_iter()
}

/// Writes `state` to `path` atomically.
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn write_checkpoint(path: &Path, state: &TrainingState) -> Result<()> {
    let meta = Meta {
        psychrnn_version: psychrnn_core::VERSION.to_string(),
        iteration: state.iteration,
        trials: state.trials,
        stage: state.stage,
        optimizer_scalars: state.optimizer.scalars.clone(),
        metrics: state.metrics.clone(),
        metric_history: state.metric_history.clone(),
    };
    let json = serde_json::to_string(&meta).map_err(|e| Error::invalid("checkpoint", e.to_string()))?;
    let mut arrays: Vec<NpyArray> =
        tensors("param", &state.params).chain(tensors("optim", &state.optimizer.slots)).collect();
    if let Some(carry) = &state.carry {
        arrays.push(NpyArray::from_ndarray("carry/start", carry));
    }
    arrays.push(NpyArray::string("state", json));
    write_npz(path, &arrays)
}

/// Reads a checkpoint written by [`write_checkpoint`].
///
/// # Errors
/// [`Error::Read`] if the file is missing; [`Error::Invalid`] naming the file if it is not a
/// checkpoint.
pub fn read_checkpoint(path: &Path) -> Result<TrainingState> {
    let contents = read_npz(path)?;
    let bad = |why: String| Error::invalid(path.display().to_string(), format!("not a psychrnn checkpoint: {why}"));
    let json = match contents.get("state").map(|a| &a.data) {
        Some(NpyData::Str(s)) => s,
        _ => return Err(bad("no `state` member".into())),
    };
    let meta: Meta = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let (mut params, mut slots, mut carry) = (ParamSet::new(), ParamSet::new(), ParamSet::new());
    for a in &contents.arrays {
        let (set, name) = match a.name.split_once('/') {
            Some(("param", n)) => (&mut params, n),
            Some(("optim", n)) => (&mut slots, n),
            Some(("carry", n)) => (&mut carry, n),
            _ => continue,
        };
        let (NpyData::F32(v), [r, c]) = (&a.data, a.shape.as_slice()) else {
            return Err(bad(format!("`{}` is not a float32 matrix", a.name)));
        };
        set.insert(name, Array2::from_shape_vec((*r, *c), v.clone()).map_err(|e| bad(e.to_string()))?);
    }
    Ok(TrainingState {
        iteration: meta.iteration,
        trials: meta.trials,
        stage: meta.stage,
        params,
        optimizer: OptimizerState { scalars: meta.optimizer_scalars, slots },
        metrics: meta.metrics,
        metric_history: meta.metric_history,
        carry: carry.get("start").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_exactly() {
        let mut params = ParamSet::new();
        params.insert("W_rec", ndarray::array![[0.1f32, -0.2], [f32::MIN_POSITIVE, 3.0]]);
        params.insert("b_out", ndarray::array![[1.0f32]]);
        let mut slots = ParamSet::new();
        slots.insert("W_rec/m", ndarray::array![[1e-8f32, 2.0], [0.0, -1.0]]);
        let state = TrainingState {
            iteration: 7,
            trials: 448,
            stage: 1,
            params,
            optimizer: OptimizerState { scalars: [("step".to_string(), 7.0)].into(), slots },
            metrics: vec![MetricsRow {
                iteration: 5,
                trials: 320,
                loss: 0.1 + 0.2,
                regularization: 0.0,
                accuracy: 0.5,
                metric: 0.5,
                stage: 0,
                wall_seconds: 1.25,
            }],
            metric_history: vec![MetricRecord { iteration: 6, trials: 384, stage: 0, value: 0.93 }],
            carry: Some(Array2::from_shape_vec((2, 1), vec![0.5, -1.5]).unwrap()),
        };
        let dir = std::env::temp_dir().join(format!("psychrnn-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.npz");
        write_checkpoint(&path, &state).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), state);
        assert!(!dir.join("checkpoint.npz.tmp").exists(), "the temporary file is renamed away");
        write_npz(&dir.join("other.npz"), &[NpyArray::f32("x", &[1], vec![1.0])]).unwrap();
        assert!(read_checkpoint(&dir.join("other.npz")).unwrap_err().to_string().contains("not a psychrnn checkpoint"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
