//! Bundled optimizers, with TensorFlow 1 semantics (PsychRNN passes TF1 optimizers):
//! `adam`, `sgd` (plain, or with `momentum`: TF1's `MomentumOptimizer`) and `rmsprop`.
//!
//! TF1's Adam applies epsilon before bias correction: with `t` the step number,
//! `lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)`, `m = beta1 m + (1 - beta1) g`,
//! `v = beta2 v + (1 - beta2) g^2`, `theta -= lr_t m / (sqrt(v) + eps)`.
//! (PyTorch and optax put epsilon after the correction; the difference matters early on.)

use std::collections::BTreeMap;

use ndarray::{Array2, Zip};
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{Error, Optimizer, OptimizerState, ParamSet, Result};
use serde::{Deserialize, Serialize};

fn lr() -> f64 {
    0.001
}
fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn eps() -> f64 {
    1e-8
}

/// `[optimizer] type = "adam"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate (PsychRNN: 0.001).
    #[serde(default = "lr")]
    pub learning_rate: f64,
    /// First-moment decay.
    #[serde(default = "beta1")]
    pub beta1: f64,
    /// Second-moment decay.
    #[serde(default = "beta2")]
    pub beta2: f64,
    /// Epsilon (TF1's "epsilon hat").
    #[serde(default = "eps")]
    pub epsilon: f64,
}

/// Adam with TF1 semantics.
pub struct Adam {
    config: AdamConfig,
    step: i32,
    lr_t: f32,
    slots: SlotPairs,
}

/// Two slots per parameter tensor (Adam's moments, RMSProp's mean square and momentum).
type SlotPairs = BTreeMap<String, (Array2<f32>, Array2<f32>)>;

/// Saves per-tensor slots as `<tensor>/<slot>` tensors.
fn save_slots<'a>(slots: impl Iterator<Item = (&'a String, [(&'static str, &'a Array2<f32>); 2])>) -> ParamSet<f32> {
    let mut out = ParamSet::new();
    for (name, pair) in slots {
        for (suffix, a) in pair {
            out.insert(format!("{name}/{suffix}"), a.clone());
        }
    }
    out
}

/// Restores per-tensor slot pairs saved by [`save_slots`].
fn load_slots(state: &OptimizerState, first: &str, second: &str) -> Result<SlotPairs> {
    let mut out = BTreeMap::new();
    for (key, a) in state.slots.iter() {
        if let Some(name) = key.strip_suffix(&format!("/{first}")) {
            let b = state.slots.require(&format!("{name}/{second}"))?;
            out.insert(name.to_string(), (a.clone(), b.clone()));
        }
    }
    Ok(out)
}

fn check_rate(lr: f64) -> Result<()> {
    if lr.is_finite() && lr > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid("learning_rate", format!("must be positive, got {lr}")))
    }
}

impl Adam {
    /// Builds Adam.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a non-positive learning rate, betas outside [0, 1) or a negative epsilon.
    pub fn new(config: AdamConfig) -> Result<Self> {
        check_rate(config.learning_rate)?;
        for (name, b) in [("beta1", config.beta1), ("beta2", config.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::invalid(name, format!("must lie in [0, 1), got {b}")));
            }
        }
        if config.epsilon.is_nan() || config.epsilon < 0.0 {
            return Err(Error::invalid("epsilon", format!("must be >= 0, got {}", config.epsilon)));
        }
        Ok(Adam { config, step: 0, lr_t: 0.0, slots: BTreeMap::new() })
    }
}

impl Optimizer for Adam {
    fn begin_step(&mut self) {
        self.step += 1;
        let c = &self.config;
        self.lr_t = (c.learning_rate * (1.0 - c.beta2.powi(self.step)).sqrt() / (1.0 - c.beta1.powi(self.step))) as f32;
    }

    fn update(&mut self, name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let (m, v) = self
            .slots
            .entry(name.to_string())
            .or_insert_with(|| (Array2::zeros(param.raw_dim()), Array2::zeros(param.raw_dim())));
        let (b1, b2, e, lr_t) =
            (self.config.beta1 as f32, self.config.beta2 as f32, self.config.epsilon as f32, self.lr_t);
        Zip::from(param).and(m).and(v).and(grad).for_each(|p, m, v, &g| {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr_t * *m / (v.sqrt() + e);
        });
    }

    fn state(&self) -> OptimizerState {
        let slots = save_slots(self.slots.iter().map(|(n, (m, v))| (n, [("m", m), ("v", v)])));
        OptimizerState { scalars: [("step".to_string(), f64::from(self.step))].into(), slots }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.step = state.scalar("step")? as i32;
        self.slots = load_slots(state, "m", "v")?;
        Ok(())
    }
}

/// `[optimizer] type = "sgd"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate.
    #[serde(default = "lr")]
    pub learning_rate: f64,
    /// Momentum (0: plain gradient descent). TF1: `a = momentum a + g`, `theta -= lr a`.
    #[serde(default)]
    pub momentum: f64,
    /// Nesterov momentum: `theta -= lr (g + momentum a)`.
    #[serde(default)]
    pub nesterov: bool,
}

/// Gradient descent, optionally with (Nesterov) momentum.
pub struct Sgd {
    config: SgdConfig,
    accumulators: BTreeMap<String, Array2<f32>>,
}

impl Optimizer for Sgd {
    fn update(&mut self, name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let (lr, mu) = (self.config.learning_rate as f32, self.config.momentum as f32);
        if mu == 0.0 {
            Zip::from(param).and(grad).for_each(|p, &g| *p -= lr * g);
            return;
        }
        let acc = self.accumulators.entry(name.to_string()).or_insert_with(|| Array2::zeros(param.raw_dim()));
        let nesterov = self.config.nesterov;
        Zip::from(param).and(acc).and(grad).for_each(|p, a, &g| {
            *a = mu * *a + g;
            *p -= if nesterov { lr * (g + mu * *a) } else { lr * *a };
        });
    }

    fn state(&self) -> OptimizerState {
        let mut slots = ParamSet::new();
        for (name, a) in &self.accumulators {
            slots.insert(format!("{name}/momentum"), a.clone());
        }
        OptimizerState { scalars: BTreeMap::new(), slots }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.accumulators = state
            .slots
            .iter()
            .filter_map(|(k, a)| k.strip_suffix("/momentum").map(|n| (n.to_string(), a.clone())))
            .collect();
        Ok(())
    }
}

fn decay() -> f64 {
    0.9
}
fn rms_eps() -> f64 {
    1e-10
}

/// `[optimizer] type = "rmsprop"` (TF1 `RMSPropOptimizer`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RmsPropConfig {
    /// Learning rate.
    #[serde(default = "lr")]
    pub learning_rate: f64,
    /// Decay of the mean square.
    #[serde(default = "decay")]
    pub decay: f64,
    /// Momentum.
    #[serde(default)]
    pub momentum: f64,
    /// Epsilon inside the square root.
    #[serde(default = "rms_eps")]
    pub epsilon: f64,
}

/// RMSProp as TF1: the mean square starts at 1, `ms = decay ms + (1 - decay) g^2`,
/// `mom = momentum mom + lr g / sqrt(ms + eps)`, `theta -= mom`.
pub struct RmsProp {
    config: RmsPropConfig,
    slots: SlotPairs,
}

impl Optimizer for RmsProp {
    fn update(&mut self, name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let c = &self.config;
        let (lr, rho, mu, eps) = (c.learning_rate as f32, c.decay as f32, c.momentum as f32, c.epsilon as f32);
        let (ms, mom) = self
            .slots
            .entry(name.to_string())
            .or_insert_with(|| (Array2::ones(param.raw_dim()), Array2::zeros(param.raw_dim())));
        Zip::from(param).and(ms).and(mom).and(grad).for_each(|p, ms, mom, &g| {
            *ms = rho * *ms + (1.0 - rho) * g * g;
            *mom = mu * *mom + lr * g / (*ms + eps).sqrt();
            *p -= *mom;
        });
    }

    fn state(&self) -> OptimizerState {
        let slots = save_slots(self.slots.iter().map(|(n, (ms, mom))| (n, [("ms", ms), ("mom", mom)])));
        OptimizerState { scalars: BTreeMap::new(), slots }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        self.slots = load_slots(state, "ms", "mom")?;
        Ok(())
    }
}

fn check_unit_interval(name: &str, v: f64) -> Result<()> {
    if (0.0..1.0).contains(&v) { Ok(()) } else { Err(Error::invalid(name, format!("must lie in [0, 1), got {v}"))) }
}

impl Plugin for Adam {
    type Kind = dyn Optimizer;
    type Config = AdamConfig;
    const TAG: &'static str = "adam";
    const DOC: &'static str = "Adam with TensorFlow 1 semantics (PsychRNN)";

    fn build(config: AdamConfig, (): (), _: &BuildContext) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(Adam::new(config)?))
    }
}

impl Plugin for Sgd {
    type Kind = dyn Optimizer;
    type Config = SgdConfig;
    const TAG: &'static str = "sgd";
    const DOC: &'static str = "gradient descent, optionally with (Nesterov) momentum";

    /// # Errors
    /// A non-positive learning rate or a momentum outside [0, 1).
    fn build(config: SgdConfig, (): (), _: &BuildContext) -> Result<Box<dyn Optimizer>> {
        check_rate(config.learning_rate)?;
        check_unit_interval("momentum", config.momentum)?;
        Ok(Box::new(Sgd { config, accumulators: BTreeMap::new() }))
    }
}

impl Plugin for RmsProp {
    type Kind = dyn Optimizer;
    type Config = RmsPropConfig;
    const TAG: &'static str = "rmsprop";
    const DOC: &'static str = "RMSProp with TensorFlow 1 semantics";

    /// # Errors
    /// A non-positive learning rate, a decay or momentum outside [0, 1), a negative epsilon.
    fn build(config: RmsPropConfig, (): (), _: &BuildContext) -> Result<Box<dyn Optimizer>> {
        check_rate(config.learning_rate)?;
        check_unit_interval("decay", config.decay)?;
        check_unit_interval("momentum", config.momentum)?;
        if config.epsilon.is_nan() || config.epsilon < 0.0 {
            return Err(Error::invalid("epsilon", format!("must be >= 0, got {}", config.epsilon)));
        }
        Ok(Box::new(RmsProp { config, slots: BTreeMap::new() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use psychrnn_core::registry::{Ctor, construct};

    #[test]
    fn adam_first_step_moves_by_lr_in_the_gradient_sign() {
        // At t = 1: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1, so the step is
        // lr * g / |g| (up to epsilon): the TF1 form.
        let mut adam = Adam::new(AdamConfig { learning_rate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }).unwrap();
        let mut p = array![[1.0f32, 1.0]];
        adam.begin_step();
        adam.update("w", &mut p, &array![[0.5, -2.0]]);
        assert!((p[[0, 0]] - 0.99).abs() < 1e-6 && (p[[0, 1]] - 1.01).abs() < 1e-6, "{p}");
    }

    #[test]
    fn adam_with_zero_gradient_never_moves() {
        let mut adam = Adam::new(AdamConfig { learning_rate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }).unwrap();
        let mut p = array![[0.3f32]];
        for _ in 0..5 {
            adam.begin_step();
            adam.update("w", &mut p, &array![[0.0]]);
        }
        assert_eq!(p, array![[0.3f32]]);
    }

    fn run(opt: &mut dyn Optimizer, grads: &[f32]) -> f32 {
        let mut p = array![[1.0f32]];
        for &g in grads {
            opt.begin_step();
            opt.update("w", &mut p, &array![[g]]);
        }
        p[[0, 0]]
    }

    fn built(f: Ctor<dyn Optimizer>, text: &str) -> Box<dyn Optimizer> {
        f(&toml::from_str(text).unwrap(), (), &BuildContext::default()).unwrap().object
    }

    #[test]
    fn momentum_follows_tf1() {
        // a1 = 1, p = 1 - 0.1; a2 = 0.5 + 1 = 1.5, p = 0.9 - 0.15.
        let got = run(built(construct::<Sgd>, "learning_rate = 0.1\nmomentum = 0.5").as_mut(), &[1.0, 1.0]);
        assert!((got - 0.75).abs() < 1e-6, "{got}");
        // Nesterov: p -= lr (g + mu a): 1 - 0.1 (1 + 0.5) = 0.85; a2 = 1.5: 0.85 - 0.1 (1 + 0.75).
        let got =
            run(built(construct::<Sgd>, "learning_rate = 0.1\nmomentum = 0.5\nnesterov = true").as_mut(), &[1.0, 1.0]);
        assert!((got - 0.675).abs() < 1e-6, "{got}");
        assert!((run(built(construct::<Sgd>, "learning_rate = 0.1").as_mut(), &[2.0]) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn rmsprop_follows_tf1_with_the_mean_square_starting_at_one() {
        // ms = 0.9 * 1 + 0.1 * 4 = 1.3; p = 1 - 0.01 * 2 / sqrt(1.3 + 1e-10).
        let got = run(built(construct::<RmsProp>, "learning_rate = 0.01").as_mut(), &[2.0]);
        assert!((got - (1.0 - 0.02 / 1.3f32.sqrt())).abs() < 1e-6, "{got}");
        let e =
            construct::<RmsProp>(&toml::from_str("decay = 1.5").unwrap(), (), &BuildContext::default()).err().unwrap();
        assert_eq!(e.to_string(), "decay: must lie in [0, 1), got 1.5");
    }

    #[test]
    fn saved_state_resumes_every_optimizer_exactly() {
        for (f, text) in [
            (construct::<Adam> as Ctor<dyn Optimizer>, "learning_rate = 0.01"),
            (construct::<Sgd>, "momentum = 0.9\nnesterov = true"),
            (construct::<Sgd>, "learning_rate = 0.1"),
            (construct::<RmsProp>, "momentum = 0.5"),
        ] {
            let grads = [array![[0.5f32, -1.0]], array![[0.25, 2.0]], array![[-1.5, 0.1]], array![[0.3, 0.3]]];
            let step = |opt: &mut dyn Optimizer, p: &mut Array2<f32>, g: &Array2<f32>| {
                opt.begin_step();
                opt.update("w", p, g);
            };
            let mut straight = built(f, text);
            let mut p1 = array![[1.0f32, -1.0]];
            grads.iter().for_each(|g| step(straight.as_mut(), &mut p1, g));
            let mut first = built(f, text);
            let mut p2 = array![[1.0f32, -1.0]];
            grads[..2].iter().for_each(|g| step(first.as_mut(), &mut p2, g));
            let mut resumed = built(f, text);
            resumed.load_state(&first.state()).unwrap();
            grads[2..].iter().for_each(|g| step(resumed.as_mut(), &mut p2, g));
            assert_eq!(p1, p2, "{text}");
        }
    }

    #[test]
    fn invalid_learning_rate_is_named() {
        let mut t = toml::Table::new();
        t.insert("learning_rate".into(), toml::Value::Float(-1.0));
        assert_eq!(
            construct::<Sgd>(&t, (), &BuildContext::default()).err().unwrap().to_string(),
            "learning_rate: must be positive, got -1"
        );
    }
}
