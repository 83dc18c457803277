//! Bundled weight initialisers: PsychRNN's `WeightInitializer` (`random`),
//! `GaussianSpectralRadius` (`gaussian_spectral_radius`, the default) and `AlphaIdentity`
//! (`alpha_identity`).
//!
//! PyCog's E/I initialisation is [`pycog`] (`pycog_ei`).
//!
//! All three share PsychRNN's procedure and draw order: `W_in`, `W_out` from
//! `which_rand_init`; then `W_rec` by the initialiser's own rule, followed by the E/I balancing
//! when Dale's principle is on; then `init_state = 0.1 + 0.01 N(0, 1)`; biases 0.

pub mod draws;
pub mod from_file;
pub mod pycog;

use ndarray::Array2;
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{DefaultInit, Error, InitContext, ParamRole, ParamSet, Real, Result, Rng, WeightInitializer};
use serde::{Deserialize, Serialize};

pub use draws::RandInit;

fn default_min() -> f64 {
    -0.1
}
fn default_max() -> f64 {
    0.1
}
fn default_spec_rad() -> f64 {
    1.1
}

/// The configuration of every bundled initialiser (PsychRNN's keys). Keys that do not belong to
/// the chosen `type` are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub struct InitConfig {
    /// Draw of `W_in` and `W_out`.
    #[serde(default)]
    pub which_rand_init: RandInit,
    /// Draw of `W_rec` for `random` (default: `which_rand_init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub which_rand_W_rec_init: Option<RandInit>,
    /// Lower bound of `const_unif`.
    #[serde(default = "default_min")]
    pub init_minval: f64,
    /// Upper bound of `const_unif`.
    #[serde(default = "default_max")]
    pub init_maxval: f64,
    /// `gaussian_spectral_radius`: target spectral radius of the raw `W_rec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_rad: Option<f64>,
    /// `alpha_identity`: `W_rec = alpha I` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

/// How `W_rec` is made.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum RecurrentRule {
    /// PsychRNN's base `WeightInitializer`: drawn by `which_rand_W_rec_init`.
    Random,
    /// N(0, 1), balanced, then scaled to this spectral radius (computed on the raw, unmasked
    /// matrix, as PsychRNN does: masks and Dale change the effective radius).
    SpectralRadius,
    /// `alpha * I`, balanced.
    AlphaIdentity,
}

/// One of the bundled initialisers.
pub struct PsychRnnInitializer {
    rule: RecurrentRule,
    config: InitConfig,
}

/// Registry tags and rules.
pub const RULES: [(&str, RecurrentRule); 3] = [
    ("random", RecurrentRule::Random),
    ("gaussian_spectral_radius", RecurrentRule::SpectralRadius),
    ("alpha_identity", RecurrentRule::AlphaIdentity),
];

impl PsychRnnInitializer {
    /// Builds and validates the initialiser `tag` (one of [`RULES`]).
    ///
    /// # Errors
    /// As [`complete`].
    pub fn new(tag: &str, rule: RecurrentRule, mut config: InitConfig) -> Result<Self> {
        complete(tag, rule, &mut config)?;
        Ok(PsychRnnInitializer { rule, config })
    }

    fn recurrent(
        &self,
        n: usize,
        connectivity: Option<&Array2<f32>>,
        dale_ratio: Option<f64>,
        rng: &mut Rng,
    ) -> Result<Array2<f64>> {
        let c = &self.config;
        let mut w = match self.rule {
            RecurrentRule::Random => draws::draw(
                c.which_rand_W_rec_init.unwrap_or(c.which_rand_init),
                n,
                n,
                connectivity,
                (c.init_minval, c.init_maxval),
                rng,
            ),
            RecurrentRule::SpectralRadius => Array2::from_shape_simple_fn((n, n), || f64::standard_normal(rng)),
            RecurrentRule::AlphaIdentity => Array2::eye(n) * c.alpha.unwrap_or(0.0),
        };
        if let (Some(r), RecurrentRule::SpectralRadius | RecurrentRule::AlphaIdentity) = (dale_ratio, self.rule) {
            let ones = Array2::ones((n, n));
            draws::balance_dale_ratio(&mut w, connectivity.unwrap_or(&ones), r)?;
        }
        if self.rule == RecurrentRule::SpectralRadius {
            draws::scale_to_spectral_radius(&mut w, c.spec_rad.unwrap_or(1.1))?;
        }
        Ok(w)
    }
}

/// Validates `config` for the initialiser `tag` with `rule` and fills in the rule's defaults
/// (`spec_rad` 1.1; `which_rand_W_rec_init` = `which_rand_init`), as the lock records them.
///
/// # Errors
/// [`Error::Invalid`] for a key foreign to the rule, a missing `alpha`, a non-positive
/// `spec_rad`, or `init_minval > init_maxval`.
pub fn complete(tag: &str, rule: RecurrentRule, config: &mut InitConfig) -> Result<()> {
    let foreign = |field: &str, set: bool, ok: bool| {
        if set && !ok { Err(Error::invalid(field, format!("is not a parameter of `{tag}`"))) } else { Ok(()) }
    };
    foreign("spec_rad", config.spec_rad.is_some(), rule == RecurrentRule::SpectralRadius)?;
    foreign("alpha", config.alpha.is_some(), rule == RecurrentRule::AlphaIdentity)?;
    foreign("which_rand_W_rec_init", config.which_rand_W_rec_init.is_some(), rule == RecurrentRule::Random)?;
    match rule {
        RecurrentRule::SpectralRadius => {
            let r = *config.spec_rad.get_or_insert_with(default_spec_rad);
            if !(r.is_finite() && r > 0.0) {
                return Err(Error::invalid("spec_rad", format!("must be positive, got {r}")));
            }
        }
        RecurrentRule::AlphaIdentity => match config.alpha {
            None => {
                return Err(Error::invalid(
                    "alpha",
                    "missing: alpha_identity needs W_rec = alpha * I (PsychRNN has no default)",
                ));
            }
            Some(a) if !a.is_finite() => {
                return Err(Error::invalid("alpha", format!("must be finite, got {a}")));
            }
            Some(_) => {}
        },
        RecurrentRule::Random => {
            config.which_rand_W_rec_init.get_or_insert(config.which_rand_init);
        }
    }
    if config.init_minval > config.init_maxval {
        return Err(Error::invalid(
            "init_minval",
            format!("{} exceeds init_maxval {}", config.init_minval, config.init_maxval),
        ));
    }
    Ok(())
}

impl WeightInitializer for PsychRnnInitializer {
    fn initialize(&self, ctx: &InitContext<'_>, rng: &mut Rng) -> Result<ParamSet<f32>> {
        let c = &self.config;
        let bounds = (c.init_minval, c.init_maxval);
        let mut values: Vec<Option<Array2<f64>>> = vec![None; ctx.specs.len()];
        // PsychRNN's draw order: W_in, W_out, W_rec, init_state; then everything else.
        let order =
            [ParamRole::InputWeights, ParamRole::OutputWeights, ParamRole::RecurrentWeights, ParamRole::InitialState];
        for role in order {
            for (i, spec) in ctx.specs.iter().enumerate().filter(|(_, s)| s.role == role) {
                let conn = spec.connectivity.as_ref();
                values[i] = Some(match role {
                    ParamRole::RecurrentWeights => {
                        self.recurrent(spec.rows, conn, ctx.dale_ratio, rng).map_err(|e| e.in_section(&spec.name))?
                    }
                    ParamRole::InitialState => {
                        Array2::from_shape_simple_fn((spec.rows, spec.cols), || 0.1 + 0.01 * f64::standard_normal(rng))
                    }
                    _ => draws::draw(c.which_rand_init, spec.rows, spec.cols, conn, bounds, rng),
                });
            }
        }
        let mut params = ParamSet::new();
        for (spec, value) in ctx.specs.iter().zip(values) {
            let value = value.unwrap_or_else(|| match spec.default_init {
                DefaultInit::Constant(v) => Array2::from_elem((spec.rows, spec.cols), v),
                DefaultInit::Normal { mean, std } => {
                    Array2::from_shape_simple_fn((spec.rows, spec.cols), || mean + std * f64::standard_normal(rng))
                }
            });
            params.insert(spec.name.clone(), value.mapv(|v| v as f32));
        }
        Ok(params)
    }
}

/// The parameters of one bundled initialiser: [`InitConfig`]'s, without the keys foreign to
/// its rule (`exclude`), with `spec_rad`'s default and `alpha`'s requirement filled in.
pub fn params(tag: &str, exclude: &[&str]) -> Vec<psychrnn_core::ParamDoc> {
    let mut params = psychrnn_core::params_of::<InitConfig>();
    params.retain(|p| !exclude.contains(&p.name.as_str()));
    for p in &mut params {
        match (tag, p.name.as_str()) {
            ("gaussian_spectral_radius", "spec_rad") => p.default = Some(default_spec_rad().to_string()),
            ("alpha_identity", "alpha") => p.required = true,
            _ => {}
        }
    }
    params
}

macro_rules! psychrnn_initializers {
    ($($plugin:ident, $tag:literal, $rule:ident, $exclude:expr, $doc:literal;)*) => {$(
        #[doc = concat!("`type = \"", $tag, "\"`: ", $doc, ".")]
        pub struct $plugin;

        impl Plugin for $plugin {
            type Kind = dyn WeightInitializer;
            type Config = InitConfig;
            const TAG: &'static str = $tag;
            const DOC: &'static str = $doc;

            fn params() -> Vec<psychrnn_core::ParamDoc> {
                params($tag, $exclude)
            }

            fn resolve(config: &mut InitConfig, _: &BuildContext) -> Result<()> {
                complete($tag, RecurrentRule::$rule, config)
            }

            fn build(config: InitConfig, (): (), _: &BuildContext) -> Result<Box<dyn WeightInitializer>> {
                Ok(Box::new(PsychRnnInitializer::new($tag, RecurrentRule::$rule, config)?))
            }
        }
    )*};
}

psychrnn_initializers! {
    GaussianSpectralRadius, "gaussian_spectral_radius", SpectralRadius, &["alpha", "which_rand_W_rec_init"],
        "W_rec ~ N(0,1), E/I balanced, scaled to spectral radius spec_rad (default 1.1); glorot draws elsewhere";
    AlphaIdentity, "alpha_identity", AlphaIdentity, &["spec_rad", "which_rand_W_rec_init"],
        "W_rec = alpha * I, E/I balanced";
    Random, "random", Random, &["spec_rad", "alpha"],
        "every matrix from which_rand_init (glorot_gauss, glorot_unif, const_gauss, const_unif)";
}

#[cfg(test)]
mod tests;
