//! Dynamically loaded plugins: what a lab's `.so` exports, and the guards that keep its panics
//! on its own side of the boundary.
//!
//! A plugin crate depends on `psychrnn-core` alone, is built as a `cdylib` with the same
//! compiler and psychrnn-core version as the host, and ends with
//! [`declare_plugin!`](crate::declare_plugin)`(register)`, where `register(&mut dyn Registrar)`
//! adds its entries with [`plugin_entry!`](crate::plugin_entry). The host (feature `dylib`,
//! [`crate::plugin::load`]) checks the exported [`PluginDeclaration`] — magic number, ABI
//! version, rustc version, psychrnn-core version, compared as C strings before any Rust-ABI
//! field is trusted — then calls `register`, and never unloads the library.
//!
//! Why the guards: each `.so` carries its own copy of the Rust standard library, and a panic
//! unwinding from plugin code into the host aborts the process (the host cannot catch a
//! "foreign" panic). So every constructor and every method of a plugin object runs under
//! `catch_unwind` *compiled into the plugin*: constructors and `Result` methods turn a panic
//! into [`Error::Plugin`]; other methods return a neutral value and report the panic through
//! the traits' `failure()` method, which the trainer checks after every step.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use ndarray::{Array2, ArrayView3, ArrayViewMut3};

use crate::error::{Error, Result};
use crate::metric::CurriculumMetric;
use crate::optim::{Optimizer, OptimizerState};
use crate::registry::{
    Entry, InitializerCtor, LossCtor, MetricCtor, ModelCtor, OptimizerCtor, RegularizerCtor, TaskCtor,
};
use crate::regularizer::{Regularizer, RegularizerGrads, RegularizerInput};
use crate::rng::{Noise, Rng};
use crate::task::{Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use crate::{LossFunction, WeightInitializer};

/// First field of every declaration ("PSRN").
pub const PLUGIN_MAGIC: u32 = 0x5053_524E;
/// Version of the plugin interface (the declaration, the registrar, the guarded traits).
pub const PLUGIN_ABI_VERSION: u32 = 2;
/// This build's compiler, NUL-terminated.
pub const RUSTC_VERSION: &str = concat!(env!("PSYCHRNN_RUSTC_VERSION"), "\0");
/// This psychrnn-core's version, NUL-terminated.
pub const CORE_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// What a plugin library exports under the symbol `psychrnn_plugin_declaration`.
#[repr(C)]
pub struct PluginDeclaration {
    /// [`PLUGIN_MAGIC`].
    pub magic: u32,
    /// [`PLUGIN_ABI_VERSION`] of the plugin's build.
    pub abi_version: u32,
    /// The plugin's rustc version (NUL-terminated).
    pub rustc_version: *const c_char,
    /// The plugin's psychrnn-core version (NUL-terminated).
    pub core_version: *const c_char,
    /// Adds the plugin's entries; a panic inside is caught on the plugin's side.
    pub register: fn(&mut dyn Registrar) -> std::result::Result<(), String>,
}

// SAFETY: the declaration is an immutable static; its pointers point to string literals.
#[allow(unsafe_code)]
unsafe impl Sync for PluginDeclaration {}

/// Where a plugin's `register` function adds its entries (the host fills in each entry's
/// `source` with the library's path and SHA-256).
pub trait Registrar {
    /// Adds a task.
    fn task(&mut self, entry: Entry<TaskCtor>);
    /// Adds a model.
    fn model(&mut self, entry: Entry<ModelCtor>);
    /// Adds a weight initialiser.
    fn initializer(&mut self, entry: Entry<InitializerCtor>);
    /// Adds a loss.
    fn loss(&mut self, entry: Entry<LossCtor>);
    /// Adds a regulariser.
    fn regularizer(&mut self, entry: Entry<RegularizerCtor>);
    /// Adds an optimizer.
    fn optimizer(&mut self, entry: Entry<OptimizerCtor>);
    /// Adds a curriculum metric.
    fn metric(&mut self, entry: Entry<MetricCtor>);
}

/// The text of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `f`, turning a panic into [`Error::Plugin`] named `what`. Used by the code that
/// [`plugin_entry!`](crate::plugin_entry) generates inside a plugin.
///
/// # Errors
/// The error of `f`, or the panic.
pub fn catch<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        Err(Error::Plugin {
            source_name: what.to_string(),
            message: format!("panicked: {}", panic_message(p.as_ref())),
        })
    })
}

/// The failure slot of a guard: the first caught panic, until `failure()` takes it.
#[derive(Default)]
struct Slot(Mutex<Option<String>>);

impl Slot {
    fn run<T>(&self, what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
            if let Ok(mut slot) = self.0.lock() {
                slot.get_or_insert_with(|| format!("{what} panicked: {}", panic_message(p.as_ref())));
            }
            fallback
        })
    }

    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// A plugin task whose methods cannot unwind into the host.
pub struct GuardedTask {
    inner: Box<dyn Task>,
    config: toml::Table,
    timing: TaskTiming,
    sizes: (usize, usize),
    slot: Slot,
}

impl GuardedTask {
    /// Wraps `inner`, reading its fixed properties once.
    ///
    /// # Errors
    /// If reading them panics.
    pub fn new(inner: Box<dyn Task>) -> Result<Self> {
        let (config, timing, sizes) =
            catch("task", || Ok((inner.config(), inner.timing().clone(), (inner.n_in(), inner.n_out()))))?;
        Ok(GuardedTask { inner, config, timing, sizes, slot: Slot::default() })
    }
}

impl Task for GuardedTask {
    fn config(&self) -> toml::Table {
        self.config.clone()
    }
    fn timing(&self) -> &TaskTiming {
        &self.timing
    }
    fn n_in(&self) -> usize {
        self.sizes.0
    }
    fn n_out(&self) -> usize {
        self.sizes.1
    }
    fn generate_trial(&self, rng: &mut Rng, trial: TrialMut<'_>) -> TrialParams {
        self.slot.run("generate_trial", TrialParams::new(), || self.inner.generate_trial(rng, trial))
    }
    fn accuracy(&self, batch: &TrialBatch, outputs: ndarray::ArrayView3<'_, f32>) -> f64 {
        self.slot.run("accuracy", f64::NAN, || self.inner.accuracy(batch, outputs))
    }
    fn failure(&self) -> Option<String> {
        self.slot.take()
    }
}

/// A plugin model whose methods cannot unwind into the host.
pub struct GuardedModel {
    inner: Box<dyn crate::Model<f32>>,
    config: toml::Table,
    n_rec: usize,
    specs: Vec<crate::ParamSpec>,
    dale_ratio: Option<f64>,
}

impl GuardedModel {
    /// Wraps `inner`, reading its fixed properties once.
    ///
    /// # Errors
    /// If reading them panics.
    pub fn new(inner: Box<dyn crate::Model<f32>>) -> Result<Self> {
        let (config, n_rec, specs, dale_ratio) =
            catch("model", || Ok((inner.config(), inner.n_rec(), inner.param_specs().to_vec(), inner.dale_ratio())))?;
        Ok(GuardedModel { inner, config, n_rec, specs, dale_ratio })
    }
}

impl crate::Model<f32> for GuardedModel {
    fn config(&self) -> toml::Table {
        self.config.clone()
    }
    fn n_rec(&self) -> usize {
        self.n_rec
    }
    fn param_specs(&self) -> &[crate::ParamSpec] {
        &self.specs
    }
    fn dale_ratio(&self) -> Option<f64> {
        self.dale_ratio
    }
    fn effective_weights(&self, params: &crate::ParamSet<f32>) -> Result<crate::ParamSet<f32>> {
        catch("effective_weights", || self.inner.effective_weights(params))
    }
    fn forward(
        &self,
        params: &crate::ParamSet<f32>,
        inputs: ArrayView3<'_, f32>,
        noise: Option<&mut Noise>,
        traj: &mut crate::Trajectory<f32>,
    ) -> Result<()> {
        catch("forward", || self.inner.forward(params, inputs, noise, traj))
    }
    fn backward(
        &self,
        params: &crate::ParamSet<f32>,
        inputs: ArrayView3<'_, f32>,
        traj: &crate::Trajectory<f32>,
        seeds: crate::BackwardSeeds<'_, f32>,
        grads: &mut crate::ParamSet<f32>,
    ) -> Result<()> {
        catch("backward", || self.inner.backward(params, inputs, traj, seeds, grads))
    }
    fn export(&self, params: &crate::ParamSet<f32>) -> Result<Vec<crate::npz::NpyArray>> {
        catch("export", || self.inner.export(params))
    }
}

/// A plugin initialiser whose methods cannot unwind into the host.
pub struct GuardedInitializer(Box<dyn WeightInitializer>, toml::Table);

impl GuardedInitializer {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// If reading its configuration panics.
    pub fn new(inner: Box<dyn WeightInitializer>) -> Result<Self> {
        let config = catch("initializer", || Ok(inner.config()))?;
        Ok(GuardedInitializer(inner, config))
    }
}

impl WeightInitializer for GuardedInitializer {
    fn config(&self) -> toml::Table {
        self.1.clone()
    }
    fn initialize(&self, ctx: &crate::InitContext<'_>, rng: &mut Rng) -> Result<crate::ParamSet<f32>> {
        catch("initialize", || self.0.initialize(ctx, rng))
    }
}

/// A plugin loss whose methods cannot unwind into the host.
pub struct GuardedLoss(Box<dyn LossFunction<f32>>, toml::Table, Slot);

impl GuardedLoss {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// If reading its configuration panics.
    pub fn new(inner: Box<dyn LossFunction<f32>>) -> Result<Self> {
        let config = catch("loss", || Ok(inner.config()))?;
        Ok(GuardedLoss(inner, config, Slot::default()))
    }
}

impl LossFunction<f32> for GuardedLoss {
    fn config(&self) -> toml::Table {
        self.1.clone()
    }
    fn loss(
        &self,
        z: ArrayView3<'_, f32>,
        y: ArrayView3<'_, f32>,
        m: ArrayView3<'_, f32>,
        d: ArrayViewMut3<'_, f32>,
    ) -> f32 {
        self.2.run("loss", f32::NAN, || self.0.loss(z, y, m, d))
    }
    fn failure(&self) -> Option<String> {
        self.2.take()
    }
}

/// A plugin regulariser whose methods cannot unwind into the host.
pub struct GuardedRegularizer(Box<dyn Regularizer<f32>>, toml::Table, Slot);

impl GuardedRegularizer {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// If reading its configuration panics.
    pub fn new(inner: Box<dyn Regularizer<f32>>) -> Result<Self> {
        let config = catch("regularizer", || Ok(inner.config()))?;
        Ok(GuardedRegularizer(inner, config, Slot::default()))
    }
}

impl Regularizer<f32> for GuardedRegularizer {
    fn config(&self) -> toml::Table {
        self.1.clone()
    }
    fn check(&self, names: &[&str]) -> Result<()> {
        catch("regularizer check", || self.0.check(names))
    }
    fn penalty(&self, input: &RegularizerInput<'_, f32>, grads: &mut RegularizerGrads<f32>) -> f32 {
        self.2.run("penalty", f32::NAN, || self.0.penalty(input, grads))
    }
    fn failure(&self) -> Option<String> {
        self.2.take()
    }
}

/// A plugin optimizer whose methods cannot unwind into the host.
pub struct GuardedOptimizer(Box<dyn Optimizer>, toml::Table, Slot);

impl GuardedOptimizer {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// If reading its configuration panics.
    pub fn new(inner: Box<dyn Optimizer>) -> Result<Self> {
        let config = catch("optimizer", || Ok(inner.config()))?;
        Ok(GuardedOptimizer(inner, config, Slot::default()))
    }
}

impl Optimizer for GuardedOptimizer {
    fn config(&self) -> toml::Table {
        self.1.clone()
    }
    fn begin_step(&mut self) {
        let (inner, slot) = (&mut self.0, &self.2);
        slot.run("begin_step", (), || inner.begin_step());
    }
    fn update(&mut self, name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let (inner, slot) = (&mut self.0, &self.2);
        slot.run("update", (), || inner.update(name, param, grad));
    }
    fn failure(&self) -> Option<String> {
        self.2.take()
    }
    fn state(&self) -> OptimizerState {
        self.2.run("state", OptimizerState::default(), || self.0.state())
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let inner = &mut self.0;
        catch("load_state", || inner.load_state(state))
    }
}

/// A plugin metric whose methods cannot unwind into the host.
pub struct GuardedMetric(Box<dyn CurriculumMetric>, toml::Table, bool, Slot);

impl GuardedMetric {
    /// Wraps `inner`.
    ///
    /// # Errors
    /// If reading its properties panics.
    pub fn new(inner: Box<dyn CurriculumMetric>) -> Result<Self> {
        let (config, higher) = catch("metric", || Ok((inner.config(), inner.higher_is_better())))?;
        Ok(GuardedMetric(inner, config, higher, Slot::default()))
    }
}

impl CurriculumMetric for GuardedMetric {
    fn config(&self) -> toml::Table {
        self.1.clone()
    }
    fn higher_is_better(&self) -> bool {
        self.2
    }
    fn score(&self, task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, loss: f64) -> f64 {
        self.3.run("score", f64::NAN, || self.0.score(task, batch, outputs, loss))
    }
    fn failure(&self) -> Option<String> {
        self.3.take()
    }
}

/// Exports a plugin's declaration. `$register` is `fn(&mut dyn Registrar)`; it runs under
/// `catch_unwind` inside the plugin.
#[macro_export]
macro_rules! declare_plugin {
    ($register:path) => {
        fn __psychrnn_register(r: &mut dyn $crate::plugin::Registrar) -> ::std::result::Result<(), String> {
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $register(r)))
                .map_err(|p| $crate::plugin::panic_message(p.as_ref()))
        }

        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals)]
        pub static psychrnn_plugin_declaration: $crate::plugin::PluginDeclaration = $crate::plugin::PluginDeclaration {
            magic: $crate::plugin::PLUGIN_MAGIC,
            abi_version: $crate::plugin::PLUGIN_ABI_VERSION,
            rustc_version: $crate::plugin::RUSTC_VERSION.as_ptr().cast(),
            core_version: $crate::plugin::CORE_VERSION.as_ptr().cast(),
            register: __psychrnn_register,
        };
    };
}

/// Registers one plugin entry from a `.so`, with its constructor and every object it builds
/// guarded against panics (the guard code is compiled into the plugin). Kinds: `task`, `model`,
/// `initializer`, `loss`, `regularizer`, `optimizer`, `metric`.
///
/// ```ignore
/// psychrnn_core::plugin_entry!(registrar, task, "go_no_go", "doc", GoNoGoConfig, build_go_no_go);
/// ```
#[macro_export]
macro_rules! plugin_entry {
    ($r:expr, task, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, timing: &$crate::TaskTiming, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::Task>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedTask::new($build(t, timing, b)?)?) as Box<dyn $crate::Task>))
        }
        $r.task($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
    ($r:expr, model, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, c: &$crate::ModelContext, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::Model<f32>>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedModel::new($build(t, c, b)?)?) as Box<dyn $crate::Model<f32>>))
        }
        $r.model($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
    ($r:expr, $kind:ident, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        $crate::plugin_entry!(@simple $r, $kind, $tag, $doc, $config, $build)
    }};
    (@simple $r:expr, initializer, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::WeightInitializer>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedInitializer::new($build(t, b)?)?) as Box<dyn $crate::WeightInitializer>))
        }
        $r.initializer($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
    (@simple $r:expr, loss, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::LossFunction<f32>>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedLoss::new($build(t, b)?)?) as Box<dyn $crate::LossFunction<f32>>))
        }
        $r.loss($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
    (@simple $r:expr, regularizer, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::Regularizer<f32>>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedRegularizer::new($build(t, b)?)?) as Box<dyn $crate::Regularizer<f32>>))
        }
        $r.regularizer($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
    (@simple $r:expr, optimizer, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::Optimizer>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedOptimizer::new($build(t, b)?)?) as Box<dyn $crate::Optimizer>))
        }
        $r.optimizer($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
    (@simple $r:expr, metric, $tag:expr, $doc:expr, $config:ty, $build:path) => {{
        fn ctor(t: &::toml::Table, b: &$crate::BuildContext) -> $crate::Result<Box<dyn $crate::CurriculumMetric>> {
            $crate::plugin::catch($tag, || Ok(Box::new($crate::plugin::GuardedMetric::new($build(t, b)?)?) as Box<dyn $crate::CurriculumMetric>))
        }
        $r.metric($crate::plugin::entry::<$config, _>($tag, $doc, ctor));
    }};
}

/// An entry for a plugin's registrar (its source is filled in by the host).
pub fn entry<Cfg: schemars::JsonSchema, C>(tag: &str, doc: &str, ctor: C) -> Entry<C> {
    Entry { tag: tag.into(), doc: doc.into(), source: String::new(), params: crate::registry::params_of::<Cfg>(), ctor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_from_other_builds_are_refused_with_both_versions() {
        assert!(check_header(PLUGIN_MAGIC, PLUGIN_ABI_VERSION).is_ok());
        assert!(check_header(0xDEAD_BEEF, PLUGIN_ABI_VERSION).unwrap_err().contains("wrong magic"));
        assert!(check_header(PLUGIN_MAGIC, 99).unwrap_err().contains("ABI version 99 does not match"));
        let ours = RUSTC_VERSION.trim_end_matches('\0');
        let core = CORE_VERSION.trim_end_matches('\0');
        assert!(check_versions(ours, core).is_ok());
        let e = check_versions("rustc 1.0.0 (a 2015-05-15)", core).unwrap_err();
        assert!(e.contains("built with rustc 1.0.0") && e.contains(ours), "{e}");
        let e = check_versions(ours, "0.0.1").unwrap_err();
        assert!(e.contains("psychrnn-core 0.0.1, but this is psychrnn-core"), "{e}");
    }

    #[test]
    fn caught_panics_become_errors_and_failures() {
        let e = catch("thing", || -> Result<()> { panic!("boom {}", 7) }).unwrap_err().to_string();
        assert_eq!(e, "plugin thing: panicked: boom 7");
        let slot = Slot::default();
        assert_eq!(slot.run("m", -1, || -> i32 { panic!("first") }), -1);
        assert_eq!(slot.run("m", -1, || -> i32 { panic!("second") }), -1);
        assert_eq!(slot.take().as_deref(), Some("m panicked: first"));
        assert_eq!(slot.take(), None);
        assert_eq!(slot.run("m", -1, || 3), 3);
    }
}

/// Checks the integer fields of a declaration (before anything else in it is trusted).
///
/// # Errors
/// A message saying what does not match.
pub fn check_header(magic: u32, abi_version: u32) -> std::result::Result<(), String> {
    if magic != PLUGIN_MAGIC {
        return Err("not a psychrnn plugin: its declaration has the wrong magic number".into());
    }
    if abi_version != PLUGIN_ABI_VERSION {
        return Err(format!("plugin ABI version {abi_version} does not match this psychrnn's {PLUGIN_ABI_VERSION}"));
    }
    Ok(())
}

/// Checks a plugin's compiler and psychrnn-core versions against this build's.
///
/// # Errors
/// A message naming both versions of whichever differs.
pub fn check_versions(rustc: &str, core: &str) -> std::result::Result<(), String> {
    let (our_rustc, our_core) = (RUSTC_VERSION.trim_end_matches('\0'), CORE_VERSION.trim_end_matches('\0'));
    if rustc != our_rustc {
        return Err(format!(
            "built with {rustc}, but this psychrnn was built with {our_rustc}; rebuild the plugin with the same compiler"
        ));
    }
    if core != our_core {
        return Err(format!(
            "built against psychrnn-core {core}, but this is psychrnn-core {our_core}; rebuild the plugin against it"
        ));
    }
    Ok(())
}

/// A plugin library loaded into a registry.
#[derive(Clone, Debug)]
pub struct LoadedPlugin {
    /// The file.
    pub path: std::path::PathBuf,
    /// SHA-256 of the file (hex), recorded in lock manifests.
    pub sha256: String,
    /// `(kind, tag)` of every entry it registered.
    pub entries: Vec<(&'static str, String)>,
}

/// The host's registrar: adds a plugin's entries to a registry, recording their source.
#[cfg(feature = "dylib")]
struct HostRegistrar<'a> {
    registry: &'a mut crate::Registry,
    source: String,
    entries: Vec<(&'static str, String)>,
    errors: Vec<Error>,
}

#[cfg(feature = "dylib")]
impl HostRegistrar<'_> {
    fn add<C>(
        catalog: &mut crate::registry::Catalog<C>,
        source: &str,
        mut e: Entry<C>,
        entries: &mut Vec<(&'static str, String)>,
        errors: &mut Vec<Error>,
    ) {
        e.source = source.to_string();
        let tag = e.tag.clone();
        match catalog.register(e) {
            Ok(()) => entries.push((catalog.kind(), tag)),
            Err(err) => errors.push(err),
        }
    }
}

#[cfg(feature = "dylib")]
impl Registrar for HostRegistrar<'_> {
    fn task(&mut self, e: Entry<TaskCtor>) {
        Self::add(&mut self.registry.tasks, &self.source, e, &mut self.entries, &mut self.errors);
    }
    fn model(&mut self, e: Entry<ModelCtor>) {
        Self::add(&mut self.registry.models, &self.source, e, &mut self.entries, &mut self.errors);
    }
    fn initializer(&mut self, e: Entry<InitializerCtor>) {
        Self::add(&mut self.registry.initializers, &self.source, e, &mut self.entries, &mut self.errors);
    }
    fn loss(&mut self, e: Entry<LossCtor>) {
        Self::add(&mut self.registry.losses, &self.source, e, &mut self.entries, &mut self.errors);
    }
    fn regularizer(&mut self, e: Entry<RegularizerCtor>) {
        Self::add(&mut self.registry.regularizers, &self.source, e, &mut self.entries, &mut self.errors);
    }
    fn optimizer(&mut self, e: Entry<OptimizerCtor>) {
        Self::add(&mut self.registry.optimizers, &self.source, e, &mut self.entries, &mut self.errors);
    }
    fn metric(&mut self, e: Entry<MetricCtor>) {
        Self::add(&mut self.registry.metrics, &self.source, e, &mut self.entries, &mut self.errors);
    }
}

/// The error chain of a source error as one line (libloading's own message says only
/// "dlopen failed"; the cause says why).
#[cfg(feature = "dylib")]
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Loads the plugin library at `path` into `registry`: checks its declaration (magic, ABI,
/// rustc and psychrnn-core versions) before calling anything in it, then registers its entries
/// with the source `"<path> (sha256 <hex>)"`. The library is never unloaded: the registry's
/// constructors and every object they build point into it.
///
/// # Errors
/// [`Error::Read`] for a missing file; [`Error::Plugin`] naming the file for one that is not a
/// library, lacks the declaration, was built by another compiler or psychrnn-core, panics while
/// registering, or registers a tag that is taken.
#[cfg(feature = "dylib")]
#[allow(unsafe_code)]
pub fn load(path: &std::path::Path, registry: &mut crate::Registry) -> Result<LoadedPlugin> {
    use sha2::Digest;
    use std::ffi::CStr;

    let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let sha256: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let name = path.display().to_string();
    let fail = |message: String| Error::Plugin { source_name: name.clone(), message };

    // SAFETY: loading a library runs its initialisers. The user named this file as a psychrnn
    // plugin; nothing in it is called before its declaration is checked below.
    let library = unsafe { libloading::Library::new(path) }
        .map_err(|e| fail(format!("not a loadable library ({})", chain(&e))))?;
    // SAFETY: looks up the address of a symbol; its contents are validated field by field
    // (magic and ABI version, plain integers at the start of a #[repr(C)] struct) before the
    // pointer fields are read.
    let declaration: &PluginDeclaration = unsafe {
        let symbol = library.get::<*const PluginDeclaration>(b"psychrnn_plugin_declaration\0").map_err(|e| {
            fail(format!("not a psychrnn plugin: it exports no `psychrnn_plugin_declaration` ({})", chain(&e)))
        })?;
        &**symbol
    };
    check_header(declaration.magic, declaration.abi_version).map_err(fail)?;
    // SAFETY: with magic and ABI version matching, the two fields are NUL-terminated string
    // literals written by `declare_plugin!`.
    let (rustc, core) =
        unsafe { (CStr::from_ptr(declaration.rustc_version), CStr::from_ptr(declaration.core_version)) };
    check_versions(&rustc.to_string_lossy(), &core.to_string_lossy()).map_err(fail)?;
    let mut registrar = HostRegistrar {
        registry,
        source: format!("{name} (sha256 {sha256})"),
        entries: Vec::new(),
        errors: Vec::new(),
    };
    (declaration.register)(&mut registrar).map_err(|p| fail(format!("panicked while registering: {p}")))?;
    let HostRegistrar { entries, errors, .. } = registrar;
    // Never unload: constructors in the registry and the objects they build live in it.
    std::mem::forget(library);
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    Ok(LoadedPlugin { path: path.to_path_buf(), sha256, entries })
}
