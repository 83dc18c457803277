//! The registry: one catalogue of constructors per extension kind, keyed by tag.
//!
//! A plugin is a type implementing [`Plugin`]: tag, description, configuration type and
//! constructor, declared once. [`Registry::add`] turns it into an [`Entry`] whose constructor
//! parses the configuration, keeps it (resolved, defaults filled in) for the lock, and builds
//! the object. The same registry resolves manifests, drives `psychrnn list` and `describe`, and
//! reports duplicate tags. Bundled plugins are added by `psychrnn_plugins::register_all`; there
//! is no hidden global state (link-time registration can silently drop entries, and does not
//! cross a `.so`).

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
use crate::plugin::{PluginFailures, Registrar};
use crate::regularizer::Regularizer;
use crate::task::{Task, TaskTiming};

/// What every plugin constructor may need besides its table: where relative paths in the
/// manifest start from, a place to leave warnings for the user, and where the objects of
/// dynamically loaded plugins report caught panics.
#[derive(Debug, Default)]
pub struct BuildContext {
    base_dir: PathBuf,
    warnings: RefCell<Vec<String>>,
    failures: PluginFailures,
}

impl BuildContext {
    /// A context whose relative paths start at `base_dir` (the manifest's directory).
    pub fn new(base_dir: impl Into<PathBuf>) -> Self {
        BuildContext { base_dir: base_dir.into(), ..Self::default() }
    }

    /// The same context reporting plugin failures to `failures` (e.g. those of an experiment).
    #[must_use]
    pub fn with_failures(mut self, failures: PluginFailures) -> Self {
        self.failures = failures;
        self
    }

    /// Where the guarded objects built in this context report panics they could not return as
    /// errors (shared: clones report to the same place).
    pub fn failures(&self) -> &PluginFailures {
        &self.failures
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

/// One kind of extension (task, model, ...): the trait object its plugins build and what their
/// constructors take besides the configuration. Implemented for the seven kinds below; a lab
/// implements [`Plugin`], not this.
pub trait Kind: 'static {
    /// The kind's name in messages, listings and locks (`task`, `model`, ...).
    const NAME: &'static str;
    /// The manifest section its tables go in (`[task]`, `[[regularizers]]`, ...).
    const SECTION: &'static str;
    /// What a constructor takes besides its configuration (the task's timing, the model's
    /// sizes; nothing for the other kinds).
    type Args<'a>;

    /// The kind's catalogue in a registry.
    fn catalog(registry: &mut Registry) -> &mut Catalog<Self>;

    /// Wraps an object built inside a dynamically loaded plugin in the guard of its kind, so
    /// its panics stay on the plugin's side (see [`crate::plugin`]).
    ///
    /// # Errors
    /// If reading the object's fixed properties panics.
    fn guard(object: Box<Self>, name: String, failures: &PluginFailures) -> Result<Box<Self>>;

    /// Hands an entry to the matching method of a plugin library's registrar.
    fn submit(registrar: &mut dyn Registrar, entry: Entry<Self>);
}

/// What a registered constructor returns: the object, and its configuration with every default
/// filled in and its `type` tag, as the lock records it.
pub struct Built<K: ?Sized> {
    /// The plugin object.
    pub object: Box<K>,
    /// Its resolved configuration.
    pub config: toml::Table,
}

/// A registered constructor: parses the table (without `type`), builds the object, and returns
/// it with its resolved configuration.
pub type Ctor<K> = for<'a> fn(&'a toml::Table, <K as Kind>::Args<'a>, &'a BuildContext) -> Result<Built<K>>;

/// A plugin, declared once by type: its tag, description, configuration type and constructor.
/// [`Registry::add`] (or, in a `.so`, [`crate::plugin::register`]) turns it into a registry
/// entry that parses the configuration, keeps it for the lock and builds the object.
///
/// ```
/// use psychrnn_core::{BuildContext, Plugin, Registry, Result, Rng, Task, TaskTiming, TrialMut, TrialParams};
///
/// /// `[task] type = "silence"`: no input, target 0 throughout.
/// struct Silence(TaskTiming);
///
/// #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
/// #[serde(deny_unknown_fields)]
/// struct SilenceConfig {}
///
/// impl Task for Silence {
///     fn timing(&self) -> &TaskTiming { &self.0 }
///     fn n_in(&self) -> usize { 1 }
///     fn n_out(&self) -> usize { 1 }
///     fn generate_trial(&self, _: &mut Rng, mut trial: TrialMut<'_>) -> TrialParams {
///         trial.mask.fill(1.0);
///         TrialParams::new()
///     }
/// }
///
/// impl Plugin for Silence {
///     type Kind = dyn Task;
///     type Config = SilenceConfig;
///     const TAG: &'static str = "silence";
///     const DOC: &'static str = "no input, target 0";
///     fn build(_: SilenceConfig, timing: &TaskTiming, _: &BuildContext) -> Result<Box<dyn Task>> {
///         Ok(Box::new(Silence(timing.clone())))
///     }
/// }
///
/// let mut registry = Registry::new();
/// registry.add::<Silence>("my-lab 0.1")?;
/// let entry = registry.tasks.get("task.type", "silence")?;
/// let timing = TaskTiming::new(10.0, 100.0, 500.0, 4);
/// let built = (entry.ctor)(&toml::Table::new(), &timing, &BuildContext::default())?;
/// assert_eq!((built.object.n_in(), built.config["type"].as_str()), (1, Some("silence")));
/// # Ok::<(), psychrnn_core::Error>(())
/// ```
pub trait Plugin: 'static {
    /// The kind it is: `dyn Task`, `dyn Model<f32>`, `dyn WeightInitializer`,
    /// `dyn LossFunction<f32>`, `dyn Regularizer<f32>`, `dyn Optimizer` or
    /// `dyn CurriculumMetric`.
    type Kind: ?Sized + Kind;
    /// Its configuration: the keys of its manifest table (without `type`). Types, defaults and
    /// doc comments of the fields are what `psychrnn describe` shows.
    type Config: DeserializeOwned + Serialize + schemars::JsonSchema;
    /// The tag manifests use (`type = "..."`).
    const TAG: &'static str;
    /// One-paragraph description.
    const DOC: &'static str;

    /// The parameters `psychrnn describe` lists; by default every field of [`Plugin::Config`].
    fn params() -> Vec<ParamDoc> {
        params_of::<Self::Config>()
    }

    /// Completes the parsed configuration before it is recorded and built, e.g. makes file
    /// paths absolute against the manifest's directory. By default nothing.
    ///
    /// # Errors
    /// If it cannot be completed.
    fn resolve(config: &mut Self::Config, ctx: &BuildContext) -> Result<()> {
        let _ = (config, ctx);
        Ok(())
    }

    /// Builds the object from its resolved configuration.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the offending key for a value it cannot use.
    fn build(config: Self::Config, args: <Self::Kind as Kind>::Args<'_>, ctx: &BuildContext)
    -> Result<Box<Self::Kind>>;
}

/// Parses, resolves, records and builds plugin `P` from its table (without `type`).
///
/// # Errors
/// A parse error or `P`'s own.
pub fn construct<'a, P: Plugin>(
    table: &'a toml::Table,
    args: <P::Kind as Kind>::Args<'a>,
    ctx: &'a BuildContext,
) -> Result<Built<P::Kind>> {
    let mut config: P::Config = parse_config(table)?;
    P::resolve(&mut config, ctx)?;
    let recorded = config_table(P::TAG, &config);
    Ok(Built { object: P::build(config, args, ctx)?, config: recorded })
}

macro_rules! kinds {
    ($($object:ty, $name:literal, $section:literal, $field:ident, $args:ty, $guard:ident, $method:ident;)*) => {$(
        impl Kind for $object {
            const NAME: &'static str = $name;
            const SECTION: &'static str = $section;
            type Args<'a> = $args;
            fn catalog(registry: &mut Registry) -> &mut Catalog<Self> {
                &mut registry.$field
            }
            fn guard(object: Box<Self>, name: String, failures: &PluginFailures) -> Result<Box<Self>> {
                Ok(Box::new(crate::plugin::$guard::new(object, name, failures.clone())?))
            }
            fn submit(registrar: &mut dyn Registrar, entry: Entry<Self>) {
                registrar.$method(entry);
            }
        }
    )*};
}

kinds! {
    dyn Task, "task", "[task]", tasks, &'a TaskTiming, GuardedTask, task;
    dyn Model<f32>, "model", "[model]", models, &'a ModelContext, GuardedModel, model;
    dyn WeightInitializer, "initializer", "[initializer]", initializers, (), GuardedInitializer, initializer;
    dyn LossFunction<f32>, "loss", "[loss]", losses, (), GuardedLoss, loss;
    dyn Regularizer<f32>, "regularizer", "[[regularizers]]", regularizers, (), GuardedRegularizer, regularizer;
    dyn Optimizer, "optimizer", "[optimizer]", optimizers, (), GuardedOptimizer, optimizer;
    dyn CurriculumMetric, "curriculum_metric", "[metric]", metrics, (), GuardedMetric, metric;
}

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
    /// The keys of a sub-table (a struct-typed field, or an array of them such as an `epochs`
    /// task's `[[task.epoch]]`), described the same way; empty for plain values.
    pub fields: Vec<ParamDoc>,
}

/// The parameters of a configuration type, from its derived JSON schema (types, defaults and
/// doc comments come from the struct itself, so they cannot drift from the code).
pub fn params_of<T: schemars::JsonSchema>() -> Vec<ParamDoc> {
    let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
    let defs = schema.get("$defs").cloned().unwrap_or_default();
    params_of_node(&schema, &defs, 0)
}

/// The parameters of the object schema `node`, sub-tables to three levels.
fn params_of_node(node: &serde_json::Value, defs: &serde_json::Value, depth: usize) -> Vec<ParamDoc> {
    let empty = serde_json::Map::new();
    let properties = node.get("properties").and_then(|p| p.as_object()).unwrap_or(&empty);
    let required: Vec<&str> = node
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, p)| ParamDoc {
            name: name.clone(),
            kind: type_name(p, defs),
            default: p.get("default").filter(|d| !d.is_null()).map(toml_text),
            required: required.contains(&name.as_str()),
            doc: p.get("description").and_then(|d| d.as_str()).unwrap_or_default().replace('\n', " "),
            fields: match struct_of(p, defs) {
                Some(def) if depth < 3 => params_of_node(def, defs, depth + 1),
                _ => Vec::new(),
            },
        })
        .collect()
}

/// The object schema a property refers to: directly, through `Option` (`anyOf` with null) or
/// as the items of an array; `None` for plain values and maps.
fn struct_of<'a>(node: &'a serde_json::Value, defs: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
    if let Some(r) = node.get("$ref").and_then(|r| r.as_str()) {
        let def = defs.get(r.rsplit('/').next().unwrap_or(r))?;
        return if def.get("properties").is_some() { Some(def) } else { struct_of(def, defs) };
    }
    if let Some(items) = node.get("items") {
        return struct_of(items, defs);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(options) = node.get(key).and_then(|o| o.as_array()) {
            return options.iter().find_map(|o| struct_of(o, defs));
        }
    }
    None
}

fn toml_text(v: &serde_json::Value) -> String {
    // Tiny and huge floats in exponent form (`1e-20`, which TOML reads), not 20 decimals.
    if let Some(x) = v.as_f64().filter(|x| v.is_f64() && *x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e16)) {
        return format!("{x:e}");
    }
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
pub struct Entry<K: ?Sized + Kind> {
    /// The tag manifests use (`type = "..."`).
    pub tag: String,
    /// One-paragraph description.
    pub doc: String,
    /// Where it comes from (crate name and version, or a `.so` path).
    pub source: String,
    /// The parameters of its configuration (see [`params_of`]).
    pub params: Vec<ParamDoc>,
    /// The constructor.
    pub ctor: Ctor<K>,
}

impl<K: ?Sized + Kind> Entry<K> {
    /// The entry of plugin `P` from `source`, with constructor `ctor` (normally
    /// [`construct::<P>`](construct)).
    pub fn of<P: Plugin<Kind = K>>(source: &str, ctor: Ctor<K>) -> Self {
        Entry { tag: P::TAG.into(), doc: P::DOC.into(), source: source.into(), params: P::params(), ctor }
    }
}

impl<K: ?Sized + Kind> Clone for Entry<K> {
    fn clone(&self) -> Self {
        Entry {
            tag: self.tag.clone(),
            doc: self.doc.clone(),
            source: self.source.clone(),
            params: self.params.clone(),
            ctor: self.ctor,
        }
    }
}

impl<K: ?Sized + Kind> std::fmt::Debug for Entry<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("kind", &K::NAME).field("tag", &self.tag).field("source", &self.source).finish()
    }
}

/// The entries of one kind, sorted by tag.
pub struct Catalog<K: ?Sized + Kind> {
    entries: BTreeMap<String, Entry<K>>,
}

impl<K: ?Sized + Kind> Clone for Catalog<K> {
    fn clone(&self) -> Self {
        Catalog { entries: self.entries.clone() }
    }
}

impl<K: ?Sized + Kind> std::fmt::Debug for Catalog<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("kind", &K::NAME).field("tags", &self.tags()).finish()
    }
}

impl<K: ?Sized + Kind> Default for Catalog<K> {
    fn default() -> Self {
        Catalog { entries: BTreeMap::new() }
    }
}

impl<K: ?Sized + Kind> Catalog<K> {
    /// The kind's name (`task`, `model`, ...).
    pub fn kind(&self) -> &'static str {
        K::NAME
    }

    /// Adds an entry.
    ///
    /// # Errors
    /// [`Error::DuplicateTag`] naming both sources if the tag is taken.
    pub fn register(&mut self, entry: Entry<K>) -> Result<()> {
        if let Some(existing) = self.entries.get(&entry.tag) {
            return Err(Error::DuplicateTag {
                kind: K::NAME.to_string(),
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
    pub fn get(&self, field: &str, tag: &str) -> Result<&Entry<K>> {
        self.entries.get(tag).ok_or_else(|| Error::UnknownTag {
            field: field.to_string(),
            kind: K::NAME.to_string(),
            tag: tag.to_string(),
            known: self.tags().join(", "),
        })
    }

    /// Every tag, sorted.
    pub fn tags(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// Every entry, sorted by tag.
    pub fn entries(&self) -> impl Iterator<Item = &Entry<K>> {
        self.entries.values()
    }

    fn describe(&self, tag: &str) -> Option<Description> {
        self.entries.get(tag).map(|e| Description {
            kind: K::NAME,
            section: K::SECTION.to_string(),
            tag: e.tag.clone(),
            doc: e.doc.clone(),
            source: e.source.clone(),
            params: e.params.clone(),
        })
    }
}

/// The [`Description::kind`] of a manifest section (not a plugin: no `type` key).
pub const SECTION: &str = "manifest section";

/// The sections of a manifest that are not plugins, described from their own types.
pub fn section_descriptions() -> Vec<Description> {
    use crate::manifest::{CurriculumConfig, OmegaConfig, StageConfig, TrainingConfig};
    let section = |tag: &str, header: &str, doc: &str, params: Vec<ParamDoc>| Description {
        kind: SECTION,
        section: header.to_string(),
        tag: tag.to_string(),
        doc: doc.to_string(),
        source: format!("psychrnn-core {}", env!("CARGO_PKG_VERSION")),
        params,
    };
    vec![
        section(
            "training",
            "[training]",
            "options of the training loop (PsychRNN's train_params)",
            params_of::<TrainingConfig>(),
        ),
        section(
            "training.omega",
            "[training.omega]",
            "PyCog's vanishing-gradient regulariser Omega",
            params_of::<OmegaConfig>(),
        ),
        section(
            "curriculum",
            "[curriculum]",
            "closed-loop task shaping (PsychRNN's Curriculum): stages trained until their threshold is passed",
            params_of::<CurriculumConfig>(),
        ),
        section(
            "curriculum.stages",
            "[[curriculum.stages]]",
            "one curriculum stage: its task keys merged over [task], and the metric threshold that ends it",
            params_of::<StageConfig>(),
        ),
    ]
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
        let mut out =
            format!("# {} ({}): {}\n# from {}\n{}\n", self.tag, self.kind, self.doc, self.source, self.section);
        if self.kind != SECTION {
            out.push_str(&format!("type = \"{}\"\n", self.tag));
        }
        write_params(&mut out, &self.params, "");
        // Sub-tables after the section's own keys (TOML puts them there), as commented templates.
        let table = self.section.trim_matches(['[', ']']).to_string();
        write_sub_tables(&mut out, &self.params, &table);
        out
    }
}

/// The keys `params`, one line each: a default written out, the others commented; every line
/// prefixed by `prefix` (`"# "` inside a commented sub-table).
fn write_params(out: &mut String, params: &[ParamDoc], prefix: &str) {
    for p in params {
        let note = if p.doc.is_empty() { p.kind.clone() } else { format!("{}: {}", p.kind, p.doc) };
        match (&p.default, p.required) {
            (Some(d), _) => out.push_str(&format!("{prefix}{} = {d}  # {note}\n", p.name)),
            (None, true) => out.push_str(&format!("# {} = ...  # REQUIRED {note}\n", p.name)),
            (None, false) => out.push_str(&format!("# {} = ...  # optional {note}\n", p.name)),
        }
    }
}

/// The sub-tables of `params` under `table`: `# [[task.epoch]]` for an array of them, `#
/// [task.analysis]` for one, then their keys, recursively.
fn write_sub_tables(out: &mut String, params: &[ParamDoc], table: &str) {
    for p in params.iter().filter(|p| !p.fields.is_empty()) {
        let path = format!("{table}.{}", p.name);
        let header = if p.kind.starts_with("array") { format!("[[{path}]]") } else { format!("[{path}]") };
        out.push_str(&format!("\n# {header}  # {}\n", if p.doc.is_empty() { &p.kind } else { &p.doc }));
        write_params(out, &p.fields, "# ");
        write_sub_tables(out, &p.fields, &path);
    }
}

/// One catalogue per extension kind.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Tasks.
    pub tasks: Catalog<dyn Task>,
    /// Models.
    pub models: Catalog<dyn Model<f32>>,
    /// Weight initialisers.
    pub initializers: Catalog<dyn WeightInitializer>,
    /// Loss functions.
    pub losses: Catalog<dyn LossFunction<f32>>,
    /// Regularisers.
    pub regularizers: Catalog<dyn Regularizer<f32>>,
    /// Optimizers.
    pub optimizers: Catalog<dyn Optimizer>,
    /// Curriculum metrics.
    pub metrics: Catalog<dyn CurriculumMetric>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers plugin `P`, coming from `source` (e.g. `"my-lab-tasks 0.3"`).
    ///
    /// # Errors
    /// [`Error::DuplicateTag`] if its tag is taken in its kind.
    pub fn add<P: Plugin>(&mut self, source: &str) -> Result<()> {
        <P::Kind as Kind>::catalog(self).register(Entry::of::<P>(source, construct::<P>))
    }

    /// Descriptions of `tag` in every kind that has it (usually one), or of the manifest
    /// section of that name (`training`, `training.omega`, `curriculum`, `curriculum.stages`).
    pub fn describe(&self, tag: &str) -> Vec<Description> {
        if let Some(d) = section_descriptions().into_iter().find(|d| d.tag == tag) {
            return vec![d];
        }
        let mut found: Vec<Description> = [
            self.tasks.describe(tag),
            self.models.describe(tag),
            self.initializers.describe(tag),
            self.losses.describe(tag),
            self.regularizers.describe(tag),
            self.optimizers.describe(tag),
            self.metrics.describe(tag),
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
        fn rows<K: ?Sized + Kind>(c: &Catalog<K>) -> (&'static str, Vec<(&str, &str)>) {
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
    toml::Value::Table(table.clone()).try_into().map_err(|e: toml::de::Error| {
        Error::invalid(offending_key::<C>(table).unwrap_or_default(), e.message().to_string())
    })
}

/// The key (a dotted path within `table`) whose value `C` cannot take, for the error message:
/// a value's error does not say where it is, so the table is written as TOML and parsed again
/// from text, whose error points at the offending line.
fn offending_key<C: DeserializeOwned>(table: &toml::Table) -> Option<String> {
    let text = toml::to_string(table).ok()?;
    let span = toml::from_str::<C>(&text).err()?.span()?;
    let mut header = String::new();
    let mut key = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            header = trimmed.trim_matches(|c| c == '[' || c == ']').to_string();
            key = None;
        } else if let Some((k, _)) = trimmed.split_once('=') {
            key = Some(k.trim().trim_matches('"').to_string());
        }
        offset += line.len();
        if offset > span.start {
            break;
        }
    }
    let key = key?;
    Some(if header.is_empty() { key } else { format!("{header}.{key}") })
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
    #[derive(serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
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
        #[serde(default, skip_serializing_if = "Option::is_none")]
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

    /// An optimizer that does nothing, configured by [`Example`].
    struct Still;

    impl Optimizer for Still {
        fn update(&mut self, _: &str, _: &mut ndarray::Array2<f32>, _: &ndarray::Array2<f32>) {}
    }

    impl Plugin for Still {
        type Kind = dyn Optimizer;
        type Config = Example;
        const TAG: &'static str = "adam";
        const DOC: &'static str = "stands still";
        fn resolve(config: &mut Example, _: &BuildContext) -> Result<()> {
            config.n += 1;
            Ok(())
        }
        fn build(config: Example, (): (), _: &BuildContext) -> Result<Box<dyn Optimizer>> {
            if config.n > 10 {
                return Err(Error::invalid("n", "too big"));
            }
            Ok(Box::new(Still))
        }
    }

    #[test]
    fn a_plugin_type_parses_resolves_records_and_builds() {
        let mut r = Registry::new();
        r.add::<Still>("tests").unwrap();
        let entry = r.optimizers.get("optimizer.type", "adam").unwrap();
        assert_eq!((entry.doc.as_str(), entry.source.as_str()), ("stands still", "tests"));
        assert_eq!(entry.params.len(), 4);
        let table: toml::Table = toml::from_str("n = 2").unwrap();
        let built = (entry.ctor)(&table, (), &BuildContext::default()).unwrap();
        let expected: toml::Table = toml::from_str("type = \"adam\"\nn = 3\nf = \"relu\"\nrate = 0.5").unwrap();
        assert_eq!(built.config, expected, "the lock records the resolved config with its defaults");
        let too_big: toml::Table = toml::from_str("n = 10").unwrap();
        assert!((entry.ctor)(&too_big, (), &BuildContext::default()).is_err());
        let unknown: toml::Table = toml::from_str("m = 1").unwrap();
        let e = (entry.ctor)(&unknown, (), &BuildContext::default()).err().unwrap().to_string();
        assert!(e.contains("unknown field `m`"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named_by_its_key() {
        let table: toml::Table = toml::from_str("n = \"two\"").unwrap();
        let e = parse_config::<Example>(&table).err().unwrap().to_string();
        assert!(e.starts_with("n: invalid type: string \"two\""), "{e}");
        let nested: toml::Table = toml::from_str("[timing]\ndt = 10\nN_batch = -1").unwrap();
        #[derive(serde::Deserialize)]
        #[expect(dead_code, reason = "only parsed")]
        struct Outer {
            timing: Inner,
        }
        #[derive(serde::Deserialize)]
        #[expect(dead_code, reason = "only parsed")]
        struct Inner {
            dt: f64,
            #[serde(rename = "N_batch")]
            n_batch: usize,
        }
        let e = parse_config::<Outer>(&nested).err().unwrap().to_string();
        assert!(e.starts_with("timing.N_batch: invalid value"), "{e}");
    }

    #[test]
    fn duplicates_and_unknown_tags_are_reported() {
        let mut r = Registry::new();
        let e = |src: &str| Entry::of::<Still>(src, construct::<Still>);
        r.optimizers.register(e("crate a")).unwrap();
        let dup = r.optimizers.register(e("lib.so")).unwrap_err().to_string();
        assert_eq!(dup, "duplicate optimizer type `adam`: registered by crate a and by lib.so");
        let unknown = r.optimizers.get("optimizer.type", "adma").err().unwrap().to_string();
        assert_eq!(unknown, "optimizer.type: unknown optimizer type `adma`; known optimizer types: adam");
    }
}
