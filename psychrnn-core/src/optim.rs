//! The `Optimizer` extension point, and gradient clipping.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::params::ParamSet;

/// Updates parameter tensors from their gradients. One training step is a call to
/// [`Optimizer::begin_step`] followed by one [`Optimizer::update`] per trainable tensor.
pub trait Optimizer: Send {
    /// Called once before the updates of a step (e.g. to advance Adam's step counter).
    fn begin_step(&mut self) {}

    /// Updates `param` (called `name`) from `grad`, in place.
    fn update(&mut self, name: &str, param: &mut Array2<f32>, grad: &Array2<f32>);

    /// Everything the optimizer carries from step to step (moments, step count), for
    /// checkpoints. Stateless optimizers keep the default (empty).
    fn state(&self) -> OptimizerState {
        OptimizerState::default()
    }

    /// Restores a state from [`Optimizer::state`], so training resumes exactly.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the state does not belong to this optimizer.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        if state.scalars.is_empty() && state.slots.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid("optimizer", "this optimizer keeps no state, but the checkpoint holds some"))
        }
    }
}

/// An optimizer's state: named scalars (e.g. the step count) and named tensors (e.g. `W_rec/m`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState {
    /// Scalars by name.
    pub scalars: std::collections::BTreeMap<String, f64>,
    /// Tensors by name.
    pub slots: ParamSet<f32>,
}

impl OptimizerState {
    /// The scalar called `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if it is missing.
    pub fn scalar(&self, name: &str) -> Result<f64> {
        self.scalars
            .get(name)
            .copied()
            .ok_or_else(|| Error::invalid("optimizer", format!("the checkpoint's optimizer state has no `{name}`")))
    }
}

/// How gradients are clipped before the optimizer step.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClipMode {
    /// Each tensor separately to L2 norm <= `clip_norm` (PsychRNN's `clip_by_norm`).
    #[default]
    PerTensor,
    /// All tensors together to global L2 norm <= `clip_norm` (PyCog).
    GlobalNorm,
}

fn norm(a: &Array2<f32>) -> f64 {
    a.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt()
}

/// The L2 norm of the tensors `names` of `grads` taken together (PyCog's `gnorm`).
pub fn global_norm(grads: &ParamSet<f32>, names: &[String]) -> f64 {
    grads.iter().filter(|(name, _)| names.iter().any(|n| n == name)).map(|(_, g)| norm(g).powi(2)).sum::<f64>().sqrt()
}

/// Clips the tensors of `grads` named in `names` to `max_norm` as `mode` says; returns whether
/// any was scaled down.
pub fn clip_gradients(grads: &mut ParamSet<f32>, names: &[String], mode: ClipMode, max_norm: f64) -> bool {
    let scale_by = |g: &mut Array2<f32>, s: f64| g.mapv_inplace(|v| (f64::from(v) * s) as f32);
    match mode {
        ClipMode::PerTensor => {
            let mut clipped = false;
            for (name, g) in grads.iter_mut() {
                if names.iter().any(|n| n == name) {
                    let n = norm(g);
                    if n > max_norm {
                        scale_by(g, max_norm / n);
                        clipped = true;
                    }
                }
            }
            clipped
        }
        ClipMode::GlobalNorm => {
            let total = global_norm(grads, names);
            if total > max_norm {
                for (name, g) in grads.iter_mut() {
                    if names.iter().any(|n| n == name) {
                        scale_by(g, max_norm / total);
                    }
                }
            }
            total > max_norm
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn per_tensor_and_global_clipping() {
        let mut g = ParamSet::new();
        g.insert("a", array![[3.0f32, 4.0]]);
        g.insert("b", array![[0.3f32, 0.4]]);
        let names = vec!["a".to_string(), "b".to_string()];
        let mut p = g.clone();
        assert!(clip_gradients(&mut p, &names, ClipMode::PerTensor, 1.0));
        assert!((norm(p.get("a").unwrap()) - 1.0).abs() < 1e-6);
        assert_eq!(p.get("b"), g.get("b"));
        let mut q = g.clone();
        assert!(clip_gradients(&mut q, &names, ClipMode::GlobalNorm, 1.0));
        assert!(!clip_gradients(&mut g.clone(), &names, ClipMode::GlobalNorm, 10.0), "nothing to clip");
        let total = (norm(q.get("a").unwrap()).powi(2) + norm(q.get("b").unwrap()).powi(2)).sqrt();
        assert!((total - 1.0).abs() < 1e-6);
        // Direction is kept: b is scaled by the same factor as a.
        assert!((q.get("a").unwrap()[[0, 0]] / q.get("b").unwrap()[[0, 0]] - 10.0).abs() < 1e-4);
    }
}
