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

/// One parameter of a plugin's configuration, for `psychrnn describe`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDoc {
    /// The key in the manifest.
    pub name: String,
    /// Its type, e.g. `number`, `integer`, `boolean`, `"relu" | "tanh"`, `matrix`.
    pub kind: String,
    /// The default as TOML text; `None` when the key is required or has no default.
    pub default: Option<String>,
    /// Whether the manifest must give it.
    pub required: bool,
    /// The doc comment of the field.
    pub doc: String,
}

/// The parameters of a configuration type, from its derived JSON schema (types, defaults and
/// doc comments come from the struct itself, so they cannot drift from the code).
pub fn params_of<T: schemars::JsonSchema>() -> Vec<ParamDoc> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    let empty = serde_json::Map::new();
    let properties = schema.get("properties").and_then(|p| p.as_object()).unwrap_or(&empty);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let defs = schema.get("$defs").cloned().unwrap_or_default();
    properties
        .iter()
        .map(|(name, p)| ParamDoc {
            name: name.clone(),
            kind: type_name(p, &defs),
            default: p.get("default").filter(|d| !d.is_null()).map(toml_text),
            required: required.contains(&name.as_str()),
            doc: p.get("description").and_then(|d| d.as_str()).unwrap_or_default().replace('\n', " "),
        })
        .collect()
}

fn toml_text(v: &serde_json::Value) -> String {
    toml::Value::try_from(v).map_or_else(|_| v.to_string(), |t| t.to_string())
}

/// A readable type for a JSON-schema node.
fn type_name(node: &serde_json::Value, defs: &serde_json::Value) -> String {
    if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return match defs.get(name) {
            Some(def) if def.get("enum").is_some() || def.get("oneOf").is_some() => type_name(def, defs),
            Some(def) if def.get("anyOf").is_some() => type_name(def, defs),
            _ => name.to_string(),
        };
    }
    if let Some(values) = node.get("enum").and_then(|e| e.as_array()) {
        return values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = node.get(key).and_then(|o| o.as_array()) {
            let mut names: Vec<String> = Vec::new();
            for name in options.iter().map(|o| type_name(o, defs)).filter(|n| n != "null") {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            return names.join(" | ");
        }
    }
    if let Some(c) = node.get("const") {
        return c.to_string();
    }
    match node.get("type") {
        Some(serde_json::Value::String(t)) if t == "array" => {
            node.get("items").map_or("array".into(), |i| format!("array of {}", type_name(i, defs)))
        }
        Some(serde_json::Value::String(t)) if t == "object" => "table".into(),
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => {
            ts.iter().filter_map(|t| t.as_str()).filter(|t| *t != "null").collect::<Vec<_>>().join(" | ")
        }
        _ => "any".into(),
    }
}

/// One registered plugin.
#[derive(Clone, Debug)]
pub struct Entry<C> {
    /// The tag manifests use (`type = "..."`).
    pub tag: String,
    /// One-paragraph description.
    pub doc: String,
    /// Where it comes from (crate name and version, or a `.so` path).
    pub source: String,
    /// The parameters of its configuration (see [`params_of`]).
    pub params: Vec<ParamDoc>,
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

    fn describe(&self, tag: &str, section: &str) -> Option<Description> {
        self.entries.get(tag).map(|e| Description {
            kind: self.kind,
            section: section.to_string(),
            tag: e.tag.clone(),
            doc: e.doc.clone(),
            source: e.source.clone(),
            params: e.params.clone(),
        })
    }
}

/// Everything `psychrnn describe` says about a tag.
#[derive(Clone, Debug)]
pub struct Description {
    /// The plugin kind.
    pub kind: &'static str,
    /// The manifest section it goes in (`[task]`, `[[regularizers]]`, ...).
    pub section: String,
    /// The tag.
    pub tag: String,
    /// Its description.
    pub doc: String,
    /// Where it comes from.
    pub source: String,
    /// Its parameters (for tasks, the shared timing keys first).
    pub params: Vec<ParamDoc>,
}

impl Description {
    /// The description as a TOML snippet to paste into a manifest: keys with defaults are
    /// written out, the others commented with their type (and "required").
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "# {} ({}): {}\n# from {}\n{}\ntype = \"{}\"\n",
            self.tag, self.kind, self.doc, self.source, self.section, self.tag
        );
        for p in &self.params {
            let note = if p.doc.is_empty() { p.kind.clone() } else { format!("{}: {}", p.kind, p.doc) };
            match (&p.default, p.required) {
                (Some(d), _) => out.push_str(&format!("{} = {d}  # {note}\n", p.name)),
                (None, true) => out.push_str(&format!("# {} = ...  # REQUIRED {note}\n", p.name)),
                (None, false) => out.push_str(&format!("# {} = ...  # optional {note}\n", p.name)),
            }
        }
        out
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

    /// Descriptions of `tag` in every kind that has it (usually one).
    pub fn describe(&self, tag: &str) -> Vec<Description> {
        let mut found: Vec<Description> = [
            self.tasks.describe(tag, "[task]"),
            self.models.describe(tag, "[model]"),
            self.initializers.describe(tag, "[initializer]"),
            self.losses.describe(tag, "[loss]"),
            self.regularizers.describe(tag, "[[regularizers]]"),
            self.optimizers.describe(tag, "[optimizer]"),
            self.metrics.describe(tag, "[metric]"),
        ]
        .into_iter()
        .flatten()
        .collect();
        for d in found.iter_mut().filter(|d| d.kind == "task") {
            let mut params = params_of::<TaskTiming>();
            params.append(&mut d.params);
            d.params = params;
        }
        found
    }

    /// Every registered tag of every kind, sorted (for "did you mean" lists).
    pub fn all_tags(&self) -> Vec<&str> {
        let mut tags: Vec<&str> =
            self.listing().into_iter().flat_map(|(_, entries)| entries.into_iter().map(|(t, _)| t)).collect();
        tags.sort_unstable();
        tags.dedup();
        tags
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

    /// A documented config.
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Example {
        /// Units.
        n: usize,
        /// The function.
        #[serde(default)]
        f: crate::TransferFunction,
        /// Optional rate.
        #[serde(default = "half")]
        rate: Option<f64>,
        /// A mask.
        #[serde(default)]
        mask: Option<crate::MatrixSpec>,
    }

    fn half() -> Option<f64> {
        Some(0.5)
    }

    #[test]
    fn params_come_from_the_derived_schema() {
        let p = params_of::<Example>();
        let by = |n: &str| p.iter().find(|d| d.name == n).unwrap().clone();
        assert_eq!((by("n").kind.as_str(), by("n").required, by("n").doc.as_str()), ("integer", true, "Units."));
        assert_eq!(by("f").kind, "\"relu\" | \"tanh\" | \"sigmoid\" | \"softplus\" | \"linear\"");
        assert_eq!(by("f").default.as_deref(), Some("\"relu\""));
        assert_eq!((by("rate").kind.as_str(), by("rate").default.as_deref()), ("number", Some("0.5")));
        assert!(!by("mask").required && by("mask").default.is_none());
    }

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
            params: Vec::new(),
            ctor: ctor as OptimizerCtor,
        };
        r.optimizers.register(e("crate a")).unwrap();
        let dup = r.optimizers.register(e("lib.so")).unwrap_err().to_string();
        assert_eq!(dup, "duplicate optimizer type `adam`: registered by crate a and by lib.so");
        let unknown = r.optimizers.get("optimizer.type", "adma").err().unwrap().to_string();
        assert_eq!(unknown, "optimizer.type: unknown optimizer type `adma`; known optimizer types: adam");
    }
}
