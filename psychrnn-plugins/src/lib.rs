//! # psychrnn-plugins
//!
//! The plugins bundled with psychrnn, each in its own module, all added to a registry by
//! [`register_all`]:
//!
//! | kind | tags |
//! |---|---|
//! | task | [`tasks::perceptual_discrimination`], [`tasks::delayed_discrimination`], [`tasks::match_to_category`]; PyCog's `pycog_rdm`, `pycog_context`, `pycog_multisensory`, `pycog_romo`, `pycog_sequence`, `pycog_sine` ([`tasks::pycog`]); [`tasks::epochs`] (declared in the manifest) |
//! | model | [`models::basic_rnn`], [`models::lstm`] |
//! | initializer | `gaussian_spectral_radius` (default), `alpha_identity`, `random`, `from_file`, `pycog_ei` ([`init`]) |
//! | loss | `mean_squared_error` (default), `binary_cross_entropy` ([`loss`]) |
//! | regularizer | `l1_weights`, `l2_weights`, `l2_firing_rate` ([`regularizers`]) |
//! | optimizer | `adam` (default), `sgd` (with optional momentum), `rmsprop` ([`optim`]) |
//! | curriculum metric | `accuracy`, `rmse` ([`metrics`]) |

// No unwrap/expect on anything a user supplies: library code returns errors instead.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod init;
pub mod loss;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod regularizers;
pub mod tasks;

use psychrnn_core::Result;
use psychrnn_core::registry::{Entry, Registry, params_of};

/// Where the bundled plugins come from, as recorded in lock manifests.
pub const SOURCE: &str = concat!("psychrnn-plugins ", env!("CARGO_PKG_VERSION"));

/// An entry whose parameters are those of the config type `Cfg`.
fn entry<Cfg: schemars::JsonSchema, C>(tag: &str, doc: &str, ctor: C) -> Entry<C> {
    Entry { tag: tag.into(), doc: doc.into(), source: SOURCE.into(), params: params_of::<Cfg>(), ctor }
}

/// Adds every bundled plugin to `registry`.
///
/// # Errors
/// [`psychrnn_core::Error::DuplicateTag`] if a tag is already registered.
pub fn register_all(registry: &mut Registry) -> Result<()> {
    registry.tasks.register(entry::<tasks::perceptual_discrimination::PerceptualDiscriminationConfig, _>(
        tasks::perceptual_discrimination::TAG,
        "PsychRNN's two-choice perceptual discrimination (coherence 0.1-0.7, choice after the stimulus)",
        tasks::perceptual_discrimination::build,
    ))?;
    registry.tasks.register(entry::<tasks::delayed_discrimination::DelayedDiscriminationConfig, _>(
        tasks::delayed_discrimination::TAG,
        "PsychRNN's delayed frequency comparison: f1 > f2 or f1 < f2 after a delay",
        tasks::delayed_discrimination::build,
    ))?;
    registry.tasks.register(entry::<tasks::match_to_category::MatchToCategoryConfig, _>(
        tasks::match_to_category::TAG,
        "PsychRNN's category task: which sector of the circle holds the angle encoded on a ring of inputs",
        tasks::match_to_category::build,
    ))?;
    registry.tasks.register(entry::<tasks::epochs::EpochsConfig, _>(
        tasks::epochs::TAG,
        "A task declared in the manifest: conditions, named epochs with drawn durations, per-epoch inputs/targets/mask",
        tasks::epochs::build,
    ))?;
    use tasks::pycog;
    registry.tasks.register(entry::<pycog::rdm::RdmConfig, _>(
        pycog::rdm::TAG,
        "PyCog's perceptual decision making: variable stimulus duration or reaction time, catch trials",
        pycog::rdm::build,
    ))?;
    registry.tasks.register(entry::<pycog::context::ContextConfig, _>(
        pycog::context::TAG,
        "PyCog's context-dependent integration (Mante 2013): motion and colour, a context cue picks one",
        pycog::context::build,
    ))?;
    registry.tasks.register(entry::<pycog::multisensory::MultisensoryConfig, _>(
        pycog::multisensory::TAG,
        "PyCog's multisensory integration (Raposo 2014): visual/auditory event rates above or below 12.5/s",
        pycog::multisensory::build,
    ))?;
    registry.tasks.register(entry::<pycog::romo::RomoConfig, _>(
        pycog::romo::TAG,
        "PyCog's parametric working memory (Romo): is f1 > f2 after a 2.5-3.5 s delay",
        pycog::romo::build,
    ))?;
    registry.tasks.register(entry::<pycog::sequence::SequenceConfig, _>(
        pycog::sequence::TAG,
        "PyCog's eye-movement sequences (Averbeck & Lee 2007): 8 sequences of 3 moves, eye x/y outputs",
        pycog::sequence::build,
    ))?;
    registry.tasks.register(entry::<pycog::sine::SineConfig, _>(
        pycog::sine::TAG,
        "PyCog's autonomous sine-wave generator (no inputs)",
        pycog::sine::build,
    ))?;
    registry.models.register(entry::<models::basic_rnn::BasicRnnConfig, _>(
        models::basic_rnn::TAG,
        "PsychRNN's continuous-time rate RNN with Dale's principle, masks and noise (hand-written BPTT)",
        models::basic_rnn::build,
    ))?;
    registry.models.register(entry::<models::lstm::LstmConfig, _>(
        models::lstm::TAG,
        "PsychRNN's LSTM (h = o * sigmoid(c), per-trial trainable initial states; hand-written BPTT)",
        models::lstm::build,
    ))?;
    registry.initializers.register(Entry {
        params: init::params("gaussian_spectral_radius", &["alpha", "which_rand_W_rec_init"]),
        ..entry::<init::InitConfig, _>(
            "gaussian_spectral_radius",
            "W_rec ~ N(0,1), E/I balanced, scaled to spectral radius spec_rad (default 1.1); glorot draws elsewhere",
            init::build_gaussian_spectral_radius,
        )
    })?;
    registry.initializers.register(Entry {
        params: init::params("alpha_identity", &["spec_rad", "which_rand_W_rec_init"]),
        ..entry::<init::InitConfig, _>("alpha_identity", "W_rec = alpha * I, E/I balanced", init::build_alpha_identity)
    })?;
    registry.initializers.register(Entry {
        params: init::params("random", &["spec_rad", "alpha"]),
        ..entry::<init::InitConfig, _>(
            "random",
            "every matrix from which_rand_init (glorot_gauss, glorot_unif, const_gauss, const_unif)",
            init::build_random,
        )
    })?;
    registry.initializers.register(entry::<init::pycog::PyCogEiConfig, _>(
        init::pycog::TAG,
        "PyCog's E/I initialisation: balanced Gamma(k = 2) recurrent weights at spectral radius 1.5",
        init::pycog::build,
    ))?;
    registry.initializers.register(entry::<init::from_file::FromFileConfig, _>(
        init::from_file::TAG,
        "weights from an .npz file (ours or PsychRNN's saved weights)",
        init::from_file::build,
    ))?;
    registry.losses.register(entry::<loss::LossConfig, _>(
        "mean_squared_error",
        "masked MSE, mean over all elements (PsychRNN)",
        loss::build_mse,
    ))?;
    registry.losses.register(entry::<loss::LossConfig, _>(
        "binary_cross_entropy",
        "masked BCE on outputs in (0, 1) (PsychRNN)",
        loss::build_bce,
    ))?;
    registry.regularizers.register(entry::<regularizers::WeightCoefficients, _>(
        "l1_weights",
        "coefficient * mean |W_eff| per named matrix",
        regularizers::build_l1,
    ))?;
    registry.regularizers.register(entry::<regularizers::WeightCoefficients, _>(
        "l2_weights",
        "coefficient * mean W_eff^2 per named matrix",
        regularizers::build_l2,
    ))?;
    registry.regularizers.register(entry::<regularizers::FiringRateConfig, _>(
        "l2_firing_rate",
        "coefficient * mean f(x)^2 over all rates",
        regularizers::build_firing_rate,
    ))?;
    registry.optimizers.register(entry::<optim::AdamConfig, _>(
        "adam",
        "Adam with TensorFlow 1 semantics (PsychRNN)",
        optim::build_adam,
    ))?;
    registry.optimizers.register(entry::<optim::SgdConfig, _>(
        "sgd",
        "gradient descent, optionally with (Nesterov) momentum",
        optim::build_sgd,
    ))?;
    registry.optimizers.register(entry::<optim::RmsPropConfig, _>(
        "rmsprop",
        "RMSProp with TensorFlow 1 semantics",
        optim::build_rmsprop,
    ))?;
    registry.metrics.register(entry::<metrics::AccuracyConfig, _>(
        "accuracy",
        "the task's accuracy on a fresh batch",
        metrics::build_accuracy,
    ))?;
    registry.metrics.register(entry::<metrics::AccuracyConfig, _>(
        "rmse",
        "root-mean-square error over the masked outputs of a fresh batch (lower is better; PyCog's min_error)",
        metrics::build_rmse,
    ))?;
    Ok(())
}

/// A registry holding exactly the bundled plugins.
///
/// # Errors
/// Never in practice (the bundled tags are distinct; a test pins them).
pub fn registry() -> Result<Registry> {
    let mut r = Registry::new();
    register_all(&mut r)?;
    Ok(r)
}
