//! Named parameter tensors and their declarations.
//!
//! A model declares its raw trainable tensors as [`ParamSpec`]s (name, shape, role, whether it
//! is trained, and the connectivity mask an initialiser needs for fan-in/fan-out); the values
//! live in a [`ParamSet`], an ordered list of named 2-D arrays (biases are `1 x N`). Gradients,
//! effective weights and optimizer slots use the same type.

use ndarray::Array2;

use crate::error::{Error, Result};
use crate::real::Real;

/// What a parameter is, so that initialisers can treat it the way PsychRNN does.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParamRole {
    /// Input weights `W_in` (`N_rec x N_in`).
    InputWeights,
    /// Recurrent weights `W_rec` (`N_rec x N_rec`).
    RecurrentWeights,
    /// Output weights `W_out` (`N_out x N_rec`).
    OutputWeights,
    /// A bias vector (`1 x N`).
    Bias,
    /// The initial state (`1 x N_rec`).
    InitialState,
    /// Anything else (e.g. LSTM gates): initialised by its [`DefaultInit`].
    Other,
}

/// The model's own initial value for a parameter that an initialiser has no rule for.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum DefaultInit {
    /// Every entry equal to this value.
    Constant(f64),
    /// Entries drawn from N(mean, std²).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
}

/// Declaration of one raw parameter tensor of a model.
#[derive(Clone, Debug)]
pub struct ParamSpec {
    /// Name (PsychRNN's variable name: `W_in`, `W_rec`, `W_out`, `b_rec`, `b_out`, `init_state`).
    pub name: String,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Role, for initialisers.
    pub role: ParamRole,
    /// Whether the optimizer updates it (PsychRNN's `*_train` flags).
    pub trainable: bool,
    /// 0/1 connectivity mask of the same shape (for connectivity-aware fans and balancing).
    pub connectivity: Option<Array2<f32>>,
    /// Initial value used when the initialiser has no rule for the role.
    pub default_init: DefaultInit,
}

impl ParamSpec {
    /// A trainable `rows x cols` parameter without a connectivity mask, initialised to 0 unless
    /// its role says otherwise; refine with [`ParamSpec::trainable`], [`ParamSpec::with_mask`]
    /// and [`ParamSpec::with_init`].
    pub fn new(name: impl Into<String>, rows: usize, cols: usize, role: ParamRole) -> Self {
        ParamSpec {
            name: name.into(),
            rows,
            cols,
            role,
            trainable: true,
            connectivity: None,
            default_init: DefaultInit::Constant(0.0),
        }
    }

    /// Sets whether the optimizer updates it.
    #[must_use]
    pub fn trainable(mut self, trainable: bool) -> Self {
        self.trainable = trainable;
        self
    }

    /// Sets its 0/1 connectivity mask.
    #[must_use]
    pub fn with_mask(mut self, mask: Array2<f32>) -> Self {
        self.connectivity = Some(mask);
        self
    }

    /// Sets the model's own initial value for it.
    #[must_use]
    pub fn with_init(mut self, init: DefaultInit) -> Self {
        self.default_init = init;
        self
    }

    /// The shape as `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
}

/// An ordered set of named 2-D tensors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamSet<F> {
    entries: Vec<(String, Array2<F>)>,
}

impl<F: Real> ParamSet<F> {
    /// An empty set.
    pub fn new() -> Self {
        ParamSet { entries: Vec::new() }
    }

    /// Zero tensors with the names and shapes of `specs`.
    pub fn zeros(specs: &[ParamSpec]) -> Self {
        ParamSet { entries: specs.iter().map(|s| (s.name.clone(), Array2::zeros((s.rows, s.cols)))).collect() }
    }

    /// Zero tensors with the names and shapes of `self`.
    pub fn zeros_like(&self) -> Self {
        ParamSet { entries: self.entries.iter().map(|(n, a)| (n.clone(), Array2::zeros(a.raw_dim()))).collect() }
    }

    /// Sets `name` to `value`, replacing an existing entry in place or appending a new one.
    pub fn insert(&mut self, name: impl Into<String>, value: Array2<F>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&Array2<F>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The tensor called `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Array2<F>> {
        self.entries.iter_mut().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The tensor called `name`, or an error naming it.
    ///
    /// # Errors
    /// [`Error::Invalid`] if there is no such tensor.
    pub fn require(&self, name: &str) -> Result<&Array2<F>> {
        self.get(name).ok_or_else(|| Error::invalid(name, "parameter missing from the parameter set"))
    }

    /// The tensor called `name` mutably, or an error naming it.
    ///
    /// # Errors
    /// [`Error::Invalid`] if there is no such tensor.
    pub fn require_mut(&mut self, name: &str) -> Result<&mut Array2<F>> {
        self.get_mut(name).ok_or_else(|| Error::invalid(name, "parameter missing from the parameter set"))
    }

    /// Iterates over `(name, tensor)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Array2<F>)> {
        self.entries.iter().map(|(n, a)| (n.as_str(), a))
    }

    /// Iterates over `(name, tensor)` in order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Array2<F>)> {
        self.entries.iter_mut().map(|(n, a)| (n.as_str(), a))
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets every entry to zero, keeping the allocations.
    pub fn fill_zero(&mut self) {
        for (_, a) in &mut self.entries {
            a.fill(F::zero());
        }
    }

    /// Converts every tensor to another float type.
    pub fn cast<G: Real>(&self) -> ParamSet<G> {
        ParamSet { entries: self.entries.iter().map(|(n, a)| (n.clone(), a.mapv(|v| G::of(v.f64())))).collect() }
    }

    /// Whether every entry is finite; returns the name of the first tensor that is not.
    pub fn first_non_finite(&self) -> Option<&str> {
        self.entries.iter().find(|(_, a)| a.iter().any(|v| !v.is_finite())).map(|(n, _)| n.as_str())
    }

    /// Checks that the names and shapes match `specs` exactly.
    ///
    /// # Errors
    /// [`Error::Shape`] or [`Error::Invalid`] naming the first tensor that differs.
    pub fn check_against(&self, specs: &[ParamSpec]) -> Result<()> {
        for spec in specs {
            let a = self.require(&spec.name)?;
            if a.shape() != spec.shape() {
                return Err(Error::shape(&spec.name, format!("{:?}", spec.shape()), format!("{:?}", a.shape())));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn insert_replaces_by_name_and_keeps_order() {
        let mut p = ParamSet::<f32>::new();
        p.insert("a", array![[1.0]]);
        p.insert("b", array![[2.0, 3.0]]);
        p.insert("a", array![[4.0]]);
        let names: Vec<_> = p.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(p.get("a"), Some(&array![[4.0]]));
        assert!(p.require("c").is_err());
        assert_eq!(p.first_non_finite(), None);
        p.get_mut("b").unwrap()[[0, 1]] = f32::NAN;
        assert_eq!(p.first_non_finite(), Some("b"));
    }
}
