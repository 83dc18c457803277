//! `pycog_ei`: PyCog's initialisation of excitatory-inhibitory networks (Song et al. 2016,
//! `pycog/trainer.py`).
//!
//! - `W_rec`: the connection strengths `C` are the recurrent mask with, in each row, the
//!   inhibitory entries scaled so they sum to the excitatory ones (mean E/I balance), then each
//!   row normalised to unit length. Weights are drawn `Gamma(k, 0.1 C_ij / k)` (mean `0.1
//!   C_ij`), then scaled so the effective matrix (masked, signed by Dale's principle) has
//!   spectral radius `rho0` (1.5). Without Dale's principle, `N(0, C_ij^2)` scaled to 1.1.
//! - `W_in`, `W_out`: uniform in `[-0.1, 0.1]` on the mask, absolute values under Dale's
//!   principle (inputs are excitatory).
//! - `init_state` (PyCog's `x0`): 0.1; biases 0.

use ndarray::Array2;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{Error, InitContext, ParamRole, ParamSet, Real, Result, Rng, WeightInitializer};
use rand::RngExt;
use rand_distr::Distribution;
use serde::{Deserialize, Serialize};

use super::draws::spectral_radius_factor;

/// The registry tag.
pub const TAG: &str = "pycog_ei";

fn gamma_k() -> f64 {
    2.0
}
fn scale() -> f64 {
    0.1
}
fn x0() -> f64 {
    0.1
}

/// `[initializer] type = "pycog_ei"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PyCogEiConfig {
    /// Spectral radius of the effective recurrent matrix (default 1.5 with Dale's principle,
    /// 1.1 without, as PyCog).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho0: Option<f64>,
    /// Shape `k` of the Gamma distribution of E/I recurrent weights.
    #[serde(default = "gamma_k")]
    pub gamma_k: f64,
    /// Mean recurrent weight per unit of `C`, and the half-width of the input/output draws.
    #[serde(default = "scale")]
    pub scale: f64,
    /// Initial state of every unit (PyCog's `x0`).
    #[serde(default = "x0")]
    pub x0: f64,
}

/// The initialiser.
pub struct PyCogEi {
    config: PyCogEiConfig,
}

impl Plugin for PyCogEi {
    type Kind = dyn WeightInitializer;
    type Config = PyCogEiConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PyCog's E/I initialisation: balanced Gamma(k = 2) recurrent weights at spectral radius 1.5";

    /// # Errors
    /// [`Error::Invalid`] for a non-positive `rho0`, `gamma_k` or `scale`.
    fn build(config: PyCogEiConfig, (): (), _: &BuildContext) -> Result<Box<dyn WeightInitializer>> {
        for (field, v) in [("rho0", config.rho0.unwrap_or(1.0)), ("gamma_k", config.gamma_k), ("scale", config.scale)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::invalid(field, format!("must be positive, got {v}")));
            }
        }
        Ok(Box::new(PyCogEi { config }))
    }
}

/// PyCog's connection strengths: `mask` with each row's inhibitory entries (columns from
/// `n_exc` on) scaled to the sum of its excitatory ones, then each row normalised to unit length.
pub fn balanced_strengths(mask: &Array2<f32>, n_exc: usize) -> Array2<f64> {
    let mut c = mask.mapv(f64::from);
    for mut row in c.rows_mut() {
        let exc: f64 = row.iter().take(n_exc).sum();
        let inh: f64 = row.iter().skip(n_exc).sum();
        if inh > 0.0 {
            row.iter_mut().skip(n_exc).for_each(|v| *v *= exc / inh);
        }
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|v| v / norm);
        }
    }
    c
}

impl PyCogEi {
    fn recurrent(&self, mask: &Array2<f32>, dale_ratio: Option<f64>, rng: &mut Rng) -> Result<Array2<f64>> {
        let n = mask.nrows();
        let k = self.config.gamma_k;
        let numerical = |message: String| Error::Numerical { context: "pycog_ei".into(), message };
        let (mut w, eff_signs, rho0) = match dale_ratio {
            Some(r) => {
                let n_exc = (r * n as f64) as usize;
                let c = balanced_strengths(mask, n_exc);
                let mut w = Array2::zeros((n, n));
                for (v, &cij) in w.iter_mut().zip(&c) {
                    if cij > 0.0 {
                        let gamma = rand_distr::Gamma::new(k, self.config.scale * cij / k)
                            .map_err(|e| numerical(e.to_string()))?;
                        *v = gamma.sample(rng);
                    }
                }
                let signs: Vec<f64> = (0..n).map(|j| if j < n_exc { 1.0 } else { -1.0 }).collect();
                (w, Some(signs), self.config.rho0.unwrap_or(1.5))
            }
            None => {
                let c = mask.mapv(f64::from);
                let w = c.mapv(|cij| cij * f64::standard_normal(rng));
                (w, None, self.config.rho0.unwrap_or(1.1))
            }
        };
        // Scale so the effective matrix (mask o W, signed by column) has spectral radius rho0.
        let mut eff = &w * &mask.mapv(f64::from);
        if let Some(s) = &eff_signs {
            for mut row in eff.rows_mut() {
                row.iter_mut().zip(s).for_each(|(v, s)| *v *= s);
            }
        }
        w *= spectral_radius_factor(&eff, rho0)?;
        Ok(w)
    }
}

impl WeightInitializer for PyCogEi {
    fn initialize(&self, ctx: &InitContext<'_>, rng: &mut Rng) -> Result<ParamSet<f32>> {
        let dale = ctx.dale_ratio.is_some();
        let half_width = self.config.scale;
        let mut params = ParamSet::new();
        for spec in ctx.specs {
            let ones = Array2::ones((spec.rows, spec.cols));
            let mask = spec.connectivity.as_ref().unwrap_or(&ones);
            let value = match spec.role {
                ParamRole::RecurrentWeights => {
                    self.recurrent(mask, ctx.dale_ratio, rng).map_err(|e| e.in_section(&spec.name))?
                }
                ParamRole::InputWeights | ParamRole::OutputWeights => mask.mapv(|m| {
                    let u = half_width * (2.0 * rng.random::<f64>() - 1.0) * f64::from(m);
                    if dale { u.abs() } else { u }
                }),
                ParamRole::InitialState => Array2::from_elem((spec.rows, spec.cols), self.config.x0),
                _ => Array2::zeros((spec.rows, spec.cols)),
            };
            params.insert(spec.name.clone(), value.mapv(|v| v as f32));
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};
    use psychrnn_core::{Model, ModelContext, parse_config};

    use crate::models::basic_rnn::BasicRnn;

    fn model(text: &str) -> BasicRnn<f64> {
        let ctx = ModelContext { n_in: 3, n_out: 2, alpha: 0.2, dt: 20.0, n_batch: 4 };
        BasicRnn::new(parse_config(&text.parse::<toml::Table>().unwrap()).unwrap(), &ctx).unwrap()
    }

    fn init(m: &BasicRnn<f64>) -> ParamSet<f32> {
        let init = psychrnn_core::registry::construct::<PyCogEi>(&toml::Table::new(), (), &BuildContext::default())
            .unwrap()
            .object;
        let ctx = InitContext { specs: m.param_specs(), dale_ratio: m.dale_ratio() };
        init.initialize(&ctx, &mut stream(4, Purpose::Init, 0)).unwrap()
    }

    fn radius(w: &Array2<f64>) -> f64 {
        psychrnn_linalg::spectral_radius(&w.iter().copied().collect::<Vec<_>>(), w.nrows()).unwrap()
    }

    #[test]
    fn strengths_balance_each_row_and_have_unit_length() {
        let mut mask = Array2::<f32>::ones((10, 10));
        mask.diag_mut().fill(0.0);
        mask[[0, 9]] = 0.0;
        let c = balanced_strengths(&mask, 8);
        for row in c.rows() {
            let exc: f64 = row.iter().take(8).sum();
            let inh: f64 = row.iter().skip(8).sum();
            assert!((exc - inh).abs() < 1e-12, "row not balanced: {exc} vs {inh}");
            assert!((row.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(c[[0, 9]], 0.0);
        assert_eq!(c[[3, 3]], 0.0);
    }

    #[test]
    fn ei_network_starts_at_spectral_radius_1_5_with_gamma_magnitudes() {
        let m = model("N_rec = 50\ndale_ratio = 0.8\nautapses = false\npositive_function = \"rectify\"");
        let p = init(&m);
        let raw = p.get("W_rec").unwrap().mapv(f64::from);
        assert!(raw.iter().all(|&v| v >= 0.0), "Gamma draws are non-negative");
        assert!(raw.diag().iter().all(|&v| v == 0.0));
        let mut p64 = ParamSet::new();
        for (n, a) in p.iter() {
            p64.insert(n, a.mapv(f64::from));
        }
        let eff = m.effective_weights(&p64).unwrap();
        assert!((radius(eff.get("W_rec").unwrap()) - 1.5).abs() < 1e-5, "stored in f32");
        // Balance: in expectation each row's inhibitory input equals its excitatory input.
        let (exc, inh): (f64, f64) = (raw.slice(ndarray::s![.., ..40]).sum(), raw.slice(ndarray::s![.., 40..]).sum());
        assert!((exc / inh - 1.0).abs() < 0.15, "E/I totals {exc} vs {inh}");
        // Coefficient of variation of Gamma(k = 2) is 1/sqrt(2).
        let e = raw.slice(ndarray::s![.., ..40]).iter().copied().filter(|&v| v > 0.0).collect::<Vec<_>>();
        let mean = e.iter().sum::<f64>() / e.len() as f64;
        let cv = (e.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / e.len() as f64).sqrt() / mean;
        assert!((cv - 0.5f64.sqrt()).abs() < 0.07, "coefficient of variation {cv}");
        assert!(p.get("W_in").unwrap().iter().all(|&v| (0.0..=0.1).contains(&v)));
        assert!(p.get("init_state").unwrap().iter().all(|&v| v == 0.1));
        assert!(p.get("b_rec").unwrap().iter().all(|&v| v == 0.0));
    }

    #[test]
    fn without_dale_the_radius_is_1_1() {
        let m = model("N_rec = 30");
        let p = init(&m);
        assert!((radius(&p.get("W_rec").unwrap().mapv(f64::from)) - 1.1).abs() < 1e-5);
        assert!(p.get("W_in").unwrap().iter().any(|&v| v < 0.0));
    }
}
