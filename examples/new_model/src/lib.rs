//! Tutorial: a new model in your own crate (PsychRNN's *Define New Model* notebook).
//!
//! `feedforward_rnn` puts a feed-forward ReLU layer in front of a rate RNN, as the notebook's
//! model does: `a_t = relu(u_t W_in_first^T + b_first)` feeds the recurrent network in place of
//! the raw inputs. A model implements [`Model`]: its parameters, forward pass and backward pass.
//! The recurrent part reuses psychrnn's rate kernels ([`rate_forward`], [`rate_backward`], which
//! also returns the gradient with respect to its inputs), so only the new layer's forward and
//! backward are written here; the test checks the whole gradient against finite differences.

use ndarray::{Array2, Array3, ArrayView3, Axis};
use psychrnn_core::npz::NpyArray;
use psychrnn_core::{
    BackwardSeeds, BuildContext, Error, Model, ModelContext, Noise, ParamRole, ParamSet, ParamSpec, Plugin, Registry,
    Result, Trajectory, TransferFunction,
};
use psychrnn_rate::KernelReal;
use psychrnn_rate::dynamics::{BackwardOptions, RateDynamics, RateWeights, rate_backward, rate_forward};
use serde::{Deserialize, Serialize};

/// The tag manifests use.
pub const TAG: &str = "feedforward_rnn";

fn default_ff() -> usize {
    32
}

/// `[model] type = "feedforward_rnn"`.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct FeedforwardRnnConfig {
    /// Recurrent units.
    pub N_rec: usize,
    /// Units of the feed-forward layer (the notebook's `N_feedforward_out`).
    #[serde(default = "default_ff")]
    pub N_feedforward: usize,
    /// Recurrent noise.
    #[serde(default)]
    pub rec_noise: f64,
    /// Transfer function of the recurrent units.
    #[serde(default)]
    pub transfer_function: TransferFunction,
}

/// The model.
pub struct FeedforwardRnn<F> {
    config: FeedforwardRnnConfig,
    n_in: usize,
    dynamics: RateDynamics<F>,
    specs: Vec<ParamSpec>,
}

/// The plugin: its tag, description, configuration type and constructor, declared once.
impl Plugin for FeedforwardRnn<f32> {
    type Kind = dyn Model<f32>;
    type Config = FeedforwardRnnConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str = "a feed-forward ReLU layer before a rate RNN (PsychRNN's NewModel tutorial)";

    fn build(config: FeedforwardRnnConfig, ctx: &ModelContext, _: &BuildContext) -> Result<Box<dyn Model<f32>>> {
        Ok(Box::new(FeedforwardRnn::<f32>::new(config, ctx)?))
    }
}

/// The bundled plugins plus `feedforward_rnn`.
///
/// # Errors
/// If a tag is registered twice.
pub fn registry() -> Result<Registry> {
    let mut r = psychrnn_plugins::registry()?;
    r.add::<FeedforwardRnn<f32>>(concat!("psychrnn-example-new-model ", env!("CARGO_PKG_VERSION")))?;
    Ok(r)
}

/// Registers the model in a host that loads this crate as a plugin library (the `psychrnn`
/// binary with `--plugin`, or the Python package through a manifest's `[plugins]`).
pub fn register(r: &mut dyn psychrnn_core::plugin::Registrar) {
    psychrnn_core::plugin::register::<FeedforwardRnn<f32>>(r);
}

psychrnn_core::declare_plugin!(register);

impl<F: KernelReal> FeedforwardRnn<F> {
    /// Builds the model for a task with `ctx`'s sizes.
    ///
    /// # Errors
    /// [`Error::Invalid`] for zero-sized layers or negative noise.
    pub fn new(config: FeedforwardRnnConfig, ctx: &ModelContext) -> Result<Self> {
        if config.N_rec == 0 || config.N_feedforward == 0 {
            return Err(Error::invalid("N_rec", "N_rec and N_feedforward must be at least 1"));
        }
        if !(config.rec_noise.is_finite() && config.rec_noise >= 0.0) {
            return Err(Error::invalid("rec_noise", format!("must be >= 0, got {}", config.rec_noise)));
        }
        let (n, ff) = (config.N_rec, config.N_feedforward);
        use ParamRole::{Bias, InitialState, InputWeights, OutputWeights, RecurrentWeights};
        let specs = vec![
            ParamSpec::new("W_in_first", ff, ctx.n_in, InputWeights),
            ParamSpec::new("b_first", 1, ff, Bias),
            ParamSpec::new("W_in", n, ff, InputWeights),
            ParamSpec::new("W_rec", n, n, RecurrentWeights),
            ParamSpec::new("W_out", ctx.n_out, n, OutputWeights),
            ParamSpec::new("b_rec", 1, n, Bias),
            ParamSpec::new("b_out", 1, ctx.n_out, Bias),
            ParamSpec::new("init_state", 1, n, InitialState),
        ];
        let dynamics = RateDynamics::per_unit(&[ctx.alpha], config.rec_noise, config.transfer_function);
        Ok(FeedforwardRnn { config, n_in: ctx.n_in, dynamics, specs })
    }

    /// The recurrent network's weights, straight from the parameters (no constraints here).
    fn rate_weights<'a>(&self, p: &'a ParamSet<F>) -> Result<RateWeights<'a, F>> {
        Ok(RateWeights {
            w_in: p.require("W_in")?,
            w_rec: p.require("W_rec")?,
            w_out: p.require("W_out")?,
            b_rec: p.require("b_rec")?.row(0),
            b_out: p.require("b_out")?.row(0),
            init_state: p.require("init_state")?.row(0),
        })
    }

    /// `pre = u W_in_first^T + b_first` for all `T x B` rows.
    fn first_layer(&self, p: &ParamSet<F>, inputs: ArrayView3<'_, F>) -> Result<Array3<F>> {
        let (t, b, n_in) = inputs.dim();
        if n_in != self.n_in {
            return Err(Error::shape("inputs", format!("[T, B, {}]", self.n_in), format!("{:?}", inputs.shape())));
        }
        let u = inputs.to_shape((t * b, n_in)).map_err(|e| Error::invalid("inputs", e.to_string()))?;
        let pre = u.dot(&p.require("W_in_first")?.t()) + p.require("b_first")?;
        pre.into_shape_with_order((t, b, self.config.N_feedforward))
            .map_err(|e| Error::invalid("inputs", e.to_string()))
    }
}

impl<F: KernelReal> Model<F> for FeedforwardRnn<F> {
    fn n_rec(&self) -> usize {
        self.config.N_rec
    }

    fn param_specs(&self) -> &[ParamSpec] {
        &self.specs
    }

    fn effective_weights(&self, params: &ParamSet<F>) -> Result<ParamSet<F>> {
        let mut eff = ParamSet::new();
        for name in ["W_in_first", "W_in", "W_rec", "W_out"] {
            eff.insert(name, params.require(name)?.clone());
        }
        Ok(eff)
    }

    fn forward(
        &self,
        params: &ParamSet<F>,
        inputs: ArrayView3<'_, F>,
        noise: Option<&mut Noise>,
        traj: &mut Trajectory<F>,
    ) -> Result<()> {
        params.check_against(&self.specs)?;
        let pre = self.first_layer(params, inputs)?;
        let hidden = pre.mapv(|v| v.max(F::zero()));
        rate_forward(&self.rate_weights(params)?, &self.dynamics, hidden.view(), noise, None, traj)?;
        traj.cache = vec![pre, hidden];
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
        let [pre, hidden] = traj.cache.as_slice() else {
            return Err(Error::invalid("trajectory", "backward needs this model's forward pass"));
        };
        let rnn = rate_backward(
            &self.rate_weights(params)?,
            &self.dynamics,
            hidden.view(),
            traj,
            seeds.d_outputs,
            seeds.d_rates,
            BackwardOptions { input_gradient: true, omega_bound: None },
        )?;
        // Through the ReLU layer: d_pre = dL/da o 1[pre > 0]; dW_in_first = d_pre^T u.
        let d_hidden = rnn.inputs.ok_or_else(|| Error::invalid("", "rate_backward gave no input gradient"))?;
        let d_pre = d_hidden * pre.mapv(|v| if v > F::zero() { F::one() } else { F::zero() });
        let (t, b, ff) = d_pre.dim();
        let d_pre = d_pre.into_shape_with_order((t * b, ff)).map_err(|e| Error::invalid("", e.to_string()))?;
        let u = inputs.to_shape((t * b, self.n_in)).map_err(|e| Error::invalid("inputs", e.to_string()))?;
        let extra = |name: &str, mut d: Array2<F>| {
            if let Some(e) = seeds.d_effective.and_then(|eff| eff.get(name)) {
                d += e;
            }
            d
        };
        grads.insert("W_in_first", extra("W_in_first", d_pre.t().dot(&u)));
        grads.insert("b_first", d_pre.sum_axis(Axis(0)).insert_axis(Axis(0)));
        grads.insert("W_in", extra("W_in", rnn.w_in));
        grads.insert("W_rec", extra("W_rec", rnn.w_rec));
        grads.insert("W_out", extra("W_out", rnn.w_out));
        grads.insert("b_rec", rnn.b_rec);
        grads.insert("b_out", rnn.b_out);
        grads.insert("init_state", rnn.init_state);
        Ok(())
    }

    fn export(&self, params: &ParamSet<F>) -> Result<Vec<NpyArray>> {
        let mut arrays: Vec<NpyArray> =
            params.iter().map(|(name, a)| NpyArray::from_ndarray(name, &a.mapv(|v| v.f64() as f32))).collect();
        arrays.push(NpyArray::string("model", TAG));
        Ok(arrays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psychrnn_core::rng::{Purpose, stream};
    use psychrnn_core::{BatchView, LossFunction, Real};
    use rand::RngExt;

    #[test]
    fn gradient_matches_finite_differences() {
        let config = FeedforwardRnnConfig {
            N_rec: 5,
            N_feedforward: 4,
            rec_noise: 0.2,
            transfer_function: TransferFunction::Tanh,
        };
        let model =
            FeedforwardRnn::<f64>::new(config, &ModelContext { n_in: 2, n_out: 2, alpha: 0.2, dt: 10.0, n_batch: 3 })
                .unwrap();
        let mut rng = stream(3, Purpose::User, 0);
        let mut params = ParamSet::new();
        for s in model.param_specs() {
            params.insert(
                s.name.clone(),
                Array2::from_shape_simple_fn((s.rows, s.cols), || 0.6 * f64::standard_normal(&mut rng)),
            );
        }
        let inputs = Array3::from_shape_simple_fn((6, 3, 2), || f64::standard_normal(&mut rng));
        let targets = Array3::from_shape_simple_fn((6, 3, 2), || rng.random::<f64>());
        let mask = Array3::ones((6, 3, 2));
        let loss: Box<dyn LossFunction<f64>> = Box::new(psychrnn_plugins::loss::Loss::new(
            psychrnn_plugins::loss::LossKind::MeanSquaredError,
            psychrnn_plugins::loss::LossConfig::default(),
        ));
        let batch = BatchView { inputs: inputs.view(), targets: targets.view(), mask: mask.view() };
        let report = psychrnn_core::testing::check_gradients(
            &model,
            loss.as_ref(),
            &[],
            &params,
            batch,
            Some(1),
            &[],
            (1e-6, 1e-5, 1e-8),
        )
        .unwrap();
        assert_eq!(report.checked, params.iter().map(|(_, a)| a.len()).sum::<usize>());
        assert!(report.total_abs_gradient > 1e-3);
    }

    #[test]
    fn the_example_manifest_trains_through_the_registry() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.toml");
        let mut manifest = psychrnn_core::Manifest::load(&path).unwrap();
        psychrnn_core::testing::shrink_for_smoke_test(&mut manifest, 3);
        let exp =
            psychrnn_train::Experiment::from_manifest(&manifest, &registry().unwrap(), "t", std::path::Path::new("."))
                .unwrap();
        let out = psychrnn_train::train(&exp, &mut psychrnn_train::trainer::Silent).unwrap();
        assert_eq!(out.iterations, 3);
        // Pinned: reorganising psychrnn must not change what this manifest trains to.
        assert_eq!(
            psychrnn_core::testing::params_sha256(&out.params),
            "8260e5c4e9675367ecd6a371f44f47e75982f23428efd71d18b9a2d07852614d"
        );
        assert_eq!(out.params.get("W_in_first").unwrap().shape(), [32, 2]);
    }
}
