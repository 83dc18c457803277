//! A validated experiment: a manifest whose plugin sections were resolved in a registry.
//!
//! Validation happens once, here; everything downstream trusts the [`Experiment`].

use psychrnn_core::error::{Error, Result};
use psychrnn_core::init::WeightInitializer;
use psychrnn_core::loss::LossFunction;
use psychrnn_core::manifest::{CurriculumConfig, LockInfo, LockedPlugin, Manifest, TrainingConfig};
use psychrnn_core::metric::CurriculumMetric;
use psychrnn_core::model::{Model, ModelContext};
use psychrnn_core::optim::Optimizer;
use psychrnn_core::params::ParamSet;
use std::path::Path;

use psychrnn_core::plugin::PluginFailures;
use psychrnn_core::registry::{BuildContext, Built, Catalog, Ctor, Entry, Kind, Registry, parse_config};
use psychrnn_core::regularizer::Regularizer;
use psychrnn_core::task::{Task, TaskTiming};

/// Initialiser used when a manifest has no `[initializer]` (PsychRNN's default).
pub const DEFAULT_INITIALIZER: &str = "gaussian_spectral_radius";
/// Loss used when a manifest has no `[loss]`.
pub const DEFAULT_LOSS: &str = "mean_squared_error";
/// Optimizer used when a manifest has no `[optimizer]`.
pub const DEFAULT_OPTIMIZER: &str = "adam";
/// Metric used when a manifest has no `[metric]` (PsychRNN's `default_metric`).
pub const DEFAULT_METRIC: &str = "accuracy";

/// The tag of `[metric]`'s type (the default metric's where the manifest has none).
fn metric_tag(metric: &toml::Table) -> String {
    metric.get("type").and_then(|t| t.as_str()).unwrap_or(DEFAULT_METRIC).to_string()
}

/// One curriculum stage, built.
pub struct Stage {
    /// The stage's task.
    pub task: Box<dyn Task>,
    /// Its resolved configuration (with `type` and the timing keys).
    pub config: toml::Table,
    /// The metric value that ends the stage.
    pub threshold: f64,
}

/// The resolved configuration of each plugin section (every default filled in, with its
/// `type`), as the registry's constructors returned them: what the lock records.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvedConfigs {
    /// `[task]`, with the timing keys.
    pub task: toml::Table,
    /// `[model]`.
    pub model: toml::Table,
    /// `[initializer]`.
    pub initializer: toml::Table,
    /// `[loss]`.
    pub loss: toml::Table,
    /// `[[regularizers]]`, in order.
    pub regularizers: Vec<toml::Table>,
    /// `[optimizer]`.
    pub optimizer: toml::Table,
    /// `[metric]`.
    pub metric: toml::Table,
}

/// Everything a run needs, built and checked.
pub struct Experiment {
    /// Run name.
    pub name: String,
    /// Master seed.
    pub seed: u64,
    /// The task.
    pub task: Box<dyn Task>,
    /// The network.
    pub model: Box<dyn Model<f32>>,
    /// The initialiser.
    pub initializer: Box<dyn WeightInitializer>,
    /// The loss.
    pub loss: Box<dyn LossFunction<f32>>,
    /// The regularisers.
    pub regularizers: Vec<Box<dyn Regularizer<f32>>>,
    /// The optimizer as configured: each [`Trainer`](crate::Trainer) builds its own from it
    /// ([`Experiment::new_optimizer`]), so an experiment can be trained again or shared.
    optimizer: OptimizerRecipe,
    /// Training options.
    pub training: TrainingConfig,
    /// Freeze masks by raw parameter name (1 = frozen), checked against the model's shapes.
    pub fixed_weights: ParamSet<f32>,
    /// The plugins used, for the lock.
    pub plugins: Vec<LockedPlugin>,
    /// The metric of the curriculum and of `performance_cutoff`.
    pub metric: Box<dyn CurriculumMetric>,
    /// Curriculum stages (empty without a curriculum).
    pub stages: Vec<Stage>,
    /// The curriculum as configured.
    pub curriculum: Option<CurriculumConfig>,
    /// Warnings the plugins left while building (e.g. entries of a weight file not used).
    pub warnings: Vec<String>,
    /// Command-line overrides applied to the manifest (recorded in the lock).
    pub overrides: Vec<String>,
    /// Plugin libraries the manifest loads (absolute paths, recorded in the lock).
    pub plugin_paths: Vec<std::path::PathBuf>,
    /// The resolved configuration of every plugin section.
    pub configs: ResolvedConfigs,
    /// Where the objects of dynamically loaded plugins report caught panics.
    failures: PluginFailures,
}

/// How to build a fresh optimizer: its constructor, its table, and the directory relative paths
/// start from.
struct OptimizerRecipe {
    ctor: Ctor<dyn Optimizer>,
    table: toml::Table,
    base_dir: std::path::PathBuf,
}

/// A small experiment (PsychRNN's perceptual discrimination, 16 units, 20 updates of 16
/// trials) for documentation examples and quick checks.
pub const EXAMPLE: &str = r#"
name = "example"
seed = 1
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 500
N_batch = 16
[model]
type = "basic_rnn"
N_rec = 16
dale_ratio = 0.8
[training]
training_iters = 320
verbosity = false
test_batch_size = 16
"#;

/// Splits `type` off a plugin table.
fn split_tag(section: &str, table: &toml::Table) -> Result<(String, toml::Table)> {
    let mut rest = table.clone();
    match rest.remove("type") {
        Some(toml::Value::String(tag)) => Ok((tag, rest)),
        Some(other) => Err(Error::invalid(format!("{section}.type"), format!("must be a string, got {other}"))),
        None => Err(Error::invalid(format!("{section}.type"), "missing: say which plugin to use, e.g. type = \"...\"")),
    }
}

/// Looks up the entry of a plugin section and records it for the lock.
fn lookup<'r, K: ?Sized + Kind>(
    catalog: &'r Catalog<K>,
    section: &str,
    table: &toml::Table,
    plugins: &mut Vec<LockedPlugin>,
) -> Result<(&'r Entry<K>, toml::Table)> {
    let (tag, rest) = split_tag(section, table)?;
    let entry = catalog.get(&format!("{section}.type"), &tag)?;
    plugins.push(LockedPlugin { kind: catalog.kind().into(), tag, source: entry.source.clone() });
    Ok((entry, rest))
}

/// The task of curriculum stage `stage` (the last stage after completion; `task` without stages).
pub(crate) fn stage_task<'a>(task: &'a dyn Task, stages: &'a [Stage], stage: usize) -> &'a dyn Task {
    match stages.get(stage.min(stages.len().saturating_sub(1))) {
        Some(s) => s.task.as_ref(),
        None => task,
    }
}

/// Builds the task of a `[task]` table (its `type`, the timing keys and the task's own keys);
/// `section` names the table in errors. The resolved configuration includes the timing keys.
fn build_task(
    table: &toml::Table,
    section: &str,
    registry: &Registry,
    build: &BuildContext,
    plugins: &mut Vec<LockedPlugin>,
) -> Result<Built<dyn Task>> {
    let (entry, mut rest) = lookup(&registry.tasks, section, table, plugins)?;
    let mut timing_table = toml::Table::new();
    for (i, key) in TaskTiming::KEYS.into_iter().enumerate() {
        match rest.remove(key) {
            Some(value) => {
                timing_table.insert(key.into(), value);
            }
            None if i < 4 => {
                return Err(Error::invalid(
                    format!("{section}.{key}"),
                    "missing (every task needs dt, tau, T and N_batch)",
                ));
            }
            None => {}
        }
    }
    let timing: TaskTiming = parse_config(&timing_table).map_err(|e| e.in_section(section))?;
    timing.validate().map_err(|e| e.in_section(section))?;
    if timing.alpha() > 1.0 {
        build.warn(format!(
            "{section}.tau = {} is shorter than dt = {}: alpha = dt / tau = {:.3} > 1 overshoots every step (the discretisation is unstable); tau should be several dt",
            timing.tau,
            timing.dt,
            timing.alpha()
        ));
    }
    let mut built = (entry.ctor)(&rest, &timing, build).map_err(|e| e.in_section(section))?;
    if let Ok(timing) = toml::Table::try_from(&timing) {
        built.config.extend(timing);
    }
    Ok(built)
}

/// Builds a task alone from a `[task]` table (e.g. to simulate saved weights on it); relative
/// paths start at `base_dir`. Returns the task and the warnings its constructor left.
///
/// # Errors
/// As for the task of [`Experiment::from_manifest`].
pub fn task_from_table(
    table: &toml::Table,
    registry: &Registry,
    base_dir: &Path,
) -> Result<(Box<dyn Task>, Vec<String>)> {
    let build = BuildContext::new(base_dir);
    let task = build_task(table, "task", registry, &build, &mut Vec::new())?;
    Ok((task.object, build.take_warnings()))
}

fn default_table(tag: &str) -> toml::Table {
    let mut t = toml::Table::new();
    t.insert("type".into(), toml::Value::String(tag.into()));
    t
}

impl Experiment {
    /// The tag of the experiment's metric (e.g. `accuracy`, `rmse`).
    pub fn metric_name(&self) -> String {
        metric_tag(&self.configs.metric)
    }

    /// Resolves and validates `manifest`; `default_name` names the run if the manifest does
    /// not, and relative paths in it start at `base_dir` (the manifest's directory).
    ///
    /// # Errors
    /// The first problem found, naming its manifest field: an unknown tag, an invalid value, a
    /// shape mismatch.
    pub fn from_manifest(
        manifest: &Manifest,
        registry: &Registry,
        default_name: &str,
        base_dir: &Path,
    ) -> Result<Self> {
        let failures = PluginFailures::default();
        let build = BuildContext::new(base_dir).with_failures(failures.clone());
        let mut plugins = Vec::new();

        let Built { object: task, config: task_config } =
            build_task(&manifest.task, "task", registry, &build, &mut plugins)?;
        let timing = task.timing().clone();

        let (model_entry, model_table) = lookup(&registry.models, "model", &manifest.model, &mut plugins)?;
        // Before the model allocates anything: would the run fit? (Models without `N_rec` are
        // not estimated.)
        if let (Some(n_rec), Some(available)) = (
            model_table.get("N_rec").and_then(toml::Value::as_integer).and_then(|n| usize::try_from(n).ok()),
            crate::memory::available_bytes(),
        ) {
            let size = crate::memory::RunSize {
                n_rec,
                n_in: task.n_in(),
                n_out: task.n_out(),
                n_steps: timing.n_steps(),
                n_batch: timing.n_batch,
                test_batch: manifest.training.test_batch_size,
                validation_batch: if manifest.training.performance_cutoff.is_some() || manifest.curriculum.is_some() {
                    manifest.training.validation_batch_size.unwrap_or(timing.n_batch)
                } else {
                    0
                },
                test_states_mb: manifest.training.test_states_mb,
            };
            size.check_fits(available)?;
        }
        let ctx = ModelContext {
            n_in: task.n_in(),
            n_out: task.n_out(),
            alpha: timing.alpha(),
            dt: timing.dt,
            n_batch: timing.n_batch,
        };
        let Built { object: model, config: model_config } =
            (model_entry.ctor)(&model_table, &ctx, &build).map_err(|e| e.in_section("model"))?;

        let init_table = manifest.initializer.clone().unwrap_or_else(|| default_table(DEFAULT_INITIALIZER));
        let (entry, table) = lookup(&registry.initializers, "initializer", &init_table, &mut plugins)?;
        let Built { object: initializer, config: initializer_config } =
            (entry.ctor)(&table, (), &build).map_err(|e| e.in_section("initializer"))?;

        let loss_table = manifest.loss.clone().unwrap_or_else(|| default_table(DEFAULT_LOSS));
        let (entry, table) = lookup(&registry.losses, "loss", &loss_table, &mut plugins)?;
        let Built { object: loss, config: loss_config } =
            (entry.ctor)(&table, (), &build).map_err(|e| e.in_section("loss"))?;

        let effective = model.effective_weights(&ParamSet::zeros(model.param_specs()))?;
        let effective_names: Vec<&str> = effective.iter().map(|(n, _)| n).collect();
        let (mut regularizers, mut regularizer_configs) = (Vec::new(), Vec::new());
        for (i, reg_table) in manifest.regularizers.iter().enumerate() {
            let section = format!("regularizers[{i}]");
            let (entry, table) = lookup(&registry.regularizers, &section, reg_table, &mut plugins)?;
            let reg = (entry.ctor)(&table, (), &build).map_err(|e| e.in_section(&section))?;
            reg.object.check(&effective_names).map_err(|e| e.in_section(&section))?;
            regularizers.push(reg.object);
            regularizer_configs.push(reg.config);
        }

        let opt_table = manifest.optimizer.clone().unwrap_or_else(|| default_table(DEFAULT_OPTIMIZER));
        let (entry, table) = lookup(&registry.optimizers, "optimizer", &opt_table, &mut plugins)?;
        let optimizer_config = (entry.ctor)(&table, (), &build).map_err(|e| e.in_section("optimizer"))?.config;
        let optimizer = OptimizerRecipe { ctor: entry.ctor, table, base_dir: base_dir.to_path_buf() };

        let metric_table = manifest.metric.clone().unwrap_or_else(|| default_table(DEFAULT_METRIC));
        let (entry, table) = lookup(&registry.metrics, "metric", &metric_table, &mut plugins)?;
        let Built { object: metric, config: metric_config } =
            (entry.ctor)(&table, (), &build).map_err(|e| e.in_section("metric"))?;

        let mut stages = Vec::new();
        if let Some(c) = &manifest.curriculum {
            if c.stages.is_empty() {
                return Err(Error::invalid("curriculum.stages", "a curriculum needs at least one stage"));
            }
            if c.metric_epoch == 0 {
                return Err(Error::invalid("curriculum.metric_epoch", "must be at least 1, got 0"));
            }
            for (i, stage) in c.stages.iter().enumerate() {
                let section = format!("curriculum.stages[{i}].task");
                let mut table = manifest.task.clone();
                table.extend(stage.task.clone());
                let Built { object: stage_task, config } =
                    build_task(&table, &section, registry, &build, &mut plugins)?;
                if (stage_task.n_in(), stage_task.n_out()) != (task.n_in(), task.n_out()) {
                    return Err(Error::invalid(
                        section,
                        format!(
                            "has {} inputs and {} outputs; the network was built for {} and {}",
                            stage_task.n_in(),
                            stage_task.n_out(),
                            task.n_in(),
                            task.n_out()
                        ),
                    ));
                }
                if !stage.threshold.is_finite() {
                    return Err(Error::invalid(format!("curriculum.stages[{i}].threshold"), "must be finite"));
                }
                stages.push(Stage { task: stage_task, config, threshold: stage.threshold });
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        plugins.retain(|p| seen.insert((p.kind.clone(), p.tag.clone())));

        manifest.training.validate()?;
        if let Some(c) = manifest.training.performance_cutoff
            && !c.is_finite()
        {
            return Err(Error::invalid("training.performance_cutoff", format!("must be finite, got {c}")));
        }
        if manifest.training.n_updates(timing.n_batch) == 0 {
            return Err(Error::invalid(
                "training.training_iters",
                format!(
                    "{} trials give no update at N_batch = {}; it must be at least 1",
                    manifest.training.training_iters, timing.n_batch
                ),
            ));
        }
        let mut training = manifest.training.clone();
        for spec in training.fixed_weights.values_mut() {
            spec.make_paths_absolute(&build);
        }
        let mut fixed_weights = ParamSet::new();
        for (name, spec) in &training.fixed_weights {
            let field = format!("training.fixed_weights.{name}");
            let p = model.param_specs().iter().find(|p| &p.name == name).ok_or_else(|| {
                let known: Vec<&str> = model.param_specs().iter().map(|p| p.name.as_str()).collect();
                Error::invalid(
                    &field,
                    format!("the model has no parameter `{name}`; its parameters are {}", known.join(", ")),
                )
            })?;
            fixed_weights.insert(name.clone(), spec.resolve_mask(&field, p.rows, p.cols, &p.name)?);
        }

        if let Some(name) = &manifest.name {
            check_run_name(name)?;
        }
        Ok(Experiment {
            name: manifest.name.clone().unwrap_or_else(|| default_name.to_string()),
            seed: manifest.seed,
            task,
            model,
            initializer,
            loss,
            regularizers,
            optimizer,
            training,
            fixed_weights,
            plugins,
            metric,
            stages,
            curriculum: manifest.curriculum.clone(),
            warnings: build.take_warnings(),
            overrides: manifest.lock.as_ref().map(|l| l.overrides.clone()).unwrap_or_default(),
            plugin_paths: manifest.plugin_paths(base_dir),
            configs: ResolvedConfigs {
                task: task_config,
                model: model_config,
                initializer: initializer_config,
                loss: loss_config,
                regularizers: regularizer_configs,
                optimizer: optimizer_config,
                metric: metric_config,
            },
            failures,
        })
    }

    /// A fresh optimizer (no state) as the manifest configures it; each training run builds its
    /// own.
    ///
    /// # Errors
    /// If the optimizer's constructor fails (it did not when the experiment was built).
    pub fn new_optimizer(&self) -> Result<Box<dyn Optimizer>> {
        let build = BuildContext::new(&self.optimizer.base_dir).with_failures(self.failures.clone());
        Ok((self.optimizer.ctor)(&self.optimizer.table, (), &build).map_err(|e| e.in_section("optimizer"))?.object)
    }

    /// Parses and resolves a manifest given as TOML text: the run is named `run` unless the
    /// manifest names it, and relative paths start at the current directory.
    ///
    /// # Errors
    /// As [`Manifest::parse`] and [`Experiment::from_manifest`].
    ///
    /// # Example
    /// ```
    /// use psychrnn_train::Experiment;
    /// let registry = psychrnn_plugins::registry()?;
    /// let exp = Experiment::from_toml(psychrnn_train::experiment::EXAMPLE, &registry)?;
    /// assert_eq!((exp.name.as_str(), exp.model.n_rec(), exp.task.n_in()), ("example", 16, 2));
    /// // From a file: Experiment::load(path, &registry); from a parsed value (e.g. edited in
    /// // code): Experiment::from_manifest(&manifest, &registry, name, base_dir).
    /// let manifest = psychrnn_core::Manifest::parse(psychrnn_train::experiment::EXAMPLE, "x.toml".as_ref())?;
    /// assert_eq!(Experiment::from_manifest(&manifest, &registry, "x", ".".as_ref())?.seed, 1);
    /// # Ok::<(), psychrnn_core::Error>(())
    /// ```
    pub fn from_toml(text: &str, registry: &Registry) -> Result<Self> {
        let manifest = Manifest::parse(text, Path::new("manifest.toml"))?;
        Self::from_manifest(&manifest, registry, "run", Path::new("."))
    }

    /// The first panic caught inside a dynamically loaded plugin's code since the last check
    /// (in any object this experiment built, including the optimizers of its trainers), as an
    /// error naming the plugin (see [`psychrnn_core::plugin`]).
    pub fn plugin_failure(&self) -> Option<Error> {
        self.failures.take()
    }

    /// The task trained at curriculum stage `stage` (the last stage after completion); the
    /// manifest's task without a curriculum.
    pub fn stage_task(&self, stage: usize) -> &dyn Task {
        stage_task(self.task.as_ref(), &self.stages, stage)
    }

    /// Differences between the plugins and version recorded in a lock and those of this build:
    /// one line per difference (empty when they match).
    pub fn lock_mismatches(&self, lock: &LockInfo) -> Vec<String> {
        let mut out = Vec::new();
        if lock.psychrnn_version != psychrnn_core::VERSION {
            out.push(format!(
                "psychrnn version: the lock has {}, this is {}",
                lock.psychrnn_version,
                psychrnn_core::VERSION
            ));
        }
        for locked in &lock.plugins {
            match self.plugins.iter().find(|p| p.kind == locked.kind && p.tag == locked.tag) {
                Some(p) if p.source != locked.source => out.push(format!(
                    "{} `{}`: the lock used {}, this build has {}",
                    locked.kind, locked.tag, locked.source, p.source
                )),
                Some(_) => {}
                None => out.push(format!("{} `{}`: in the lock but not used now", locked.kind, locked.tag)),
            }
        }
        out
    }

    /// Reads the manifest at `path` and resolves it: the run is named after the file stem unless
    /// the manifest names it, and relative paths start at the manifest's directory.
    ///
    /// # Errors
    /// As [`Manifest::load`] and [`Experiment::from_manifest`].
    pub fn load(path: &Path, registry: &Registry) -> Result<Self> {
        Self::load_with_overrides(path, registry, &[])
    }

    /// As [`Experiment::load`], with command-line overrides (`key.path=value`) applied to the
    /// manifest first; the lock records them.
    ///
    /// # Errors
    /// As [`Manifest::load_with_overrides`] and [`Experiment::from_manifest`].
    pub fn load_with_overrides(path: &Path, registry: &Registry, overrides: &[String]) -> Result<Self> {
        Self::load_with(path, overrides, &[], &|_| Ok(registry.clone()))
    }

    /// The general form of [`Experiment::load`]: applies `overrides`, then asks `make_registry`
    /// for a registry holding the plugin libraries the manifest's `[plugins]` names (made
    /// absolute) plus `extra_plugins`, and resolves the manifest in it. The lock records the
    /// overrides and the libraries.
    ///
    /// # Errors
    /// As [`Manifest::load_with_overrides`], `make_registry` and [`Experiment::from_manifest`].
    pub fn load_with(
        path: &Path,
        overrides: &[String],
        extra_plugins: &[std::path::PathBuf],
        make_registry: &dyn Fn(&[std::path::PathBuf]) -> Result<Registry>,
    ) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Self::load_text_with(&text, path, overrides, extra_plugins, make_registry)
    }

    /// [`Experiment::load_with`] on manifest text that is not in a file (a front-end's string or
    /// dictionary), resolved as if it were the file `path`: named after its stem unless the
    /// manifest names itself, relative paths starting at its directory, `path` in error messages.
    ///
    /// # Errors
    /// As [`Experiment::load_with`].
    pub fn load_text_with(
        text: &str,
        path: &Path,
        overrides: &[String],
        extra_plugins: &[std::path::PathBuf],
        make_registry: &dyn Fn(&[std::path::PathBuf]) -> Result<Registry>,
    ) -> Result<Self> {
        let manifest = Manifest::parse_with_overrides(text, path, overrides)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
        let dir = path.parent().unwrap_or(Path::new("."));
        let plugin_paths = manifest.plugin_paths_with(dir, extra_plugins);
        let registry = make_registry(&plugin_paths)?;
        let mut exp = Self::from_manifest(&manifest, &registry, stem, dir)?;
        exp.overrides.extend(overrides.iter().cloned());
        exp.plugin_paths = plugin_paths;
        Ok(exp)
    }

    /// The fully resolved manifest (every default written out, plus versions and plugin sources):
    /// the content of `manifest.lock.toml`. Training it again reproduces the run.
    pub fn lock_manifest(&self) -> Manifest {
        let c = &self.configs;
        Manifest {
            name: Some(self.name.clone()),
            seed: self.seed,
            preset: None,
            task: c.task.clone(),
            model: c.model.clone(),
            initializer: Some(c.initializer.clone()),
            loss: Some(c.loss.clone()),
            regularizers: c.regularizers.clone(),
            optimizer: Some(c.optimizer.clone()),
            training: self.training.clone(),
            metric: Some(c.metric.clone()),
            curriculum: self.curriculum.clone(),
            plugins: (!self.plugin_paths.is_empty())
                .then(|| psychrnn_core::manifest::PluginsConfig { paths: self.plugin_paths.clone() }),
            lock: Some(LockInfo {
                psychrnn_version: psychrnn_core::VERSION.to_string(),
                plugins: self.plugins.clone(),
                overrides: self.overrides.clone(),
            }),
        }
    }

    /// [`Experiment::lock_manifest`] as written into the directory `dir`: its plugin libraries'
    /// paths relative to `dir` (where a manifest's relative paths start), so a run directory
    /// moved together with its libraries (a project copied whole, or a cluster's other mount
    /// point) still loads them; the lock's plugin records (file name and SHA-256) check that
    /// they are the same files.
    pub fn lock_manifest_in(&self, dir: &Path) -> Manifest {
        let mut lock = self.lock_manifest();
        if let Some(plugins) = lock.plugins.as_mut() {
            plugins.paths = plugins.paths.iter().map(|p| relative_to(p, dir)).collect();
        }
        lock
    }
}

/// `target` as a path relative to the directory `from` (both made absolute first): `../lib/x.so`
/// rather than `/home/lab/project/lib/x.so`, so that a lock keeps working when the project is
/// moved or copied whole. `target` itself when they share no root.
fn relative_to(target: &Path, from: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let (Ok(target_abs), Ok(from_abs)) = (std::path::absolute(target), std::path::absolute(from)) else {
        return target.to_path_buf();
    };
    fn normal(p: &Path) -> Vec<Component<'_>> {
        p.components().filter(|c| *c != Component::CurDir).collect()
    }
    let (t, f) = (normal(&target_abs), normal(&from_abs));
    if t.first() != f.first() || t.iter().chain(&f).any(|c| *c == Component::ParentDir) {
        return target_abs;
    }
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

/// `name` names the default run directory `runs/<name>`, so it must be one plain path component.
fn check_run_name(name: &str) -> Result<()> {
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control);
    if plain {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            format!(
                "{name:?} must be a plain, non-empty file name (no '/' or '\\', not '.' or '..'); the run goes to runs/<name> (use --out for another place)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_paths_are_made_relative_to_the_run_directory() {
        fn p(s: &str) -> &Path {
            Path::new(s)
        }
        assert_eq!(relative_to(p("/a/b/lib.so"), p("/a/runs/x")), p("../../b/lib.so"));
        assert_eq!(relative_to(p("/a/runs/x/lib.so"), p("/a/runs/x")), p("lib.so"));
        assert_eq!(relative_to(p("/a/b/../lib.so"), p("/a/runs")), p("/a/b/../lib.so"));
        let here = std::env::current_dir().unwrap();
        assert_eq!(relative_to(&here.join("target/lib.so"), p("runs/x")), p("../../target/lib.so"));
    }

    #[test]
    fn a_run_name_must_be_one_plain_path_component() {
        let registry = psychrnn_plugins::registry().unwrap();
        for bad in ["", ".", "..", "../x", "/abs/dir", "a/b", "a\\b"] {
            let text = format!(
                "name = {bad:?}\n{}",
                EXAMPLE.lines().filter(|l| !l.starts_with("name")).collect::<Vec<_>>().join("\n")
            );
            let Err(err) = Experiment::from_toml(&text, &registry) else { panic!("{bad:?} was accepted") };
            let err = err.to_string();
            assert!(err.contains("name") && err.contains("plain, non-empty file name"), "{bad:?}: {err}");
        }
        let text = format!(
            "name = \"seed-3_run.v2\"\n{}",
            EXAMPLE.lines().filter(|l| !l.starts_with("name")).collect::<Vec<_>>().join("\n")
        );
        assert_eq!(Experiment::from_toml(&text, &registry).map(|e| e.name).ok().as_deref(), Some("seed-3_run.v2"));
    }

    #[test]
    fn settings_that_are_almost_surely_mistakes_warn_naming_the_field() {
        let registry = psychrnn_plugins::registry().unwrap();
        let warnings = |text: &str| Experiment::from_toml(text, &registry).map(|e| e.warnings).ok().unwrap_or_default();
        assert!(warnings(EXAMPLE).is_empty(), "{:?}", warnings(EXAMPLE));
        let fast = warnings(&EXAMPLE.replace("tau = 100", "tau = 5"));
        assert!(fast.iter().any(|w| w.starts_with("task.tau = 5 is shorter than dt = 10")), "{fast:?}");
        let no_exc = warnings(&EXAMPLE.replace("dale_ratio = 0.8", "dale_ratio = 0.01"));
        assert!(
            no_exc.iter().any(|w| w.starts_with("model.dale_ratio = 0.01 gives no excitatory units")),
            "{no_exc:?}"
        );
        let no_rec = warnings(
            &EXAMPLE.replace("dale_ratio = 0.8", "dale_ratio = 0.8\nrec_connectivity = { fill = 0.0, blocks = [] }"),
        );
        assert!(no_rec.iter().any(|w| w.starts_with("model.rec_connectivity allows no connection")), "{no_rec:?}");
    }
}
