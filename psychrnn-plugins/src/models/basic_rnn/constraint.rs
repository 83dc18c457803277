//! The effective-weight transform of one weight matrix, `W_eff = p(W o M + F) . D` (or
//! `W o M + F` without Dale), and its backward, `dL/dW = M o p'(W o M + F) o (dL/dW_eff . D)`.
//! `p` makes weights positive: `|.|` (PsychRNN) or `max(., 0)` (PyCog's `rectify`); `F` is
//! PyCog's fixed, non-plastic part (zero by default).

use ndarray::{Array2, Zip};
use psychrnn_core::Real;
use serde::{Deserialize, Serialize};

/// How Dale's principle makes weights positive before applying the signs.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PositiveFunction {
    /// `|w|` (PsychRNN).
    #[default]
    Abs,
    /// `max(w, 0)` (PyCog's default `ei_positive_func`).
    Rectify,
}

impl PositiveFunction {
    fn apply<F: Real>(self, v: F) -> F {
        match self {
            PositiveFunction::Abs => v.abs(),
            PositiveFunction::Rectify => v.max(F::zero()),
        }
    }

    /// The derivative, with `p'(0) = 0` (TensorFlow's and Theano's convention).
    fn derivative<F: Real>(self, v: F) -> F {
        match self {
            PositiveFunction::Abs if v < F::zero() => -F::one(),
            _ if v > F::zero() => F::one(),
            _ => F::zero(),
        }
    }
}

/// Connectivity mask, fixed part and sign constraint of one matrix.
#[derive(Clone, Debug)]
pub struct Constraint<F> {
    /// 0/1 connectivity mask `M`, the matrix's shape.
    pub mask: Array2<F>,
    /// The fixed part `F` added to the masked plastic weights, if any.
    pub fixed: Option<Array2<F>>,
    /// The positive function `p` (Dale's principle on), or none.
    pub positive: Option<PositiveFunction>,
    /// Diagonal of `D`, one factor per column (presynaptic unit), when Dale's principle is on.
    pub column_signs: Option<Vec<F>>,
}

impl<F: Real> Constraint<F> {
    /// `W o M + F`.
    fn pre(&self, w: &Array2<F>) -> Array2<F> {
        let mut out = w * &self.mask;
        if let Some(fixed) = &self.fixed {
            out += fixed;
        }
        out
    }

    /// `W_eff` from the raw `W`.
    pub fn apply(&self, w: &Array2<F>) -> Array2<F> {
        let mut out = self.pre(w);
        if let Some(p) = self.positive {
            out.mapv_inplace(|v| p.apply(v));
        }
        if let Some(d) = &self.column_signs {
            for mut row in out.rows_mut() {
                Zip::from(&mut row).and(d).for_each(|v, &s| *v *= s);
            }
        }
        out
    }

    /// `dL/dW` from the raw `W` and `dL/dW_eff`.
    pub fn backprop(&self, w: &Array2<F>, d_eff: &Array2<F>) -> Array2<F> {
        let mut out = d_eff * &self.mask;
        if let Some(d) = &self.column_signs {
            for mut row in out.rows_mut() {
                Zip::from(&mut row).and(d).for_each(|v, &s| *v *= s);
            }
        }
        if let Some(p) = self.positive {
            Zip::from(&mut out).and(&self.pre(w)).for_each(|g, &x| *g *= p.derivative(x));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn dale_transform_sets_column_signs_and_is_idempotent() {
        let c = Constraint {
            mask: array![[1.0, 1.0], [0.0, 1.0]],
            fixed: None,
            positive: Some(PositiveFunction::Abs),
            column_signs: Some(vec![1.0, -1.0]),
        };
        let w = array![[-0.5, 0.25], [3.0, -2.0]];
        let eff = c.apply(&w);
        assert_eq!(eff, array![[0.5, -0.25], [0.0, -2.0]]);
        // Reloading saved effective weights reproduces the network (PsychRNN relies on this).
        assert_eq!(c.apply(&eff), eff);
        let g = c.backprop(&w, &array![[1.0, 1.0], [1.0, 1.0]]);
        assert_eq!(g, array![[-1.0, -1.0], [0.0, 1.0]]);
    }

    #[test]
    fn pycog_rectified_transform_adds_the_fixed_part_before_rectifying() {
        let c = Constraint {
            mask: array![[1.0, 0.0], [1.0, 1.0]],
            fixed: Some(array![[0.0, 0.5], [0.25, 0.0]]),
            positive: Some(PositiveFunction::Rectify),
            column_signs: Some(vec![1.0, -1.0]),
        };
        let w = array![[-0.5, 9.0], [-0.125, 2.0]];
        // Row 0: max(-0.5, 0) = 0, masked 9 -> fixed 0.5 (times -1); row 1: max(0.125, 0), -2.
        assert_eq!(c.apply(&w), array![[0.0, -0.5], [0.125, -2.0]]);
        // Only plastic entries whose pre-activation is positive get a gradient.
        assert_eq!(c.backprop(&w, &array![[1.0, 1.0], [1.0, 1.0]]), array![[0.0, 0.0], [1.0, -1.0]]);
    }
}
