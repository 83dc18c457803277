//! `lstm`: PsychRNN's LSTM, with its equations and a hand-written backward pass.
//!
//! With `v = [h_{t-1}, u_t]` (hidden first) and `W_k` of shape `[N_rec + N_in, N_rec]`:
//! ```text
//! f = sigma(v W_f + b_f)   i = sigma(v W_i + b_i)   g = tanh(v W_c + b_c)   o = sigma(v W_o + b_o)
//! c_t = f o c_{t-1} + i o g
//! h_t = o o sigma(c_t)              (PsychRNN uses the sigmoid here, not tanh)
//! z_t = h_t W_out^T + b_out         (raw W_out: no mask or Dale)
//! ```
//! Initial hidden and cell states are trainable, one row per trial of the training batch
//! (`[N_batch, N_rec]`, drawn N(0, 0.1^2)), as in PsychRNN; a batch of another size uses row
//! `b mod N_batch` for trial `b` (PsychRNN's `LSTMSimulator` uses row 0 for every trial). Gate
//! weights are drawn N(0, 0.1^2), gate biases start at 1. There is no alpha, noise or biological
//! constraint. The states and rates of the trajectory are `h_t`.
//!
//! The four gates run as one `[N_rec + N_in, 4 N_rec]` matrix: one GEMM per step forward and
//! one backward; input drives and weight gradients are single products over all `T x B` rows.

use ndarray::{Array2, Array3, ArrayView3, Axis, s};
use psychrnn_core::array::{contiguous, contiguous_mut};
use psychrnn_core::npz::NpyArray;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{
    BackwardSeeds, DefaultInit, Error, Model, ModelContext, Noise, ParamRole, ParamSet, ParamSpec, Real, Result,
    Trajectory,
};
use psychrnn_linalg::{Acc, Op};
use psychrnn_rate::KernelReal;
use serde::{Deserialize, Serialize};

/// The registry tag.
pub const TAG: &str = "lstm";

/// Gate parameter names, in the column order of the fused gate matrix.
const GATES: [(&str, &str); 4] = [("W_f", "b_f"), ("W_i", "b_i"), ("W_c", "b_c"), ("W_o", "b_o")];

/// `[model] type = "lstm"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct LstmConfig {
    /// Number of LSTM units.
    pub N_rec: usize,
}

/// The network (see the module docs).
pub struct Lstm<F> {
    config: LstmConfig,
    n_in: usize,
    n_out: usize,
    n_batch: usize,
    specs: Vec<ParamSpec>,
    _float: std::marker::PhantomData<F>,
}

impl Plugin for Lstm<f32> {
    type Kind = dyn Model<f32>;
    type Config = LstmConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str =
        "PsychRNN's LSTM (h = o * sigmoid(c), per-trial trainable initial states; hand-written BPTT)";

    fn build(config: LstmConfig, ctx: &ModelContext, _: &BuildContext) -> Result<Box<dyn Model<f32>>> {
        Ok(Box::new(Lstm::<f32>::new(config, ctx)?))
    }
}

fn sigmoid<F: Real>(x: F) -> F {
    F::one() / (F::one() + (-x).exp())
}

impl<F: KernelReal> Lstm<F> {
    /// Builds the network for a task with `ctx`'s sizes.
    ///
    /// # Errors
    /// [`Error::Invalid`] for `N_rec = 0`.
    pub fn new(config: LstmConfig, ctx: &ModelContext) -> Result<Self> {
        let n = config.N_rec;
        if n == 0 {
            return Err(Error::invalid("N_rec", "must be at least 1, got 0"));
        }
        let rows = n + ctx.n_in;
        let small = DefaultInit::Normal { mean: 0.0, std: 0.1 };
        let mut specs = vec![
            ParamSpec::new("init_hidden", ctx.n_batch, n, ParamRole::Other).with_init(small),
            ParamSpec::new("init_cell", ctx.n_batch, n, ParamRole::Other).with_init(small),
        ];
        for (w, b) in GATES {
            specs.push(ParamSpec::new(w, rows, n, ParamRole::Other).with_init(small));
            specs.push(ParamSpec::new(b, 1, n, ParamRole::Other).with_init(DefaultInit::Constant(1.0)));
        }
        specs.push(ParamSpec::new("W_out", ctx.n_out, n, ParamRole::OutputWeights));
        specs.push(ParamSpec::new("b_out", 1, ctx.n_out, ParamRole::Bias));
        Ok(Lstm {
            config,
            n_in: ctx.n_in,
            n_out: ctx.n_out,
            n_batch: ctx.n_batch.max(1),
            specs,
            _float: std::marker::PhantomData,
        })
    }

    /// The gate weights and biases fused: `[N_rec + N_in, 4 N_rec]` and `[4 N_rec]`.
    fn fused(&self, params: &ParamSet<F>) -> Result<(Array2<F>, Vec<F>)> {
        let n = self.config.N_rec;
        let mut w = Array2::zeros((n + self.n_in, 4 * n));
        let mut b = vec![F::zero(); 4 * n];
        for (k, (wn, bn)) in GATES.iter().enumerate() {
            w.slice_mut(s![.., k * n..(k + 1) * n]).assign(params.require(wn)?);
            b[k * n..(k + 1) * n].copy_from_slice(contiguous(params.require(bn)?)?);
        }
        Ok((w, b))
    }

    /// Initial hidden or cell state of every trial: row `b mod N_batch`.
    fn initial(&self, params: &ParamSet<F>, name: &str, batch: usize) -> Result<Array2<F>> {
        let rows = params.require(name)?;
        Ok(Array2::from_shape_fn((batch, self.config.N_rec), |(b, j)| rows[[b % self.n_batch, j]]))
    }

    fn check_inputs(&self, inputs: &ArrayView3<'_, F>) -> Result<()> {
        let (t_steps, batch, n_in) = inputs.dim();
        if n_in != self.n_in || t_steps == 0 || batch == 0 {
            return Err(Error::shape(
                "inputs",
                format!("[T >= 1, B >= 1, {}]", self.n_in),
                format!("{:?}", inputs.shape()),
            ));
        }
        Ok(())
    }
}

impl<F: KernelReal> Model<F> for Lstm<F> {
    fn n_rec(&self) -> usize {
        self.config.N_rec
    }

    fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    fn effective_weights(&self, params: &ParamSet<F>) -> Result<ParamSet<F>> {
        let mut eff = ParamSet::new();
        for (w, _) in GATES {
            eff.insert(w, params.require(w)?.clone());
        }
        eff.insert("W_out", params.require("W_out")?.clone());
        Ok(eff)
    }

    fn forward(
        &self,
        params: &ParamSet<F>,
        inputs: ArrayView3<'_, F>,
        _noise: Option<&mut Noise>,
        traj: &mut Trajectory<F>,
    ) -> Result<()> {
        self.check_inputs(&inputs)?;
        params.check_against(&self.specs)?;
        let (t_steps, batch, n_in) = inputs.dim();
        let (n, n_out) = (self.config.N_rec, self.n_out);
        let (w, b) = self.fused(params)?;
        let w_hidden = w.slice(s![..n, ..]).to_owned();
        let w_input = w.slice(s![n.., ..]).to_owned();
        traj.resize(t_steps, batch, n, n_out)?;
        traj.initial = self.initial(params, "init_hidden", batch)?;
        // cache: [cells, gates (f, i, g, o fused)], and the initial cell state in row 0 of cell0.
        traj.cache = vec![
            Array3::zeros((t_steps, batch, n)),
            Array3::zeros((t_steps, batch, 4 * n)),
            self.initial(params, "init_cell", batch)?.insert_axis(Axis(0)),
        ];
        let inputs = inputs.as_standard_layout();
        let mut gates = std::mem::take(&mut traj.cache[1]);
        F::gemm(
            contiguous_mut(&mut gates)?,
            t_steps * batch,
            4 * n,
            n_in,
            contiguous(&inputs)?,
            Op::N,
            contiguous(&w_input)?,
            Op::N,
            Acc::Replace,
        );
        let (step, gstep) = (batch * n, batch * 4 * n);
        {
            let (head, tail) = traj.cache.split_at_mut(2);
            let (cells, cell0) = (&mut head[0], &tail[0]);
            let gates_s = contiguous_mut(&mut gates)?;
            let hs = contiguous_mut(&mut traj.states)?;
            let cs = contiguous_mut(cells)?;
            let (h0, c0) = (contiguous(&traj.initial)?, contiguous(cell0)?);
            for t in 0..t_steps {
                let (h_done, h_rest) = hs.split_at_mut(t * step);
                let (c_done, c_rest) = cs.split_at_mut(t * step);
                let (h_prev, c_prev) =
                    if t == 0 { (h0, c0) } else { (&h_done[(t - 1) * step..], &c_done[(t - 1) * step..]) };
                let g = &mut gates_s[t * gstep..(t + 1) * gstep];
                F::gemm(g, batch, 4 * n, n, h_prev, Op::N, contiguous(&w_hidden)?, Op::N, Acc::Add);
                for bi in 0..batch {
                    let row = &mut g[bi * 4 * n..(bi + 1) * 4 * n];
                    for j in 0..n {
                        let f = sigmoid(row[j] + b[j]);
                        let i = sigmoid(row[n + j] + b[n + j]);
                        let gg = (row[2 * n + j] + b[2 * n + j]).tanh();
                        let o = sigmoid(row[3 * n + j] + b[3 * n + j]);
                        let (row_f, row_i, row_g, row_o) = (j, n + j, 2 * n + j, 3 * n + j);
                        row[row_f] = f;
                        row[row_i] = i;
                        row[row_g] = gg;
                        row[row_o] = o;
                        let k = bi * n + j;
                        let c = f * c_prev[k] + i * gg;
                        c_rest[k] = c;
                        h_rest[k] = o * sigmoid(c);
                    }
                }
            }
        }
        traj.cache[1] = gates;
        traj.rates.assign(&traj.states);
        let w_out = params.require("W_out")?;
        let outputs = contiguous_mut(&mut traj.outputs)?;
        F::gemm(
            outputs,
            t_steps * batch,
            n_out,
            n,
            contiguous(&traj.states)?,
            Op::N,
            contiguous(w_out)?,
            Op::T,
            Acc::Replace,
        );
        let b_out = contiguous(params.require("b_out")?)?;
        for row in outputs.chunks_mut(n_out) {
            for (z, bo) in row.iter_mut().zip(b_out) {
                *z += *bo;
            }
        }
        Ok(())
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
        let (t_steps, batch, n_in) = inputs.dim();
        let (n, n_out) = (self.config.N_rec, self.n_out);
        if traj.cache.len() != 3 || seeds.d_outputs.shape() != traj.outputs.shape() {
            return Err(Error::invalid("trajectory", "backward needs the trajectory of this model's forward pass"));
        }
        let (cells, gates, cell0) =
            (contiguous(&traj.cache[0])?, contiguous(&traj.cache[1])?, contiguous(&traj.cache[2])?);
        let (hs, h0) = (contiguous(&traj.states)?, contiguous(&traj.initial)?);
        let (w, _) = self.fused(params)?;
        let w_hidden = w.slice(s![..n, ..]).to_owned();
        let rows = t_steps * batch;
        let g = seeds.d_outputs.as_standard_layout();
        let g = contiguous(&g)?;

        let mut d_w_out = Array2::<F>::zeros((n_out, n));
        F::gemm(contiguous_mut(&mut d_w_out)?, n_out, n, rows, g, Op::T, hs, Op::N, Acc::Replace);
        if let Some(extra) = seeds.d_effective.and_then(|e| e.get("W_out")) {
            d_w_out += extra;
        }
        let mut d_b_out = Array2::<F>::zeros((1, n_out));
        for row in g.chunks(n_out) {
            d_b_out.iter_mut().zip(row).for_each(|(d, v)| *d += *v);
        }
        // Direct dL/dh_t.
        let mut dh_direct = Array3::<F>::zeros((t_steps, batch, n));
        F::gemm(
            contiguous_mut(&mut dh_direct)?,
            rows,
            n,
            n_out,
            g,
            Op::N,
            contiguous(params.require("W_out")?)?,
            Op::N,
            Acc::Replace,
        );
        if let Some(d_rates) = seeds.d_rates {
            dh_direct += &d_rates;
        }
        let dh_direct = contiguous(&dh_direct)?;

        let (step, gstep) = (batch * n, batch * 4 * n);
        let mut d_pre = vec![F::zero(); rows * 4 * n];
        let mut dh_rec = vec![F::zero(); step];
        let mut dc_next = vec![F::zero(); step];
        for t in (0..t_steps).rev() {
            let c_prev = if t == 0 { cell0 } else { &cells[(t - 1) * step..t * step] };
            let gate = &gates[t * gstep..(t + 1) * gstep];
            let dp = &mut d_pre[t * gstep..(t + 1) * gstep];
            for bi in 0..batch {
                for j in 0..n {
                    let k = bi * n + j;
                    let gk = bi * 4 * n;
                    let (f, i, gg, o) = (gate[gk + j], gate[gk + n + j], gate[gk + 2 * n + j], gate[gk + 3 * n + j]);
                    let sc = sigmoid(cells[t * step + k]);
                    let dh = dh_direct[t * step + k] + dh_rec[k];
                    let d_o = dh * sc;
                    let dc = dh * o * sc * (F::one() - sc) + dc_next[k];
                    dp[gk + j] = dc * c_prev[k] * f * (F::one() - f);
                    dp[gk + n + j] = dc * gg * i * (F::one() - i);
                    dp[gk + 2 * n + j] = dc * i * (F::one() - gg * gg);
                    dp[gk + 3 * n + j] = d_o * o * (F::one() - o);
                    dc_next[k] = dc * f;
                }
            }
            // dL/dh_{t-1} through the gates: dPre_t W_hidden^T.
            F::gemm(&mut dh_rec, batch, n, 4 * n, dp, Op::N, contiguous(&w_hidden)?, Op::T, Acc::Replace);
        }

        // Fused gate gradients: [h_{t-1}; u_t]^T dPre.
        let mut d_w = Array2::<F>::zeros((n + n_in, 4 * n));
        {
            let (mut top, mut bottom) = d_w.view_mut().split_at(Axis(0), n);
            let mut top_owned = top.to_owned();
            F::gemm(contiguous_mut(&mut top_owned)?, n, 4 * n, batch, h0, Op::T, &d_pre[..gstep], Op::N, Acc::Replace);
            if t_steps > 1 {
                F::gemm(
                    contiguous_mut(&mut top_owned)?,
                    n,
                    4 * n,
                    rows - batch,
                    &hs[..rows * n - step],
                    Op::T,
                    &d_pre[gstep..],
                    Op::N,
                    Acc::Add,
                );
            }
            top.assign(&top_owned);
            let inputs = inputs.as_standard_layout();
            let mut bottom_owned = bottom.to_owned();
            F::gemm(
                contiguous_mut(&mut bottom_owned)?,
                n_in,
                4 * n,
                rows,
                contiguous(&inputs)?,
                Op::T,
                &d_pre,
                Op::N,
                Acc::Replace,
            );
            bottom.assign(&bottom_owned);
        }
        let mut d_b = vec![F::zero(); 4 * n];
        for row in d_pre.chunks(4 * n) {
            d_b.iter_mut().zip(row).for_each(|(d, v)| *d += *v);
        }
        for (k, (wn, bn)) in GATES.iter().enumerate() {
            let mut dwk = d_w.slice(s![.., k * n..(k + 1) * n]).to_owned();
            if let Some(extra) = seeds.d_effective.and_then(|e| e.get(wn)) {
                dwk += extra;
            }
            grads.insert(*wn, dwk);
            grads.insert(
                *bn,
                Array2::from_shape_vec((1, n), d_b[k * n..(k + 1) * n].to_vec())
                    .map_err(|e| Error::invalid(*bn, e.to_string()))?,
            );
        }
        // Initial states: row b mod N_batch collects trial b's gradient.
        let mut d_h0 = Array2::<F>::zeros((self.n_batch, n));
        let mut d_c0 = Array2::<F>::zeros((self.n_batch, n));
        for bi in 0..batch {
            for j in 0..n {
                d_h0[[bi % self.n_batch, j]] += dh_rec[bi * n + j];
                d_c0[[bi % self.n_batch, j]] += dc_next[bi * n + j];
            }
        }
        grads.insert("init_hidden", d_h0);
        grads.insert("init_cell", d_c0);
        grads.insert("W_out", d_w_out);
        grads.insert("b_out", d_b_out);
        Ok(())
    }

    fn export(&self, params: &ParamSet<F>) -> Result<Vec<NpyArray>> {
        let mut arrays = Vec::new();
        for spec in &self.specs {
            let a = params.require(&spec.name)?.mapv(|v| v.f64() as f32);
            arrays.push(if spec.name.starts_with("b_") {
                NpyArray::f32(spec.name.clone(), &[a.ncols()], a.iter().copied().collect())
            } else {
                NpyArray::from_ndarray(spec.name.clone(), &a)
            });
        }
        arrays.push(NpyArray::string("model", TAG));
        Ok(arrays)
    }
}

#[cfg(test)]
mod tests;
