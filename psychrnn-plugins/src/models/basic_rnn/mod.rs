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

use ndarray::{Array2, ArrayView3, Axis};
use psychrnn_core::array::{contiguous, contiguous_mut};
use psychrnn_core::dynamics::{RateDynamics, RateWeights, rate_forward};
use psychrnn_core::npz::NpyArray;
use psychrnn_core::registry::BuildContext;
use psychrnn_core::{
    BackwardSeeds, DefaultInit, Error, Model, ModelContext, ParamRole, ParamSet, ParamSpec, Real, Result, Rng,
    Trajectory, TransferFunction, config_table,
};
use psychrnn_linalg::{Acc, Op};

pub use config::BasicRnnConfig;
pub use constraint::Constraint;

/// The registry tag.
pub const TAG: &str = "basic_rnn";

/// The network (see the module docs).
pub struct BasicRnn<F> {
    config: BasicRnnConfig,
    n_in: usize,
    n_out: usize,
    alpha: F,
    /// `alpha` as given (exported unrounded).
    alpha_f64: f64,
    noise_std: F,
    f: TransferFunction,
    w_in: Constraint<F>,
    w_rec: Constraint<F>,
    w_out: Constraint<F>,
    specs: Vec<ParamSpec>,
}

/// Builds the `f32` network for the registry.
///
/// # Errors
/// As [`BasicRnn::new`].
pub fn build(table: &toml::Table, ctx: &ModelContext, build: &BuildContext) -> Result<Box<dyn Model<f32>>> {
    let mut config: BasicRnnConfig = psychrnn_core::parse_config(table)?;
    for spec in [&mut config.input_connectivity, &mut config.rec_connectivity, &mut config.output_connectivity]
        .into_iter()
        .flatten()
    {
        spec.make_paths_absolute(build);
    }
    Ok(Box::new(BasicRnn::<f32>::new(config, ctx)?))
}

fn ones(rows: usize, cols: usize) -> Array2<f32> {
    Array2::ones((rows, cols))
}

impl<F: Real> BasicRnn<F> {
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
            if !(0.0..=1.0).contains(&r) {
                return Err(Error::invalid("dale_ratio", format!("must lie in [0, 1], got {r}")));
            }
        }
        let mask = |spec: &Option<psychrnn_core::MatrixSpec>, field: &str, rows, cols, what| match spec {
            Some(m) => m.resolve_mask(field, rows, cols, what),
            None => Ok(ones(rows, cols)),
        };
        let m_in = mask(&config.input_connectivity, "input_connectivity", n_rec, n_in, "N_rec x N_in")?;
        let mut m_rec = mask(&config.rec_connectivity, "rec_connectivity", n_rec, n_rec, "N_rec x N_rec")?;
        let m_out = mask(&config.output_connectivity, "output_connectivity", n_out, n_rec, "N_out x N_rec")?;
        if !config.autapses {
            m_rec.diag_mut().fill(0.0);
        }

        // Dale's principle is on when dale_ratio is given and non-zero (PsychRNN's truthiness).
        let dale = config.dale_ratio.filter(|&r| r > 0.0);
        let n_exc = dale.map(|r| (r * n_rec as f64) as usize);
        let rec_signs = n_exc.map(|e| (0..n_rec).map(|j| if j < e { F::one() } else { -F::one() }).collect::<Vec<F>>());
        let out_signs = n_exc.map(|e| {
            (0..n_rec)
                .map(|j| {
                    if j < e {
                        F::one()
                    } else if config.psychrnn_1_0_compat {
                        -F::one()
                    } else {
                        F::zero()
                    }
                })
                .collect::<Vec<F>>()
        });
        let cast = |m: &Array2<f32>| m.mapv(|v| F::of(f64::from(v)));
        let w_in = Constraint { mask: cast(&m_in), abs: dale.is_some(), column_signs: None };
        let w_rec = Constraint { mask: cast(&m_rec), abs: dale.is_some(), column_signs: rec_signs };
        let w_out = Constraint { mask: cast(&m_out), abs: dale.is_some(), column_signs: out_signs };

        let spec = |name: &str, rows, cols, role, trainable, connectivity: Option<Array2<f32>>, default_init| {
            ParamSpec { name: name.into(), rows, cols, role, trainable, connectivity, default_init }
        };
        let zero = DefaultInit::Constant(0.0);
        let specs = vec![
            spec("W_in", n_rec, n_in, ParamRole::InputWeights, config.W_in_train, Some(m_in), zero),
            spec("W_rec", n_rec, n_rec, ParamRole::RecurrentWeights, config.W_rec_train, Some(m_rec), zero),
            spec("W_out", n_out, n_rec, ParamRole::OutputWeights, config.W_out_train, Some(m_out), zero),
            spec("b_rec", 1, n_rec, ParamRole::Bias, config.b_rec_train, None, zero),
            spec("b_out", 1, n_out, ParamRole::Bias, config.b_out_train, None, zero),
            spec(
                "init_state",
                1,
                n_rec,
                ParamRole::InitialState,
                config.init_state_train,
                None,
                DefaultInit::Normal { mean: 0.1, std: 0.01 },
            ),
        ];
        let alpha = ctx.alpha;
        Ok(BasicRnn {
            n_in,
            n_out,
            alpha: F::of(alpha),
            alpha_f64: alpha,
            noise_std: F::of((2.0 * alpha * config.rec_noise * config.rec_noise).sqrt()),
            f: config.transfer_function,
            w_in,
            w_rec,
            w_out,
            specs,
            config,
        })
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

impl<F: Real> Model<F> for BasicRnn<F> {
    fn config(&self) -> toml::Table {
        config_table(TAG, &self.config)
    }

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
        noise: Option<&mut Rng>,
        traj: &mut Trajectory<F>,
    ) -> Result<()> {
        self.check_inputs(&inputs)?;
        params.check_against(&self.specs)?;
        let eff = self.effective_weights(params)?;
        let weights = RateWeights {
            w_in: eff.require("W_in")?,
            w_rec: eff.require("W_rec")?,
            w_out: eff.require("W_out")?,
            b_rec: params.require("b_rec")?.row(0),
            b_out: params.require("b_out")?.row(0),
            init_state: params.require("init_state")?.row(0),
        };
        let dynamics = RateDynamics { alpha: self.alpha, noise_std: self.noise_std, transfer: self.f };
        rate_forward(&weights, &dynamics, inputs, noise, None, traj)
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
        let (t_steps, batch) = (inputs.shape()[0], inputs.shape()[1]);
        let (n, n_out, n_in) = (self.config.N_rec, self.n_out, self.n_in);
        if seeds.d_outputs.shape() != traj.outputs.shape() || traj.states.shape() != [t_steps, batch, n] {
            return Err(Error::shape(
                "d_outputs",
                format!("{:?}", traj.outputs.shape()),
                format!("{:?}", seeds.d_outputs.shape()),
            ));
        }
        let eff = self.effective_weights(params)?;
        let (w_rec, w_out) = (eff.require("W_rec")?, eff.require("W_out")?);
        let rows = t_steps * batch;
        let g = seeds.d_outputs.as_standard_layout();
        let g = contiguous(&g)?;

        // dL/dW_out_eff = G^T R, db_out = column sums of G.
        let mut d_w_out = Array2::<F>::zeros((n_out, n));
        F::gemm(contiguous_mut(&mut d_w_out)?, n_out, n, rows, g, Op::T, contiguous(&traj.rates)?, Op::N, Acc::Replace);
        let mut d_b_out = Array2::<F>::zeros((1, n_out));
        for row in g.chunks(n_out) {
            for (d, v) in d_b_out.iter_mut().zip(row) {
                *d += *v;
            }
        }

        // Direct gradient on the rates: G W_out_eff (+ dL/dr from rate regularisers).
        let mut delta = ndarray::Array3::<F>::zeros((t_steps, batch, n));
        F::gemm(contiguous_mut(&mut delta)?, rows, n, n_out, g, Op::N, contiguous(w_out)?, Op::N, Acc::Replace);
        if let Some(d_rates) = seeds.d_rates {
            delta += &d_rates;
        }

        // Backward through time: delta[t] becomes dL/dx_{t+1}.
        let (alpha, leak) = (self.alpha, F::one() - self.alpha);
        let step = batch * n;
        let w_rec_s = contiguous(w_rec)?;
        let mut carry = vec![F::zero(); step];
        let states = contiguous(&traj.states)?;
        let rates = contiguous(&traj.rates)?;
        let delta_s = contiguous_mut(&mut delta)?;
        for t in (0..t_steps).rev() {
            let (head, tail) = delta_s.split_at_mut((t + 1) * step);
            let d = &mut head[t * step..];
            let next = (t + 1 < t_steps).then(|| &tail[..step]);
            if let Some(next) = next {
                F::gemm(&mut carry, batch, n, n, next, Op::N, w_rec_s, Op::N, Acc::Replace);
            }
            let (x, r) = (&states[t * step..(t + 1) * step], &rates[t * step..(t + 1) * step]);
            for i in 0..step {
                let fp = self.f.derivative(x[i], r[i]);
                d[i] = match next {
                    Some(next) => (d[i] + alpha * carry[i]) * fp + leak * next[i],
                    None => d[i] * fp,
                };
            }
        }
        // dL/dx_0 (the initial state), summed over trials.
        let initial = &traj.initial;
        let initial_rates = initial.mapv(|x| self.f.apply(x));
        let d0 = &delta_s[..step];
        F::gemm(&mut carry, batch, n, n, d0, Op::N, w_rec_s, Op::N, Acc::Replace);
        let mut d_init = Array2::<F>::zeros((1, n));
        for (i, (x, r)) in initial.iter().zip(initial_rates.iter()).enumerate() {
            d_init[[0, i % n]] += alpha * carry[i] * self.f.derivative(*x, *r) + leak * d0[i];
        }

        // Weight gradients as large products: dW_rec_eff = alpha [d_1..d_T]^T [r_0..r_{T-1}].
        let mut d_w_rec = Array2::<F>::zeros((n, n));
        F::gemm(
            contiguous_mut(&mut d_w_rec)?,
            n,
            n,
            batch,
            d0,
            Op::T,
            contiguous(&initial_rates)?,
            Op::N,
            Acc::Replace,
        );
        if t_steps > 1 {
            F::gemm(
                contiguous_mut(&mut d_w_rec)?,
                n,
                n,
                rows - batch,
                &delta_s[step..],
                Op::T,
                &rates[..rows * n - step],
                Op::N,
                Acc::Add,
            );
        }
        d_w_rec *= alpha;
        let inputs = inputs.as_standard_layout();
        let mut d_w_in = Array2::<F>::zeros((n, n_in));
        F::gemm(contiguous_mut(&mut d_w_in)?, n, n_in, rows, delta_s, Op::T, contiguous(&inputs)?, Op::N, Acc::Replace);
        d_w_in *= alpha;
        let d_b_rec = delta.sum_axis(Axis(0)).sum_axis(Axis(0)).insert_axis(Axis(0)) * alpha;

        let add_eff = |mut d: Array2<F>, name: &str| -> Array2<F> {
            if let Some(extra) = seeds.d_effective.and_then(|e| e.get(name)) {
                d += extra;
            }
            d
        };
        let d_w_in = self.w_in.backprop(params.require("W_in")?, &add_eff(d_w_in, "W_in"));
        let d_w_rec = self.w_rec.backprop(params.require("W_rec")?, &add_eff(d_w_rec, "W_rec"));
        let d_w_out = self.w_out.backprop(params.require("W_out")?, &add_eff(d_w_out, "W_out"));
        for (name, value) in [
            ("W_in", d_w_in),
            ("W_rec", d_w_rec),
            ("W_out", d_w_out),
            ("b_rec", d_b_rec),
            ("b_out", d_b_out),
            ("init_state", d_init),
        ] {
            grads.insert(name, value);
        }
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
            NpyArray::f64("alpha", &[], vec![self.alpha_f64]),
            NpyArray::f64("rec_noise", &[], vec![self.config.rec_noise]),
        ])
    }
}

#[cfg(test)]
mod tests;
