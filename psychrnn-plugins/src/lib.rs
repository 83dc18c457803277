//! # psychrnn-plugins
//!
//! The plugins bundled with psychrnn, each a type implementing [`psychrnn_core::Plugin`] in its
//! own module, all added to a registry by [`register_all`]:
//!
//! | kind | tags |
//! |---|---|
//! | task | [`tasks::perceptual_discrimination`], [`tasks::delayed_discrimination`], [`tasks::match_to_category`]; PyCog's `pycog_rdm`, `pycog_context`, `pycog_multisensory`, `pycog_romo`, `pycog_sequence`, `pycog_sine` ([`tasks::pycog`]); [`tasks::flip_flop`] (Sussillo & Barak's n-bit flip-flop); [`tasks::epochs`] (declared in the manifest) |
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
use psychrnn_core::registry::Registry;

/// Where the bundled plugins come from, as recorded in lock manifests.
pub const SOURCE: &str = concat!("psychrnn-plugins ", env!("CARGO_PKG_VERSION"));

/// Adds every bundled plugin to `registry`: one line per plugin type.
///
/// # Errors
/// [`psychrnn_core::Error::DuplicateTag`] if a tag is already registered.
pub fn register_all(registry: &mut Registry) -> Result<()> {
    use tasks::pycog;
    registry.add::<tasks::perceptual_discrimination::PerceptualDiscrimination>(SOURCE)?;
    registry.add::<tasks::delayed_discrimination::DelayedDiscrimination>(SOURCE)?;
    registry.add::<tasks::match_to_category::MatchToCategory>(SOURCE)?;
    registry.add::<tasks::epochs::Epochs>(SOURCE)?;
    registry.add::<tasks::flip_flop::FlipFlop>(SOURCE)?;
    registry.add::<pycog::rdm::Rdm>(SOURCE)?;
    registry.add::<pycog::context::Context>(SOURCE)?;
    registry.add::<pycog::multisensory::Multisensory>(SOURCE)?;
    registry.add::<pycog::romo::Romo>(SOURCE)?;
    registry.add::<pycog::sequence::Sequence>(SOURCE)?;
    registry.add::<pycog::sine::Sine>(SOURCE)?;
    registry.add::<models::basic_rnn::BasicRnn<f32>>(SOURCE)?;
    registry.add::<models::lstm::Lstm<f32>>(SOURCE)?;
    registry.add::<init::GaussianSpectralRadius>(SOURCE)?;
    registry.add::<init::AlphaIdentity>(SOURCE)?;
    registry.add::<init::Random>(SOURCE)?;
    registry.add::<init::pycog::PyCogEi>(SOURCE)?;
    registry.add::<init::from_file::FromFile>(SOURCE)?;
    registry.add::<loss::MeanSquaredError>(SOURCE)?;
    registry.add::<loss::BinaryCrossEntropy>(SOURCE)?;
    registry.add::<regularizers::L1Weights>(SOURCE)?;
    registry.add::<regularizers::L2Weights>(SOURCE)?;
    registry.add::<regularizers::FiringRatePenalty>(SOURCE)?;
    registry.add::<optim::Adam>(SOURCE)?;
    registry.add::<optim::Sgd>(SOURCE)?;
    registry.add::<optim::RmsProp>(SOURCE)?;
    registry.add::<metrics::Accuracy>(SOURCE)?;
    registry.add::<metrics::Rmse>(SOURCE)?;
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
