//! Dynamically loaded plugins: what a lab's `.so` exports, and the guards that keep its panics
//! on its own side of the boundary.
//!
//! A plugin crate depends on `psychrnn-core` alone, is built as a `cdylib` with the same
//! compiler and psychrnn-core version as the host, and ends with
//! [`declare_plugin!`](crate::declare_plugin)`(register)`, where `register(&mut dyn Registrar)`
//! adds each of its [`Plugin`] types with [`register::<P>`](register). The host (feature `dylib`,
//! [`crate::plugin::load`]) checks the exported [`PluginDeclaration`] — magic number, ABI
//! version, rustc version, psychrnn-core version, compared as C strings before any Rust-ABI
//! field is trusted — then calls `register`, and never unloads the library.
//!
//! Why the guards: each `.so` carries its own copy of the Rust standard library, and a panic
//! unwinding from plugin code into the host aborts the process (the host cannot catch a
//! "foreign" panic). So every constructor and every method of a plugin object runs under
//! `catch_unwind` *compiled into the plugin*: constructors and `Result` methods turn a panic
//! into [`Error::Plugin`]; other methods return a neutral value and record the panic in the
//! [`PluginFailures`] of the [`BuildContext`] they were built in, which the trainer checks after
//! every step. The plugin traits themselves know nothing of this.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use ndarray::{Array2, ArrayView3, ArrayViewMut3};

use crate::error::{Error, PluginLoadError, Result};
use crate::metric::CurriculumMetric;
use crate::optim::{Optimizer, OptimizerState};
use crate::registry::{BuildContext, Built, Entry, Kind, Plugin, construct};
use crate::regularizer::{Regularizer, RegularizerGrads, RegularizerInput};
use crate::rng::{Noise, Rng};
use crate::task::{Task, TaskTiming, TrialBatch, TrialMut, TrialParams};
use crate::{LossFunction, WeightInitializer};

/// First field of every declaration ("PSRN").
pub const PLUGIN_MAGIC: u32 = 0x5053_524E;
/// Version of the plugin interface (the declaration, the registrar, the guarded traits).
pub const PLUGIN_ABI_VERSION: u32 = 4;
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

/// Where a plugin's `register` function adds its entries, through [`register`] (the host fills
/// in each entry's `source` with the library's path and SHA-256).
pub trait Registrar {
    /// Adds a task.
    fn task(&mut self, entry: Entry<dyn Task>);
    /// Adds a model.
    fn model(&mut self, entry: Entry<dyn crate::Model<f32>>);
    /// Adds a weight initialiser.
    fn initializer(&mut self, entry: Entry<dyn WeightInitializer>);
    /// Adds a loss.
    fn loss(&mut self, entry: Entry<dyn LossFunction<f32>>);
    /// Adds a regulariser.
    fn regularizer(&mut self, entry: Entry<dyn Regularizer<f32>>);
    /// Adds an optimizer.
    fn optimizer(&mut self, entry: Entry<dyn Optimizer>);
    /// Adds a curriculum metric.
    fn metric(&mut self, entry: Entry<dyn CurriculumMetric>);
}

/// The text of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `f`, turning a panic into [`Error::Plugin`] named `what`. Used by the guards that
/// [`register`] compiles into a plugin.
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

/// Where the guarded objects of dynamically loaded plugins report panics they could not return
/// as errors (their method returned a neutral value instead). Clones share one slot, which keeps
/// the first failure until [`PluginFailures::take`]; the host checks it after every step.
#[derive(Clone, Debug, Default)]
pub struct PluginFailures(Arc<Mutex<Option<Error>>>);

impl PluginFailures {
    /// Runs `f`; if it panics, records the panic as a failure of `plugin`'s method `what` and
    /// returns `fallback`.
    pub fn run<T>(&self, plugin: &str, what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
        catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
            if let Ok(mut slot) = self.0.lock() {
                slot.get_or_insert_with(|| Error::Plugin {
                    source_name: plugin.to_string(),
                    message: format!("{what} panicked: {}", panic_message(p.as_ref())),
                });
            }
            fallback
        })
    }

    /// Records a failure that did not panic (e.g. an exception raised by a task written in
    /// Python), unless one is already recorded: the host stops at its next check, as for a panic.
    pub fn record(&self, error: Error) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert(error);
        }
    }

    /// The first failure since the last call, if any.
    pub fn take(&self) -> Option<Error> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }
}

/// A plugin task whose methods cannot unwind into the host.
pub struct GuardedTask {
    inner: Box<dyn Task>,
    timing: TaskTiming,
    sizes: (usize, usize),
    name: String,
    failures: PluginFailures,
}

impl GuardedTask {
    /// Wraps `inner` (called `name` in failures), reading its fixed properties once.
    ///
    /// # Errors
    /// If reading them panics.
    pub fn new(inner: Box<dyn Task>, name: String, failures: PluginFailures) -> Result<Self> {
        let (timing, sizes) = catch(&name, || Ok((inner.timing().clone(), (inner.n_in(), inner.n_out()))))?;
        Ok(GuardedTask { inner, timing, sizes, name, failures })
    }
}

impl Task for GuardedTask {
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
        self.failures.run(&self.name, "generate_trial", TrialParams::new(), || self.inner.generate_trial(rng, trial))
    }
    fn accuracy(&self, batch: &TrialBatch, outputs: ndarray::ArrayView3<'_, f32>) -> f64 {
        self.failures.run(&self.name, "accuracy", f64::NAN, || self.inner.accuracy(batch, outputs))
    }
    fn behaviour(&self) -> Option<crate::task::Behaviour> {
        self.failures.run(&self.name, "behaviour", None, || self.inner.behaviour())
    }
}

/// A plugin model whose methods cannot unwind into the host (they all return `Result`s, so a
/// panic becomes an error of the call).
pub struct GuardedModel {
    inner: Box<dyn crate::Model<f32>>,
    n_rec: usize,
    specs: Vec<crate::ParamSpec>,
    dale_ratio: Option<f64>,
    name: String,
}

impl GuardedModel {
    /// Wraps `inner` (called `name` in errors), reading its fixed properties once.
    ///
    /// # Errors
    /// If reading them panics.
    pub fn new(inner: Box<dyn crate::Model<f32>>, name: String, _failures: PluginFailures) -> Result<Self> {
        let (n_rec, specs, dale_ratio) =
            catch(&name, || Ok((inner.n_rec(), inner.param_specs().to_vec(), inner.dale_ratio())))?;
        Ok(GuardedModel { inner, n_rec, specs, dale_ratio, name })
    }

    fn call<T>(&self, what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        catch(&format!("{} {what}", self.name), f)
    }
}

impl crate::Model<f32> for GuardedModel {
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
        self.call("effective_weights", || self.inner.effective_weights(params))
    }
    fn forward(
        &self,
        params: &crate::ParamSet<f32>,
        inputs: ArrayView3<'_, f32>,
        noise: Option<&mut Noise>,
        traj: &mut crate::Trajectory<f32>,
    ) -> Result<()> {
        self.call("forward", || self.inner.forward(params, inputs, noise, traj))
    }
    fn backward(
        &self,
        params: &crate::ParamSet<f32>,
        inputs: ArrayView3<'_, f32>,
        traj: &crate::Trajectory<f32>,
        seeds: crate::BackwardSeeds<'_, f32>,
        grads: &mut crate::ParamSet<f32>,
    ) -> Result<()> {
        self.call("backward", || self.inner.backward(params, inputs, traj, seeds, grads))
    }
    fn export(&self, params: &crate::ParamSet<f32>) -> Result<Vec<crate::npz::NpyArray>> {
        self.call("export", || self.inner.export(params))
    }
}

/// A plugin initialiser whose method cannot unwind into the host.
pub struct GuardedInitializer(Box<dyn WeightInitializer>, String);

impl GuardedInitializer {
    /// Wraps `inner` (called `name` in errors).
    ///
    /// # Errors
    /// Never; the signature is that of every guard.
    pub fn new(inner: Box<dyn WeightInitializer>, name: String, _failures: PluginFailures) -> Result<Self> {
        Ok(GuardedInitializer(inner, name))
    }
}

impl WeightInitializer for GuardedInitializer {
    fn initialize(&self, ctx: &crate::InitContext<'_>, rng: &mut Rng) -> Result<crate::ParamSet<f32>> {
        catch(&format!("{} initialize", self.1), || self.0.initialize(ctx, rng))
    }
}

/// A plugin loss whose method cannot unwind into the host.
pub struct GuardedLoss(Box<dyn LossFunction<f32>>, String, PluginFailures);

impl GuardedLoss {
    /// Wraps `inner` (called `name` in failures).
    ///
    /// # Errors
    /// Never; the signature is that of every guard.
    pub fn new(inner: Box<dyn LossFunction<f32>>, name: String, failures: PluginFailures) -> Result<Self> {
        Ok(GuardedLoss(inner, name, failures))
    }
}

impl LossFunction<f32> for GuardedLoss {
    fn loss(
        &self,
        z: ArrayView3<'_, f32>,
        y: ArrayView3<'_, f32>,
        m: ArrayView3<'_, f32>,
        d: ArrayViewMut3<'_, f32>,
    ) -> f32 {
        self.2.run(&self.1, "loss", f32::NAN, || self.0.loss(z, y, m, d))
    }
}

/// A plugin regulariser whose methods cannot unwind into the host.
pub struct GuardedRegularizer(Box<dyn Regularizer<f32>>, String, PluginFailures);

impl GuardedRegularizer {
    /// Wraps `inner` (called `name` in failures).
    ///
    /// # Errors
    /// Never; the signature is that of every guard.
    pub fn new(inner: Box<dyn Regularizer<f32>>, name: String, failures: PluginFailures) -> Result<Self> {
        Ok(GuardedRegularizer(inner, name, failures))
    }
}

impl Regularizer<f32> for GuardedRegularizer {
    fn check(&self, names: &[&str]) -> Result<()> {
        catch(&format!("{} check", self.1), || self.0.check(names))
    }
    fn penalty(&self, input: &RegularizerInput<'_, f32>, grads: &mut RegularizerGrads<f32>) -> f32 {
        self.2.run(&self.1, "penalty", f32::NAN, || self.0.penalty(input, grads))
    }
}

/// A plugin optimizer whose methods cannot unwind into the host.
pub struct GuardedOptimizer(Box<dyn Optimizer>, String, PluginFailures);

impl GuardedOptimizer {
    /// Wraps `inner` (called `name` in failures).
    ///
    /// # Errors
    /// Never; the signature is that of every guard.
    pub fn new(inner: Box<dyn Optimizer>, name: String, failures: PluginFailures) -> Result<Self> {
        Ok(GuardedOptimizer(inner, name, failures))
    }
}

impl Optimizer for GuardedOptimizer {
    fn begin_step(&mut self) {
        let (inner, name, failures) = (&mut self.0, &self.1, &self.2);
        failures.run(name, "begin_step", (), || inner.begin_step());
    }
    fn update(&mut self, param_name: &str, param: &mut Array2<f32>, grad: &Array2<f32>) {
        let (inner, name, failures) = (&mut self.0, &self.1, &self.2);
        failures.run(name, "update", (), || inner.update(param_name, param, grad));
    }
    fn state(&self) -> OptimizerState {
        self.2.run(&self.1, "state", OptimizerState::default(), || self.0.state())
    }
    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let inner = &mut self.0;
        catch(&format!("{} load_state", self.1), || inner.load_state(state))
    }
}

/// A plugin metric whose methods cannot unwind into the host.
pub struct GuardedMetric(Box<dyn CurriculumMetric>, bool, String, PluginFailures);

impl GuardedMetric {
    /// Wraps `inner` (called `name` in failures), reading its direction once.
    ///
    /// # Errors
    /// If reading it panics.
    pub fn new(inner: Box<dyn CurriculumMetric>, name: String, failures: PluginFailures) -> Result<Self> {
        let higher = catch(&name, || Ok(inner.higher_is_better()))?;
        Ok(GuardedMetric(inner, higher, name, failures))
    }
}

impl CurriculumMetric for GuardedMetric {
    fn higher_is_better(&self) -> bool {
        self.1
    }
    fn score(&self, task: &dyn Task, batch: &TrialBatch, outputs: ArrayView3<'_, f32>, loss: f64) -> f64 {
        self.3.run(&self.2, "score", f64::NAN, || self.0.score(task, batch, outputs, loss))
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

/// Registers plugin `P` from a `.so`: its constructor, and every object it builds, run behind
/// panic guards compiled into the plugin (this function is generic, so its code is the
/// plugin's). Call it from the function given to [`declare_plugin!`](crate::declare_plugin):
///
/// ```ignore
/// fn register(r: &mut dyn psychrnn_core::plugin::Registrar) {
///     psychrnn_core::plugin::register::<GoNoGo>(r);
/// }
/// psychrnn_core::declare_plugin!(register);
/// ```
pub fn register<P: Plugin>(registrar: &mut dyn Registrar) {
    <P::Kind as Kind>::submit(registrar, Entry::of::<P>("", guarded::<P>));
}

/// [`construct::<P>`](construct) behind the guards: a panic in the constructor becomes an error,
/// and the object is wrapped in its kind's guard.
fn guarded<'a, P: Plugin>(
    table: &'a toml::Table,
    args: <P::Kind as Kind>::Args<'a>,
    ctx: &'a BuildContext,
) -> Result<Built<P::Kind>> {
    let name = format!("{} `{}`", <P::Kind as Kind>::NAME, P::TAG);
    catch(&name, || {
        let built = construct::<P>(table, args, ctx)?;
        Ok(Built {
            object: <P::Kind as Kind>::guard(built.object, name.clone(), ctx.failures())?,
            config: built.config,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_from_other_builds_are_refused_with_both_versions() {
        assert!(check_header(PLUGIN_MAGIC, PLUGIN_ABI_VERSION).is_ok());
        assert!(matches!(check_header(0xDEAD_BEEF, PLUGIN_ABI_VERSION), Err(PluginLoadError::WrongMagic)));
        let e = check_header(PLUGIN_MAGIC, 99).unwrap_err();
        assert!(matches!(e, PluginLoadError::AbiVersion { found: 99, expected: PLUGIN_ABI_VERSION }));
        assert!(e.to_string().contains("ABI version 99 does not match"));
        let ours = RUSTC_VERSION.trim_end_matches('\0');
        let core = CORE_VERSION.trim_end_matches('\0');
        assert!(check_versions(ours, core).is_ok());
        let e = check_versions("rustc 1.0.0 (a 2015-05-15)", core).unwrap_err();
        assert!(matches!(&e, PluginLoadError::RustcVersion { found, .. } if found.starts_with("rustc 1.0.0")));
        let e = e.to_string();
        assert!(e.contains("built with rustc 1.0.0") && e.contains(ours), "{e}");
        let e = check_versions(ours, "0.0.1").unwrap_err();
        assert!(matches!(&e, PluginLoadError::CoreVersion { found, .. } if found == "0.0.1"));
        assert!(e.to_string().contains("psychrnn-core 0.0.1, but this is psychrnn-core"), "{e}");
    }

    #[cfg(feature = "dylib")]
    #[test]
    fn a_file_that_is_not_a_library_is_refused_with_the_loaders_error_as_source() {
        let path = std::env::temp_dir().join(format!("psychrnn-not-a-library-{}.so", std::process::id()));
        std::fs::write(&path, "not a library").unwrap();
        let e = load(&path, &mut crate::Registry::new()).unwrap_err();
        std::fs::remove_file(&path).ok();
        assert!(e.to_string().ends_with("not a loadable library"), "{e}");
        let Error::PluginLoad { source: PluginLoadError::NotALibrary(loader), .. } = &e else {
            panic!("expected PluginLoad(NotALibrary), got {e:?}")
        };
        let cause = std::error::Error::source(&e).and_then(std::error::Error::source).map(ToString::to_string);
        assert_eq!(cause, Some(loader.to_string()), "the loader's error is the cause of the cause");
    }

    #[test]
    fn caught_panics_become_errors_and_failures() {
        let e = catch("thing", || -> Result<()> { panic!("boom {}", 7) }).unwrap_err().to_string();
        assert_eq!(e, "plugin thing: panicked: boom 7");
        let failures = PluginFailures::default();
        let shared = failures.clone();
        assert_eq!(failures.run("task `x`", "m", -1, || -> i32 { panic!("first") }), -1);
        assert_eq!(shared.run("task `y`", "m", -1, || -> i32 { panic!("second") }), -1);
        let first = shared.take().map(|e| e.to_string());
        assert_eq!(first.as_deref(), Some("plugin task `x`: m panicked: first"));
        assert!(failures.take().is_none());
        assert_eq!(failures.run("task `x`", "m", -1, || 3), 3);
    }
}

/// Checks the integer fields of a declaration (before anything else in it is trusted).
///
/// # Errors
/// [`PluginLoadError::WrongMagic`] or [`PluginLoadError::AbiVersion`].
pub fn check_header(magic: u32, abi_version: u32) -> std::result::Result<(), PluginLoadError> {
    if magic != PLUGIN_MAGIC {
        return Err(PluginLoadError::WrongMagic);
    }
    if abi_version != PLUGIN_ABI_VERSION {
        return Err(PluginLoadError::AbiVersion { found: abi_version, expected: PLUGIN_ABI_VERSION });
    }
    Ok(())
}

/// Checks a plugin's compiler and psychrnn-core versions against this build's.
///
/// # Errors
/// [`PluginLoadError::RustcVersion`] or [`PluginLoadError::CoreVersion`], with both versions.
pub fn check_versions(rustc: &str, core: &str) -> std::result::Result<(), PluginLoadError> {
    let (our_rustc, our_core) = (RUSTC_VERSION.trim_end_matches('\0'), CORE_VERSION.trim_end_matches('\0'));
    if rustc != our_rustc {
        return Err(PluginLoadError::RustcVersion { found: rustc.into(), expected: our_rustc.into() });
    }
    if core != our_core {
        return Err(PluginLoadError::CoreVersion { found: core.into(), expected: our_core.into() });
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
    fn add<K: ?Sized + Kind>(&mut self, mut entry: Entry<K>) {
        entry.source.clone_from(&self.source);
        let tag = entry.tag.clone();
        match K::catalog(self.registry).register(entry) {
            Ok(()) => self.entries.push((K::NAME, tag)),
            Err(err) => self.errors.push(err),
        }
    }
}

#[cfg(feature = "dylib")]
impl Registrar for HostRegistrar<'_> {
    fn task(&mut self, e: Entry<dyn Task>) {
        self.add(e);
    }
    fn model(&mut self, e: Entry<dyn crate::Model<f32>>) {
        self.add(e);
    }
    fn initializer(&mut self, e: Entry<dyn WeightInitializer>) {
        self.add(e);
    }
    fn loss(&mut self, e: Entry<dyn LossFunction<f32>>) {
        self.add(e);
    }
    fn regularizer(&mut self, e: Entry<dyn Regularizer<f32>>) {
        self.add(e);
    }
    fn optimizer(&mut self, e: Entry<dyn Optimizer>) {
        self.add(e);
    }
    fn metric(&mut self, e: Entry<dyn CurriculumMetric>) {
        self.add(e);
    }
}

/// Loads the plugin library at `path` into `registry`: checks its declaration (magic, ABI,
/// rustc and psychrnn-core versions) before calling anything in it, then registers its entries
/// with the source `"<path> (sha256 <hex>)"`. The library is never unloaded: the registry's
/// constructors and every object they build point into it.
///
/// # Errors
/// [`Error::Read`] for a missing file; [`Error::PluginLoad`] naming the file, with the reason as a
/// typed [`PluginLoadError`], for one that is not a library (the loader's error is its source),
/// lacks the declaration, was built by another compiler or psychrnn-core, or panics while
/// registering; [`Error::DuplicateTag`] if it registers a tag that is taken.
#[cfg(feature = "dylib")]
#[allow(unsafe_code)]
pub fn load(path: &std::path::Path, registry: &mut crate::Registry) -> Result<LoadedPlugin> {
    use sha2::Digest;
    use std::ffi::CStr;

    let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
    let sha256: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    // The file name and hash identify the library wherever it lies (the lock stays portable).
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let fail = |source: PluginLoadError| Error::PluginLoad { path: path.to_path_buf(), source };

    // SAFETY: loading a library runs its initialisers. The user named this file as a psychrnn
    // plugin; nothing in it is called before its declaration is checked below.
    // An absolute path, so the loader opens this file rather than searching its library path
    // for a bare file name.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let library = unsafe { libloading::Library::new(&absolute) }.map_err(|e| fail(PluginLoadError::NotALibrary(e)))?;
    // SAFETY: looks up the address of a symbol; its contents are validated field by field
    // (magic and ABI version, plain integers at the start of a #[repr(C)] struct) before the
    // pointer fields are read.
    let declaration: &PluginDeclaration = unsafe {
        let symbol = library
            .get::<*const PluginDeclaration>(b"psychrnn_plugin_declaration\0")
            .map_err(|e| fail(PluginLoadError::NoDeclaration(e)))?;
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
    (declaration.register)(&mut registrar).map_err(|p| fail(PluginLoadError::RegisterPanicked(p)))?;
    let HostRegistrar { entries, errors, .. } = registrar;
    // Never unload: constructors in the registry and the objects they build live in it.
    std::mem::forget(library);
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    Ok(LoadedPlugin { path: path.to_path_buf(), sha256, entries })
}
