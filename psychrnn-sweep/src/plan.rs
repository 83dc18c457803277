//! A sweep expanded into its runs: variants x (zip x grid) points x seeds, each an ordinary
//! `psychrnn train` of a base manifest with `--set` overrides. The plan is what `sweep plan`
//! prints and what `sweep.json` of a sweep directory records (with the SHA-256 of the sweep file
//! and of every base manifest, so a directory is never filled by two different sweeps).

use std::path::{Path, PathBuf};

use psychrnn_core::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::spec::SweepSpec;

/// One base manifest as the plan records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedVariant {
    /// Its name.
    pub name: String,
    /// The manifest (absolute path).
    pub manifest: PathBuf,
    /// SHA-256 (hex) of the manifest's bytes when planned; a run refuses a changed manifest.
    pub manifest_sha256: String,
}

/// One run of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Its position in the plan (the Slurm array maps to it).
    pub index: usize,
    /// Its directory's name under `runs/`: index, variant, swept values, seed.
    pub name: String,
    /// Its variant's name.
    pub variant: String,
    /// Its point: the index of its combination of swept values (shared by its seeds).
    pub point: usize,
    /// Its `seed` override (`None`: the manifest's own seed).
    pub seed: Option<u64>,
    /// The swept values, `(key path, value as TOML)`, in the plan's `axes` order.
    pub values: Vec<(String, String)>,
    /// Every `--set` override of the run, in the order applied: the variant's, the swept
    /// values, the seed.
    pub overrides: Vec<String>,
}

/// A sweep's runs and where they came from (`sweep.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The sweep's name.
    pub name: String,
    /// The sweep file (absolute path).
    pub sweep_file: PathBuf,
    /// SHA-256 (hex) of the sweep file's bytes.
    pub sweep_sha256: String,
    /// The base manifests.
    pub variants: Vec<PlannedVariant>,
    /// The swept key paths: the grid's, then the zip's.
    pub axes: Vec<String>,
    /// The runs.
    pub runs: Vec<PlannedRun>,
}

/// SHA-256 (hex) of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of the file at `path`.
///
/// # Errors
/// [`Error::Read`] naming the file.
pub fn file_sha256(path: &Path) -> Result<String> {
    std::fs::read(path).map(|b| sha256_hex(&b)).map_err(|source| Error::Read { path: path.to_path_buf(), source })
}

/// A value as a file-name fragment: letters, digits and `.-+` kept, anything else `_`.
fn slug(value: &str) -> String {
    value
        .trim_matches('"')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-+".contains(c) { c } else { '_' })
        .collect()
}

impl Plan {
    /// Expands the sweep file at `path` (the base manifests are hashed, not yet validated: see
    /// [`Plan::validate`]).
    ///
    /// # Errors
    /// As [`SweepSpec::load`]; [`Error::Read`] for a base manifest that cannot be read.
    pub fn from_file(path: &Path) -> Result<Plan> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        let text =
            String::from_utf8(bytes).map_err(|_| Error::invalid(path.display().to_string(), "is not UTF-8 text"))?;
        Self::from_text(&text, path)
    }

    /// [`Plan::from_file`] on the sweep file's text, `path` naming it (its directory is where
    /// relative manifest paths start).
    ///
    /// # Errors
    /// As [`Plan::from_file`].
    pub fn from_text(text: &str, path: &Path) -> Result<Plan> {
        let spec = SweepSpec::parse(text, path)?;
        let absolute =
            |p: &Path| std::path::absolute(p).map_err(|source| Error::Read { path: p.to_path_buf(), source });
        let mut variants = Vec::new();
        for v in &spec.variants {
            let sha = file_sha256(&v.manifest).map_err(|e| {
                Error::invalid(format!("{}: variants.{}.manifest", path.display(), v.name), e.to_string())
            })?;
            variants.push(PlannedVariant {
                name: v.name.clone(),
                manifest: absolute(&v.manifest)?,
                manifest_sha256: sha,
            });
        }
        let axes: Vec<String> = spec.grid.iter().chain(&spec.zip).map(|a| a.key.clone()).collect();
        let points = points(&spec);
        let seeds: Vec<Option<u64>> =
            if spec.seeds.is_empty() { vec![None] } else { spec.seeds.iter().copied().map(Some).collect() };
        let total = spec.variants.len() * points.len() * seeds.len();
        let width = total.saturating_sub(1).to_string().len().max(3);
        let short_keys: Vec<&str> = axes.iter().map(|k| k.rsplit('.').next().unwrap_or(k)).collect();
        let mut runs = Vec::with_capacity(total);
        for v in &spec.variants {
            for (point, values) in points.iter().enumerate() {
                for &seed in &seeds {
                    let index = runs.len();
                    let mut name = format!("{index:0width$}_{}", v.name);
                    for (k, (_, value)) in short_keys.iter().zip(values) {
                        name.push_str(&format!("_{}={}", slug(k), slug(value)));
                    }
                    if let Some(s) = seed {
                        name.push_str(&format!("_seed{s}"));
                    }
                    // File systems take 255 bytes; the index keeps shortened names unique.
                    name.truncate(120);
                    let mut overrides = v.overrides.clone();
                    overrides.extend(values.iter().map(|(k, value)| format!("{k}={value}")));
                    overrides.extend(seed.map(|s| format!("seed={s}")));
                    runs.push(PlannedRun {
                        index,
                        name,
                        variant: v.name.clone(),
                        point,
                        seed,
                        values: values.clone(),
                        overrides,
                    });
                }
            }
        }
        Ok(Plan {
            name: spec.name,
            sweep_file: absolute(path)?,
            sweep_sha256: sha256_hex(text.as_bytes()),
            variants,
            axes,
            runs,
        })
    }

    /// The variant named `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the plan has none of that name.
    pub fn variant(&self, name: &str) -> Result<&PlannedVariant> {
        self.variants
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| Error::invalid("variant", format!("the sweep `{}` has no variant `{name}`", self.name)))
    }

    /// Checks every run before any starts: `check(manifest, overrides)` builds the run's
    /// experiment (so an unknown key path or a bad value is found), and no two runs may be the
    /// same. The error lists the failing runs (the first 20, and how many in all).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the sweep file, each failing run and its error.
    pub fn validate(&self, check: &mut dyn FnMut(&Path, &[String]) -> Result<()>) -> Result<()> {
        let mut failures = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for run in &self.runs {
            let variant = self.variant(&run.variant)?;
            if let Err(e) = check(&variant.manifest, &run.overrides) {
                failures.push(format!("run {} ({}): {e}", run.index, run.overrides.join(" ")));
            }
            let mut key = run.overrides.clone();
            key.sort();
            if let Some(first) = seen.insert((run.variant.clone(), key), run.index) {
                failures.push(format!("runs {first} and {} are the same run of `{}`", run.index, run.variant));
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        let n = failures.len();
        let shown: Vec<String> = failures.into_iter().take(20).collect();
        let more = if n > shown.len() { format!("\n  ... and {} more", n - shown.len()) } else { String::new() };
        Err(Error::invalid(
            self.sweep_file.display().to_string(),
            format!(
                "{n} of {} runs are not valid; nothing was started:\n  {}{more}",
                self.runs.len(),
                shown.join("\n  ")
            ),
        ))
    }

    /// The run at `index`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the plan has no such run.
    pub fn run(&self, index: usize) -> Result<&PlannedRun> {
        self.runs.get(index).ok_or_else(|| {
            Error::invalid(
                "index",
                format!(
                    "the sweep `{}` has {} runs (0 to {})",
                    self.name,
                    self.runs.len(),
                    self.runs.len().saturating_sub(1)
                ),
            )
        })
    }
}

/// The sweep's points: each zip position with each grid combination, as `(key, value)` lists.
fn points(spec: &SweepSpec) -> Vec<Vec<(String, String)>> {
    let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for axis in &spec.grid {
        points = points
            .iter()
            .flat_map(|p| {
                axis.values.iter().map(move |v| {
                    let mut q = p.clone();
                    q.push((axis.key.clone(), v.to_string()));
                    q
                })
            })
            .collect();
    }
    let Some(first) = spec.zip.first() else { return points };
    (0..first.values.len())
        .flat_map(|i| {
            points.iter().map(move |p| {
                let mut q = p.clone();
                q.extend(spec.zip.iter().map(|a| (a.key.clone(), a.values[i].to_string())));
                q
            })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn runs_are_variants_by_points_by_seeds_with_their_overrides() {
        let dir = tempdir("expand");
        write(&dir, "a.toml", "a");
        write(&dir, "b.toml", "b");
        let sweep = write(
            &dir,
            "s.toml",
            "seeds = [7, 8]\n[variants.a]\nmanifest = \"a.toml\"\nset = { \"training.threads\" = 1 }\n[variants.b]\nmanifest = \"b.toml\"\n[grid]\n\"model.N_rec\" = [10, 20]\n[zip]\n\"task.coherence\" = [0.1, 0.5]\n\"task.T\" = [1000, 2000]\n",
        );
        let plan = Plan::from_file(&sweep).unwrap();
        assert_eq!(plan.runs.len(), 2 * 2 * 2 * 2);
        assert_eq!(plan.axes, ["model.N_rec", "task.coherence", "task.T"]);
        let r = &plan.runs[0];
        assert_eq!(r.name, "000_a_N_rec=10_coherence=0.1_T=1000_seed7");
        assert_eq!(
            r.overrides,
            ["training.threads=1", "model.N_rec=10", "task.coherence=0.1", "task.T=1000", "seed=7"]
        );
        let last = plan.runs.last().unwrap();
        assert_eq!((last.index, last.variant.as_str(), last.point, last.seed), (15, "b", 3, Some(8)));
        assert_eq!(last.overrides, ["model.N_rec=20", "task.coherence=0.5", "task.T=2000", "seed=8"]);
        assert_eq!(plan.variants[1].manifest_sha256, sha256_hex(b"b"));
        // Every run's seeds share its point; points differ within a variant.
        assert_eq!(plan.runs[1].point, plan.runs[0].point);
        assert_ne!(plan.runs[2].point, plan.runs[0].point);
    }

    #[test]
    fn validation_lists_every_bad_run_and_same_runs() {
        let dir = tempdir("validate");
        write(&dir, "m.toml", "m");
        let sweep = write(&dir, "s.toml", "manifest = \"m.toml\"\n[grid]\n\"model.N_rec\" = [10, -1, 20, -2]\n");
        let plan = Plan::from_file(&sweep).unwrap();
        let mut check = |_: &Path, o: &[String]| {
            if o.iter().any(|s| s.contains('-')) {
                Err(Error::invalid("model.N_rec", "must be positive"))
            } else {
                Ok(())
            }
        };
        let e = plan.validate(&mut check).unwrap_err().to_string();
        assert!(e.contains("2 of 4 runs") && e.contains("run 1 (model.N_rec=-1)") && e.contains("run 3"), "{e}");
        let sweep =
            write(&dir, "d.toml", "manifest = \"m.toml\"\nset = { seed = 3 }\n[grid]\n\"model.N_rec\" = [10, 10]\n");
        let e = Plan::from_file(&sweep).unwrap().validate(&mut |_, _| Ok(())).unwrap_err().to_string();
        assert!(e.contains("runs 0 and 1 are the same run"), "{e}");
        let missing = write(&dir, "x.toml", "manifest = \"nope.toml\"\n");
        let e = Plan::from_file(&missing).unwrap_err().to_string();
        assert!(e.contains("manifest") && e.contains("nope.toml"), "{e}");
    }

    pub(crate) fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("psychrnn-sweep-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
