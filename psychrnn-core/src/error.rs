//! The error type of `psychrnn-core`: every failure names the field, file, shape or value at fault.

use std::path::PathBuf;

/// Result alias used across psychrnn.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading a manifest, building plugins, training or writing
/// outputs. Messages name the manifest field path (`model.dale_ratio`), the file, or the shapes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not valid TOML or does not have the manifest's structure.
    #[error(transparent)]
    Manifest(Box<ManifestError>),
    /// A plugin tag that no registry entry has.
    #[error("{field}: unknown {kind} type `{tag}`; known {kind} types: {known}")]
    UnknownTag {
        /// Field path, e.g. `model.type`.
        field: String,
        /// Plugin kind, e.g. `model`.
        kind: String,
        /// The tag that was asked for.
        tag: String,
        /// The registered tags of that kind, comma-separated.
        known: String,
    },
    /// A value that is out of range, missing or inconsistent.
    #[error("{field}: {message}")]
    Invalid {
        /// Field path, e.g. `model.dale_ratio`.
        field: String,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// An array whose shape does not fit.
    #[error("{field}: expected shape {expected}, found {found}")]
    Shape {
        /// Field path or array name.
        field: String,
        /// The shape required, e.g. `[50, 50] (N_rec x N_rec)`.
        expected: String,
        /// The shape given.
        found: String,
    },
    /// Two registry entries with one tag.
    #[error("duplicate {kind} type `{tag}`: registered by {first} and by {second}")]
    DuplicateTag {
        /// Plugin kind.
        kind: String,
        /// The tag.
        tag: String,
        /// Source of the first registration.
        first: String,
        /// Source of the second registration.
        second: String,
    },
    /// A plugin library could not be loaded: not a library, not a psychrnn plugin, or built by
    /// another compiler or against another psychrnn-core.
    #[error("plugin {}: {source}", path.display())]
    PluginLoad {
        /// The library file.
        path: PathBuf,
        /// Why.
        #[source]
        source: PluginLoadError,
    },
    /// The code of a dynamically loaded plugin panicked (caught on the plugin's side).
    #[error("plugin {source_name}: {message}")]
    Plugin {
        /// The plugin (its kind and tag, e.g. ``task `go_no_go` ``).
        source_name: String,
        /// What panicked, with the panic's message.
        message: String,
    },
    /// A numerical failure (e.g. an eigen solver that did not converge).
    #[error("{context}: {message}")]
    Numerical {
        /// What was being computed.
        context: String,
        /// What failed.
        message: String,
    },
}

/// A manifest that is not valid TOML or does not have the manifest's structure (the content of
/// [`Error::Manifest`]).
#[derive(Debug, thiserror::Error)]
#[error("{}: {context}{}", path.display(), source.to_string().trim_end())]
pub struct ManifestError {
    /// The manifest file.
    pub path: PathBuf,
    /// When it failed (e.g. `after --set: `), or empty.
    pub context: &'static str,
    /// The TOML parser's error (its message names the line, column and key).
    #[source]
    pub source: toml::de::Error,
}

/// Why a plugin library could not be loaded (the source of [`Error::PluginLoad`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginLoadError {
    /// The dynamic loader refused the file (its error says why).
    #[cfg(feature = "dylib")]
    #[error("not a loadable library")]
    NotALibrary(#[source] libloading::Error),
    /// The library does not export `psychrnn_plugin_declaration`.
    #[cfg(feature = "dylib")]
    #[error("not a psychrnn plugin: it exports no `psychrnn_plugin_declaration`")]
    NoDeclaration(#[source] libloading::Error),
    /// The declaration does not start with the magic number.
    #[error("not a psychrnn plugin: its declaration has the wrong magic number")]
    WrongMagic,
    /// The plugin interface changed between the plugin's build and this one.
    #[error("plugin ABI version {found} does not match this psychrnn's {expected}")]
    AbiVersion {
        /// The plugin's.
        found: u32,
        /// This build's.
        expected: u32,
    },
    /// Built by another compiler (Rust has no stable ABI).
    #[error(
        "built with {found}, but this psychrnn was built with {expected}; rebuild the plugin with the same compiler"
    )]
    RustcVersion {
        /// The plugin's compiler.
        found: String,
        /// This build's.
        expected: String,
    },
    /// Built against another psychrnn-core.
    #[error("built against psychrnn-core {found}, but this is psychrnn-core {expected}; rebuild the plugin against it")]
    CoreVersion {
        /// The plugin's psychrnn-core version.
        found: String,
        /// This build's.
        expected: String,
    },
    /// Its `register` function panicked.
    #[error("panicked while registering: {0}")]
    RegisterPanicked(String),
}

impl Error {
    /// An [`Error::Invalid`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid { field: field.into(), message: message.into() }
    }

    /// `value` if it lies in [0, 1] (a probability, density or fraction), else an
    /// [`Error::Invalid`] for `field` saying so.
    ///
    /// # Errors
    /// As described, also for NaN.
    pub fn check_unit_interval(field: impl Into<String>, value: f64) -> Result<f64> {
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(Error::invalid(field, format!("must lie in [0, 1], got {value}")))
        }
    }

    /// An [`Error::Shape`] for `field`.
    pub fn shape(field: impl Into<String>, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Error::Shape { field: field.into(), expected: expected.into(), found: found.into() }
    }

    /// Prefixes the field path of a field-naming error with a manifest section, so an error
    /// raised by a plugin about `dale_ratio` reads `model.dale_ratio`.
    #[must_use]
    pub fn in_section(self, section: &str) -> Self {
        let join = |field: String| {
            if field.is_empty() { section.to_string() } else { format!("{section}.{field}") }
        };
        match self {
            Error::Invalid { field, message } => Error::Invalid { field: join(field), message },
            Error::Shape { field, expected, found } => Error::Shape { field: join(field), expected, found },
            Error::UnknownTag { field, kind, tag, known } => Error::UnknownTag { field: join(field), kind, tag, known },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_section_prefixes_the_field_path() {
        let e = Error::invalid("dale_ratio", "must lie in [0, 1], got 1.5").in_section("model");
        assert_eq!(e.to_string(), "model.dale_ratio: must lie in [0, 1], got 1.5");
        let e = Error::invalid("", "bad").in_section("task");
        assert_eq!(e.to_string(), "task: bad");
        let e = Error::shape("rec_connectivity", "[2, 2]", "[3, 3]").in_section("model");
        assert_eq!(e.to_string(), "model.rec_connectivity: expected shape [2, 2], found [3, 3]");
    }
}
