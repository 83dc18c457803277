//! Transfer (activation) functions `f` of rate networks and their derivatives.

use serde::{Deserialize, Serialize};

use crate::real::Real;

/// The elementwise transfer function `r = f(x)`. PsychRNN's default is ReLU.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferFunction {
    /// `max(x, 0)`.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `x`.
    Linear,
}

impl TransferFunction {
    /// Every variant, for tests and listings.
    pub const ALL: [TransferFunction; 5] = [
        TransferFunction::Relu,
        TransferFunction::Tanh,
        TransferFunction::Sigmoid,
        TransferFunction::Softplus,
        TransferFunction::Linear,
    ];

    /// The name used in manifests.
    pub fn name(self) -> &'static str {
        match self {
            TransferFunction::Relu => "relu",
            TransferFunction::Tanh => "tanh",
            TransferFunction::Sigmoid => "sigmoid",
            TransferFunction::Softplus => "softplus",
            TransferFunction::Linear => "linear",
        }
    }

    /// `f(x)`.
    #[inline]
    pub fn apply<F: Real>(self, x: F) -> F {
        match self {
            TransferFunction::Relu => x.max(F::zero()),
            TransferFunction::Tanh => x.tanh(),
            TransferFunction::Sigmoid => F::one() / (F::one() + (-x).exp()),
            // Stable for large |x|: ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|).
            TransferFunction::Softplus => x.max(F::zero()) + (-x.abs()).exp().ln_1p(),
            TransferFunction::Linear => x,
        }
    }

    /// `f'(x)`, given `x` and `r = f(x)` (whichever is cheaper). ReLU's derivative at 0 is 0,
    /// as in TensorFlow.
    #[inline]
    pub fn derivative<F: Real>(self, x: F, r: F) -> F {
        match self {
            TransferFunction::Relu => {
                if x > F::zero() {
                    F::one()
                } else {
                    F::zero()
                }
            }
            TransferFunction::Tanh => F::one() - r * r,
            TransferFunction::Sigmoid => r * (F::one() - r),
            TransferFunction::Softplus => F::one() / (F::one() + (-x).exp()),
            TransferFunction::Linear => F::one(),
        }
    }
}

/// `out[i] = g(a[i], b[i])` over two slices: one tight loop per transfer function, so the
/// compiler vectorises it (a `match` inside the loop would prevent that).
#[inline(always)]
fn zip_map<F: Real>(a: &[F], b: &[F], out: &mut [F], g: impl Fn(F, F) -> F) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = g(x, y);
    }
}

impl TransferFunction {
    /// `r[i] = f(x[i])` for a whole slice.
    #[inline(always)]
    pub fn apply_slice<F: Real>(self, x: &[F], r: &mut [F]) {
        match self {
            TransferFunction::Relu => zip_map(x, x, r, |v, _| v.max(F::zero())),
            TransferFunction::Linear => r.copy_from_slice(x),
            other => zip_map(x, x, r, |v, _| other.apply(v)),
        }
    }

    /// `d[i] = f'(x[i])` (given the rates `r = f(x)`) for a whole slice.
    #[inline(always)]
    pub fn derivative_slice<F: Real>(self, x: &[F], r: &[F], d: &mut [F]) {
        match self {
            TransferFunction::Relu => zip_map(x, r, d, |v, _| if v > F::zero() { F::one() } else { F::zero() }),
            TransferFunction::Tanh => zip_map(x, r, d, |_, r| F::one() - r * r),
            TransferFunction::Sigmoid => zip_map(x, r, d, |_, r| r * (F::one() - r)),
            TransferFunction::Linear => d.fill(F::one()),
            TransferFunction::Softplus => zip_map(x, r, d, |v, r| TransferFunction::Softplus.derivative(v, r)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        for f in TransferFunction::ALL {
            for &x in &[-2.3f64, -0.4, 0.3, 1.7, 25.0, -25.0] {
                let h = 1e-6;
                let fd = (f.apply(x + h) - f.apply(x - h)) / (2.0 * h);
                let an = f.derivative(x, f.apply(x));
                assert!((fd - an).abs() < 1e-6, "{f:?} at {x}: {fd} vs {an}");
            }
        }
        assert_eq!(TransferFunction::Softplus.apply(1000.0f64), 1000.0);
        let x = [-1.5f64, 0.0, 0.7, 3.0];
        for f in TransferFunction::ALL {
            let (mut r, mut d) = ([0.0; 4], [0.0; 4]);
            f.apply_slice(&x, &mut r);
            f.derivative_slice(&x, &r, &mut d);
            for i in 0..4 {
                assert_eq!(r[i], f.apply(x[i]), "{f:?}");
                assert_eq!(d[i], f.derivative(x[i], r[i]), "{f:?}");
            }
        }
        assert_eq!(TransferFunction::Relu.derivative(0.0f64, 0.0), 0.0);
    }
}
