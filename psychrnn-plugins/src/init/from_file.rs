//! `from_file`: initial weights from an `.npz` weight file — ours or one PsychRNN wrote
//! (`RNN.save`, `get_weights()`), like PsychRNN's `load_weights_path`.
//!
//! The file's matrices are the effective weights; they become the raw weights of the new model,
//! which reproduces the saved network exactly when it has the same masks and Dale setting (the
//! transform `|W o M| D` is idempotent). Arrays the model does not use (Dale matrices, masks,
//! optimizer slots such as `W_rec/Adam`) are ignored; members that cannot be read without Python
//! (pickled objects) are skipped with a warning.

use std::path::PathBuf;

use ndarray::Array2;
use psychrnn_core::npz::{NpzContents, read_npz};
use psychrnn_core::registry::{BuildContext, Plugin};
use psychrnn_core::{Error, InitContext, ParamSet, Result, Rng, WeightInitializer};
use serde::{Deserialize, Serialize};

/// The registry tag.
pub const TAG: &str = "from_file";

/// `[initializer] type = "from_file"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FromFileConfig {
    /// The `.npz` weight file (relative to the manifest).
    pub path: PathBuf,
}

/// The initialiser, holding the file's arrays.
pub struct FromFile {
    config: FromFileConfig,
    contents: NpzContents,
}

/// Reads the file at build time, so a missing or unreadable file is reported before training.
impl Plugin for FromFile {
    type Kind = dyn WeightInitializer;
    type Config = FromFileConfig;
    const TAG: &'static str = TAG;
    const DOC: &'static str = "weights from an .npz file (ours or PsychRNN's saved weights)";

    /// Makes the path absolute against the manifest's directory.
    fn resolve(config: &mut FromFileConfig, ctx: &BuildContext) -> Result<()> {
        config.path = ctx.resolve(&config.path);
        Ok(())
    }

    /// # Errors
    /// [`Error::Read`] naming the file, or [`Error::Invalid`] if it is not an `.npz` archive.
    fn build(config: FromFileConfig, (): (), ctx: &BuildContext) -> Result<Box<dyn WeightInitializer>> {
        Ok(Box::new(FromFile::read(config, ctx)?))
    }
}

impl FromFile {
    /// Reads the file `config.path` (absolute, or relative to the current directory), leaving
    /// a warning in `ctx` for each member it had to skip.
    ///
    /// # Errors
    /// [`Error::Read`] naming the file, or [`Error::Invalid`] if it is not an `.npz` archive.
    pub fn read(config: FromFileConfig, ctx: &BuildContext) -> Result<Self> {
        let contents = read_npz(&config.path)?;
        for (name, why) in &contents.skipped {
            ctx.warn(format!("{}: skipped `{name}`: {why}", config.path.display()));
        }
        Ok(FromFile { config, contents })
    }
}

impl WeightInitializer for FromFile {
    fn initialize(&self, ctx: &InitContext<'_>, _rng: &mut Rng) -> Result<ParamSet<f32>> {
        let file = self.config.path.display();
        let mut params = ParamSet::new();
        for spec in ctx.specs {
            let a = self.contents.get(&spec.name).ok_or_else(|| {
                Error::invalid("path", format!("{file} has no `{}`, which the model needs", spec.name))
            })?;
            // PsychRNN stores biases as vectors [N]; the model keeps them as [1, N].
            let fits = a.shape == spec.shape() || (spec.rows == 1 && a.shape == [spec.cols]);
            if !fits {
                return Err(Error::shape(
                    format!("{} (in {file})", spec.name),
                    format!("{:?}", spec.shape()),
                    format!("{:?}", a.shape),
                ));
            }
            let values =
                a.to_f32().ok_or_else(|| Error::invalid("path", format!("`{}` in {file} holds text", spec.name)))?;
            let m = Array2::from_shape_vec((spec.rows, spec.cols), values)
                .map_err(|e| Error::invalid("path", e.to_string()))?;
            params.insert(spec.name.clone(), m);
        }
        Ok(params)
    }
}
