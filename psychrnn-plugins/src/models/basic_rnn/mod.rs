//! `basic_rnn`: PsychRNN's continuous-time rate RNN (`Basic`), with Dale's principle,
//! connectivity masks, autapse removal, per-matrix trainable flags, and hand-written BPTT.
//!
//! With `alpha = dt / tau`, row-vector states and `W_eff` the constrained weights:
//! ```text
//! x_t = (1 - alpha) x_{t-1} + alpha (f(x_{t-1}) W_rec_eff^T + u_t W_in_eff^T + b_rec) + sqrt(2 alpha rec_noise^2) xi_t
//! z_t = f(x_t) W_out_eff^T + b_out          (t = 1..T; x_0 = init_state, trainable)
//! ```
//! Backward, with `d_t = dL/dx_t` and `g_t = dL/dz_t`:
//! ```text
//! d_t = (g_t W_out_eff + dL/dr_t + alpha d_{t+1} W_rec_eff) o f'(x_t) + (1 - alpha) d_{t+1}
//! dW_rec_eff = alpha sum_t d_t^T f(x_{t-1}),  dW_in_eff = alpha sum_t d_t^T u_t,  db_rec = alpha sum_t d_t
//! ```
//! The weight gradients are single large products over all `T x B` rows; the only per-step
//! products are the `B x N` by `N x N` recurrences. Effective weights are computed once per
//! pass (PsychRNN recomputes them every step).

mod config;
mod constraint;

use ndarray::{Array2, ArrayView3};
use psychrnn_core::npz::NpyArray;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{
    BackwardSeeds, DefaultInit, Error, Model, ModelContext, Noise, ParamRole, ParamSet, ParamSpec, Result, Trajectory,
    TransferFunction,
};
use psychrnn_rate::KernelReal;
use psychrnn_rate::dynamics::{BackwardOptions, RateDynamics, RateWeights, rate_backward, rate_forward};

pub use config::BasicRnnConfig;
pub use constraint::{Constraint, PositiveFunction};

/// The registry tag.
pub const TAG: &str = "basic_rnn";

/// The network (see the module docs).
pub struct BasicRnn<F> {
    config: BasicRnnConfig,
    n_in: usize,
    /// `dt / tau`, one value or one per unit (exported unrounded).
    alpha: Vec<f64>,
    f: TransferFunction,
    w_in: Constraint<F>,
    w_rec: Constraint<F>,
    w_out: Constraint<F>,
    specs: Vec<ParamSpec>,
}

impl Plugin for BasicRnn<f32> {
    type Kind = dyn Model<f32>;
    type Config = BasicRnnConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PsychRNN's continuous-time rate RNN with Dale's principle, masks and noise (hand-written BPTT)";

    /// Makes the paths of masks and fixed matrices given as files absolute.
    fn resolve(config: &mut BasicRnnConfig, build: &BuildContext) -> Result<()> {
        for spec in [
            &mut config.input_connectivity,
            &mut config.rec_connectivity,
            &mut config.output_connectivity,
            &mut config.W_in_fixed,
            &mut config.W_rec_fixed,
            &mut config.W_out_fixed,
        ]
        .into_iter()
        .flatten()
        {
            spec.make_paths_absolute(build);
        }
        Ok(())
    }

    fn build(config: BasicRnnConfig, ctx: &ModelContext, build: &BuildContext) -> Result<Box<dyn Model<f32>>> {
        if let Some(r) = config.dale_ratio.filter(|&r| r > 0.0) {
            let n_exc = (r * config.N_rec as f64) as usize;
            if n_exc == 0 {
                build.warn(format!(
                    "model.dale_ratio = {r} gives no excitatory units among N_rec = {} (every unit inhibits): is that meant?",
                    config.N_rec
                ));
            }
        }
        let model = BasicRnn::<f32>::new(config, ctx)?;
        for (field, c) in [
            ("input_connectivity", &model.w_in),
            ("rec_connectivity", &model.w_rec),
            ("output_connectivity", &model.w_out),
        ] {
            if !c.mask.is_empty() && c.mask.iter().all(|&v| v == 0.0) {
                build.warn(format!("model.{field} allows no connection at all (the mask is all zero): is that meant?"));
            }
        }
        Ok(Box::new(model))
    }
}

fn ones(rows: usize, cols: usize) -> Array2<f32> {
    Array2::ones((rows, cols))
}

impl<F: KernelReal> BasicRnn<F> {
    /// Validates `config` for a task with `ctx`'s sizes and builds the network.
    ///
    /// # Errors
    /// [`Error::Invalid`] for `N_rec = 0`, a negative `rec_noise`, a `dale_ratio` outside [0, 1];
    /// [`Error::Shape`] for a connectivity mask of the wrong shape.
    pub fn new(config: BasicRnnConfig, ctx: &ModelContext) -> Result<Self> {
        let (n_rec, n_in, n_out) = (config.N_rec, ctx.n_in, ctx.n_out);
        if n_rec == 0 {
            return Err(Error::invalid("N_rec", "must be at least 1, got 0"));
        }
        if !(config.rec_noise.is_finite() && config.rec_noise >= 0.0) {
            return Err(Error::invalid("rec_noise", format!("must be >= 0, got {}", config.rec_noise)));
        }
        if let Some(r) = config.dale_ratio {
            Error::check_unit_interval("dale_ratio", r)?;
        }
        // Dale's principle is on when dale_ratio is given and non-zero (PsychRNN's truthiness).
        let dale = config.dale_ratio.filter(|&r| r > 0.0);
        let (m_in, mut m_rec, m_out) = Self::masks(&config, dale, n_in, n_out)?;
        if !config.autapses {
            m_rec.diag_mut().fill(0.0);
        }
        let n_exc = dale.map(|r| (r * n_rec as f64) as usize);
        let rec_signs = n_exc.map(|e| (0..n_rec).map(|j| if j < e { F::one() } else { -F::one() }).collect::<Vec<F>>());
        let out_signs = n_exc.map(|e| {
            (0..n_rec)
                .map(|j| {
                    if j < e {
                        F::one()
                    } else if config.psychrnn_1_0_compat || config.inhibitory_readout {
                        -F::one()
                    } else {
                        F::zero()
                    }
                })
                .collect::<Vec<F>>()
        });
        let cast = |m: &Array2<f32>| m.mapv(|v| F::of(f64::from(v)));
        let fixed = |spec: &Option<psychrnn_core::MatrixSpec>, field: &str, rows, cols, what| match spec {
            Some(m) => m.resolve(field, rows, cols, what).map(|a| Some(cast(&a))),
            None => Ok(None),
        };
        let positive = dale.map(|_| config.positive_function);
        let w_in = Constraint {
            mask: cast(&m_in),
            fixed: fixed(&config.W_in_fixed, "W_in_fixed", n_rec, n_in, "N_rec x N_in")?,
            positive,
            column_signs: None,
        };
        let w_rec = Constraint {
            mask: cast(&m_rec),
            fixed: fixed(&config.W_rec_fixed, "W_rec_fixed", n_rec, n_rec, "N_rec x N_rec")?,
            positive,
            column_signs: rec_signs,
        };
        let w_out = Constraint {
            mask: cast(&m_out),
            fixed: fixed(&config.W_out_fixed, "W_out_fixed", n_out, n_rec, "N_out x N_rec")?,
            positive,
            column_signs: out_signs,
        };
        let alpha = match &config.tau {
            None => vec![ctx.alpha],
            Some(tau) if tau.len() != n_rec => {
                return Err(Error::shape("tau", format!("{n_rec} values (N_rec)"), tau.len().to_string()));
            }
            Some(tau) => {
                if let Some(t) = tau.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
                    return Err(Error::invalid("tau", format!("time constants must be positive ms, got {t}")));
                }
                tau.iter().map(|t| ctx.dt / t).collect()
            }
        };

        use ParamRole::{Bias, InitialState, InputWeights, OutputWeights, RecurrentWeights};
        let specs = vec![
            ParamSpec::new("W_in", n_rec, n_in, InputWeights).trainable(config.W_in_train).with_mask(m_in),
            ParamSpec::new("W_rec", n_rec, n_rec, RecurrentWeights).trainable(config.W_rec_train).with_mask(m_rec),
            ParamSpec::new("W_out", n_out, n_rec, OutputWeights).trainable(config.W_out_train).with_mask(m_out),
            ParamSpec::new("b_rec", 1, n_rec, Bias).trainable(config.b_rec_train),
            ParamSpec::new("b_out", 1, n_out, Bias).trainable(config.b_out_train),
            ParamSpec::new("init_state", 1, n_rec, InitialState)
                .trainable(config.init_state_train)
                .with_init(DefaultInit::Normal { mean: 0.1, std: 0.01 }),
        ];
        Ok(BasicRnn { n_in, alpha, f: config.transfer_function, w_in, w_rec, w_out, specs, config })
    }

    /// The input, recurrent and output masks: from `areas`, or given (all ones by default).
    fn masks(
        config: &BasicRnnConfig,
        dale: Option<f64>,
        n_in: usize,
        n_out: usize,
    ) -> Result<(Array2<f32>, Array2<f32>, Array2<f32>)> {
        let n_rec = config.N_rec;
        if let Some(areas) = &config.areas {
            let given = [
                ("input_connectivity", config.input_connectivity.is_some()),
                ("rec_connectivity", config.rec_connectivity.is_some()),
                ("output_connectivity", config.output_connectivity.is_some()),
            ];
            if let Some((field, _)) = given.iter().find(|(_, g)| *g) {
                return Err(Error::invalid(
                    field.to_string(),
                    "give either `areas` or the connectivity masks, not both",
                ));
            }
            let ratio = dale.ok_or_else(|| {
                Error::invalid("areas", "areas need Dale's principle (set dale_ratio): inhibition is what stays local")
            })?;
            let m = areas.build(n_rec, n_in, n_out, ratio).map_err(|e| e.in_section("areas"))?;
            return Ok((m.input, m.rec, m.output));
        }
        let mask = |spec: &Option<psychrnn_core::MatrixSpec>, field: &str, rows, cols, what| match spec {
            Some(m) => m.resolve_mask(field, rows, cols, what),
            None => Ok(ones(rows, cols)),
        };
        Ok((
            mask(&config.input_connectivity, "input_connectivity", n_rec, n_in, "N_rec x N_in")?,
            mask(&config.rec_connectivity, "rec_connectivity", n_rec, n_rec, "N_rec x N_rec")?,
            mask(&config.output_connectivity, "output_connectivity", n_out, n_rec, "N_out x N_rec")?,
        ))
    }

    /// The effective weights and biases as the shared rate kernels take them.
    fn rate_weights<'a>(&self, params: &'a ParamSet<F>, eff: &'a ParamSet<F>) -> Result<RateWeights<'a, F>> {
        Ok(RateWeights {
            w_in: eff.require("W_in")?,
            w_rec: eff.require("W_rec")?,
            w_out: eff.require("W_out")?,
            b_rec: params.require("b_rec")?.row(0),
            b_out: params.require("b_out")?.row(0),
            init_state: params.require("init_state")?.row(0),
        })
    }

    fn dynamics(&self) -> RateDynamics<F> {
        RateDynamics::per_unit(&self.alpha, self.config.rec_noise, self.f)
    }

    fn check_inputs(&self, inputs: &ArrayView3<'_, F>) -> Result<()> {
        if inputs.shape()[2] != self.n_in {
            return Err(Error::shape(
                "inputs",
                format!("[T, B, {}] (N_in = {})", self.n_in, self.n_in),
                format!("{:?}", inputs.shape()),
            ));
        }
        Ok(())
    }
}

impl<F: KernelReal> Model<F> for BasicRnn<F> {
    fn n_rec(&self) -> usize {
        self.config.N_rec
    }

    fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    fn dale_ratio(&self) -> Option<f64> {
        self.config.dale_ratio.filter(|&r| r > 0.0)
    }

    fn effective_weights(&self, params: &ParamSet<F>) -> Result<ParamSet<F>> {
        let mut eff = ParamSet::new();
        eff.insert("W_in", self.w_in.apply(params.require("W_in")?));
        eff.insert("W_rec", self.w_rec.apply(params.require("W_rec")?));
        eff.insert("W_out", self.w_out.apply(params.require("W_out")?));
        Ok(eff)
    }

    fn forward(
        &self,
        params: &ParamSet<F>,
        inputs: ArrayView3<'_, F>,
        noise: Option<&mut Noise>,
        traj: &mut Trajectory<F>,
    ) -> Result<()> {
        self.check_inputs(&inputs)?;
        params.check_against(&self.specs)?;
        let eff = self.effective_weights(params)?;
        rate_forward(&self.rate_weights(params, &eff)?, &self.dynamics(), inputs, noise, None, traj)
    }

    fn backward(
        &self,
        params: &ParamSet<F>,
        inputs: ArrayView3<'_, F>,
        traj: &Trajectory<F>,
        seeds: BackwardSeeds<'_, F>,
        grads: &mut ParamSet<F>,
    ) -> Result<()> {
        self.check_inputs(&inputs)?;
        let eff = self.effective_weights(params)?;
        let weights = self.rate_weights(params, &eff)?;
        let options = BackwardOptions { input_gradient: false, omega_bound: seeds.omega.as_ref().map(|o| o.bound) };
        let mut d = rate_backward(&weights, &self.dynamics(), inputs, traj, seeds.d_outputs, seeds.d_rates, options)?;
        if let (Some(request), Some(term)) = (seeds.omega, &d.omega) {
            d.w_rec.scaled_add(F::of(request.lambda), &term.d_w_rec);
            request.value = Some(term.value.f64());
        }
        // Through the effective-weight transform |W o M| D, adding the regularisers' gradients.
        let raw = |constraint: &Constraint<F>, name: &str, mut d_eff: Array2<F>| -> Result<Array2<F>> {
            if let Some(extra) = seeds.d_effective.and_then(|e| e.get(name)) {
                d_eff += extra;
            }
            Ok(constraint.backprop(params.require(name)?, &d_eff))
        };
        grads.insert("W_in", raw(&self.w_in, "W_in", d.w_in)?);
        grads.insert("W_rec", raw(&self.w_rec, "W_rec", d.w_rec)?);
        grads.insert("W_out", raw(&self.w_out, "W_out", d.w_out)?);
        grads.insert("b_rec", d.b_rec);
        grads.insert("b_out", d.b_out);
        grads.insert("init_state", d.init_state);
        Ok(())
    }

    fn export(&self, params: &ParamSet<F>) -> Result<Vec<NpyArray>> {
        let to32 = |a: &Array2<F>| a.mapv(|v| v.f64() as f32);
        let eff = self.effective_weights(params)?;
        let n = self.config.N_rec;
        let diag = |signs: &Option<Vec<F>>| {
            let mut d = Array2::<f32>::eye(n);
            if let Some(s) = signs {
                for (j, v) in s.iter().enumerate() {
                    d[[j, j]] = v.f64() as f32;
                }
            }
            d
        };
        let row = |name: &str| -> Result<NpyArray> {
            let a = params.require(name)?;
            Ok(NpyArray::f32(name, &[a.ncols()], a.iter().map(|v| v.f64() as f32).collect()))
        };
        Ok(vec![
            NpyArray::from_ndarray("W_in", &to32(eff.require("W_in")?)),
            NpyArray::from_ndarray("W_rec", &to32(eff.require("W_rec")?)),
            NpyArray::from_ndarray("W_out", &to32(eff.require("W_out")?)),
            row("b_rec")?,
            row("b_out")?,
            NpyArray::from_ndarray("init_state", &to32(params.require("init_state")?)),
            NpyArray::from_ndarray("Dale_rec", &diag(&self.w_rec.column_signs)),
            NpyArray::from_ndarray("Dale_out", &diag(&self.w_out.column_signs)),
            NpyArray::from_ndarray("input_connectivity", &to32(&self.w_in.mask)),
            NpyArray::from_ndarray("rec_connectivity", &to32(&self.w_rec.mask)),
            NpyArray::from_ndarray("output_connectivity", &to32(&self.w_out.mask)),
            NpyArray::f64("dale_ratio", &[], vec![self.dale_ratio().unwrap_or(0.0)]),
            NpyArray::string("transfer_function_name", self.f.name()),
            if self.alpha.len() == 1 {
                NpyArray::f64("alpha", &[], self.alpha.clone())
            } else {
                NpyArray::f64("alpha", &[self.alpha.len()], self.alpha.clone())
            },
            NpyArray::f64("rec_noise", &[], vec![self.config.rec_noise]),
            NpyArray::string("model", TAG),
        ])
    }
}

#[cfg(test)]
mod tests;
