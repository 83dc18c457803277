//! The registry: one catalogue of constructors per extension kind, keyed by tag.
//!
//! The same registry resolves manifests, drives `psychrnn list`, and reports duplicate tags.
//! Bundled plugins are added by `psychrnn_plugins::register_all`; there is no hidden global
//! state (link-time registration can silently drop entries, and does not cross a `.so`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::init::WeightInitializer;
use crate::loss::LossFunction;
use crate::metric::CurriculumMetric;
use crate::model::{Model, ModelContext};
use crate::optim::Optimizer;
use crate::regularizer::Regularizer;
use crate::task::{Task, TaskTiming};

/// What every plugin constructor may need besides its table: where relative paths in the
/// manifest start from, and a place to leave warnings for the user.
#[derive(Debug, Default)]
pub struct BuildContext {
    base_dir: PathBuf,
    warnings: RefCell<Vec<String>>,
}

impl BuildContext {
    /// A context whose relative paths start at `base_dir` (the manifest's directory).
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        BuildContext { base_dir: base_dir.into(), warnings: RefCell::new(Vec::new()) }
    }

    /// `path` made absolute against the manifest's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let joined = self.base_dir.join(path);
        std::path::absolute(&joined).unwrap_or(joined)
    }

    /// Leaves a warning for the user (printed by the CLI before training).
    pub fn warn(&self, message: impl Into<String>) {
        self.warnings.borrow_mut().push(message.into());
    }

    /// The warnings left so far, emptying the list.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut self.warnings.borrow_mut())
    }
}

/// Builds a task from its table (without `type` and the timing keys) and the shared timing.
pub type TaskCtor = fn(&toml::Table, &TaskTiming, &BuildContext) -> Result<Box<dyn Task>>;
/// Builds a model from its table (without `type`) for a task's sizes.
pub type ModelCtor = fn(&toml::Table, &ModelContext, &BuildContext) -> Result<Box<dyn Model<f32>>>;
/// Builds an initialiser from its table (without `type`).
pub type InitializerCtor = fn(&toml::Table, &BuildContext) -> Result<Box<dyn WeightInitializer>>;
/// Builds a loss from its table (without `type`).
pub type LossCtor = fn(&toml::Table, &BuildContext) -> Result<Box<dyn LossFunction<f32>>>;
/// Builds a regulariser from its table (without `type`).
pub type RegularizerCtor = fn(&toml::Table, &BuildContext) -> Result<Box<dyn Regularizer<f32>>>;
/// Builds an optimizer from its table (without `type`).
pub type OptimizerCtor = fn(&toml::Table, &BuildContext) -> Result<Box<dyn Optimizer>>;
/// Builds a curriculum metric from its table (without `type`).
pub type MetricCtor = fn(&toml::Table, &BuildContext) -> Result<Box<dyn CurriculumMetric>>;

/// One registered plugin.
#[derive(Clone, Debug)]
pub struct Entry<C> {
    /// The tag manifests use (`type = "..."`).
    pub tag: String,
    /// One-paragraph description.
    pub doc: String,
    /// Where it comes from (crate name and version, or a `.so` path).
    pub source: String,
    /// The constructor.
    pub ctor: C,
}

/// The entries of one kind, sorted by tag.
#[derive(Clone, Debug)]
pub struct Catalog<C> {
    kind: &'static str,
    entries: BTreeMap<String, Entry<C>>,
}

impl<C> Catalog<C> {
    fn new(kind: &'static str) -> Self {
        Catalog { kind, entries: BTreeMap::new() }
    }

    /// The kind's name (`task`, `model`, ...).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Adds an entry.
    ///
    /// # Errors
    /// [`Error::DuplicateTag`] naming both sources if the tag is taken.
    pub fn register(&mut self, entry: Entry<C>) -> Result<()> {
        if let Some(existing) = self.entries.get(&entry.tag) {
            return Err(Error::DuplicateTag {
                kind: self.kind.to_string(),
                tag: entry.tag,
                first: existing.source.clone(),
                second: entry.source,
            });
        }
        self.entries.insert(entry.tag.clone(), entry);
        Ok(())
    }

    /// The entry for `tag`; `field` is the manifest field for the error message.
    ///
    /// # Errors
    /// [`Error::UnknownTag`] listing the known tags.
    pub fn get(&self, field: &str, tag: &str) -> Result<&Entry<C>> {
        self.entries.get(tag).ok_or_else(|| Error::UnknownTag {
            field: field.to_string(),
            kind: self.kind.to_string(),
            tag: tag.to_string(),
            known: self.tags().join(", "),
        })
    }

    /// Every tag, sorted.
    pub fn tags(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// Every entry, sorted by tag.
    pub fn entries(&self) -> impl Iterator<Item = &Entry<C>> {
        self.entries.values()
    }
}

/// One catalogue per extension kind.
#[derive(Clone, Debug)]
pub struct Registry {
    /// Tasks.
    pub tasks: Catalog<TaskCtor>,
    /// Models.
    pub models: Catalog<ModelCtor>,
    /// Weight initialisers.
    pub initializers: Catalog<InitializerCtor>,
    /// Loss functions.
    pub losses: Catalog<LossCtor>,
    /// Regularisers.
    pub regularizers: Catalog<RegularizerCtor>,
    /// Optimizers.
    pub optimizers: Catalog<OptimizerCtor>,
    /// Curriculum metrics.
    pub metrics: Catalog<MetricCtor>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            tasks: Catalog::new("task"),
            models: Catalog::new("model"),
            initializers: Catalog::new("initializer"),
            losses: Catalog::new("loss"),
            regularizers: Catalog::new("regularizer"),
            optimizers: Catalog::new("optimizer"),
            metrics: Catalog::new("curriculum_metric"),
        }
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// `(kind, tags)` for every kind, in a fixed order.
    pub fn listing(&self) -> Vec<(&'static str, Vec<(&str, &str)>)> {
        fn rows<C>(c: &Catalog<C>) -> (&'static str, Vec<(&str, &str)>) {
            (c.kind(), c.entries().map(|e| (e.tag.as_str(), e.doc.as_str())).collect())
        }
        vec![
            rows(&self.tasks),
            rows(&self.models),
            rows(&self.initializers),
            rows(&self.losses),
            rows(&self.regularizers),
            rows(&self.optimizers),
            rows(&self.metrics),
        ]
    }
}

/// Parses a plugin's config struct from its manifest table (unknown fields are the struct's
/// `deny_unknown_fields` business; the error names the offending key).
///
/// # Errors
/// [`Error::Invalid`] with the parser's message (the caller prefixes the section).
pub fn parse_config<C: DeserializeOwned>(table: &toml::Table) -> Result<C> {
    toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| Error::invalid("", e.message().to_string()))
}

/// A plugin's resolved configuration as a manifest table: `type = tag` followed by the fields.
pub fn config_table<C: Serialize>(tag: &str, config: &C) -> toml::Table {
    let mut table = toml::Table::new();
    table.insert("type".into(), toml::Value::String(tag.into()));
    if let Ok(fields) = toml::Table::try_from(config) {
        table.extend(fields);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctor(_: &toml::Table, _: &BuildContext) -> Result<Box<dyn Optimizer>> {
        Err(Error::invalid("", "test"))
    }

    #[test]
    fn duplicates_and_unknown_tags_are_reported() {
        let mut r = Registry::new();
        let e = |src: &str| Entry {
            tag: "adam".into(),
            doc: String::new(),
            source: src.into(),
            ctor: ctor as OptimizerCtor,
        };
        r.optimizers.register(e("crate a")).unwrap();
        let dup = r.optimizers.register(e("lib.so")).unwrap_err().to_string();
        assert_eq!(dup, "duplicate optimizer type `adam`: registered by crate a and by lib.so");
        let unknown = r.optimizers.get("optimizer.type", "adma").err().unwrap().to_string();
        assert_eq!(unknown, "optimizer.type: unknown optimizer type `adma`; known optimizer types: adam");
    }
}
