//! The sweep file (TOML): base manifests (one, or named variants) and the axes swept over them.
//!
//! ```toml
//! name = "fig5"                         # default: the file's stem; runs go to runs/<name>
//! seeds = { first = 1, count = 20 }     # or a list: seeds = [1, 2, 3]; absent: the manifest's seed
//!
//! [variants.curriculum]                 # or, for one manifest: manifest = "m.toml" (+ set = {...})
//! manifest = "../curriculum_learning/manifest.toml"
//! [variants.baseline]
//! manifest = "../curriculum_learning/baseline.toml"
//! set = { "training.performance_epoch" = 1 }   # overrides of this variant only
//!
//! [grid]                                # every combination (Cartesian product)
//! "model.N_rec" = [50, 100]
//! [zip]                                 # element by element (equal lengths)
//! "optimizer.learning_rate" = [0.001, 0.01]
//! "training.training_iters" = [200000, 100000]
//! ```
//!
//! Keys are the key paths of `psychrnn train --set` (`regularizers[0].coefficient` too); nested
//! tables (`[grid.model] N_rec = [...]`) are the same as dotted keys. Paths are relative to the
//! sweep file.

use std::path::{Path, PathBuf};

use psychrnn_core::{Error, Result};

/// One base manifest of a sweep, with overrides of its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// Its name (`[variants.<name>]`, or the manifest's file stem).
    pub name: String,
    /// The manifest, as written in the sweep file joined to the sweep file's directory.
    pub manifest: PathBuf,
    /// `key.path=value` overrides applied to every run of the variant.
    pub overrides: Vec<String>,
}

/// One swept key path and its values (TOML, as `--set` writes them).
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The key path (`model.N_rec`).
    pub key: String,
    /// The values, in order.
    pub values: Vec<toml::Value>,
}

/// A parsed sweep file.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepSpec {
    /// The sweep's name.
    pub name: String,
    /// The base manifests.
    pub variants: Vec<Variant>,
    /// Axes combined in every way.
    pub grid: Vec<Axis>,
    /// Axes taken element by element (all of one length).
    pub zip: Vec<Axis>,
    /// Seeds (`seed=<s>` overrides); empty: each manifest's own seed, one run per point.
    pub seeds: Vec<u64>,
}

/// The largest number of runs a sweep file may expand to (a typo such as `count = 1e9` is
/// refused before anything is allocated).
pub const MAX_RUNS: usize = 1_000_000;

impl SweepSpec {
    /// Reads and parses the sweep file at `path`.
    ///
    /// # Errors
    /// [`Error::Read`] if it cannot be read, else as [`SweepSpec::parse`].
    pub fn load(path: &Path) -> Result<SweepSpec> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, path)
    }

    /// Parses a sweep file's text; `path` names it in errors and anchors relative manifest paths.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the file and the field: TOML that does not parse, an unknown
    /// key, no manifest or both forms, an axis that is not a non-empty list, zipped lists of
    /// different lengths, a key swept twice, repeated seeds, or more than [`MAX_RUNS`] runs.
    pub fn parse(text: &str, path: &Path) -> Result<SweepSpec> {
        let file = path.display().to_string();
        let field = |name: &str| format!("{file}: {name}");
        let mut root: toml::Table = toml::from_str(text).map_err(|e| Error::invalid(&file, e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let name = match root.remove("name") {
            Some(toml::Value::String(s)) if !s.is_empty() && !s.contains(['/', '\\']) => s,
            Some(v) => {
                return Err(Error::invalid(field("name"), format!("must be a non-empty name without '/', got {v}")));
            }
            None => path.file_stem().map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned()),
        };
        let seeds = match root.remove("seeds") {
            None => Vec::new(),
            Some(v) => parse_seeds(&v).map_err(|m| Error::invalid(field("seeds"), m))?,
        };
        let mut variants = Vec::new();
        let single = root.remove("manifest");
        let single_set = root.remove("set");
        if let Some(table) = root.remove("variants") {
            let toml::Value::Table(table) = table else {
                return Err(Error::invalid(field("variants"), "must be a table of [variants.<name>] tables"));
            };
            if single.is_some() || single_set.is_some() {
                return Err(Error::invalid(
                    field("manifest"),
                    "give either `manifest` (one base manifest) or [variants.<name>] tables, not both",
                ));
            }
            for (vname, v) in table {
                let toml::Value::Table(mut v) = v else {
                    return Err(Error::invalid(field(&format!("variants.{vname}")), "must be a table with `manifest`"));
                };
                let at = |k: &str| field(&format!("variants.{vname}.{k}"));
                if vname.is_empty() || !vname.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) {
                    return Err(Error::invalid(
                        field(&format!("variants.{vname}")),
                        "a variant's name may use letters, digits, '_', '-' and '.'",
                    ));
                }
                let manifest = match v.remove("manifest") {
                    Some(toml::Value::String(m)) => base.join(m),
                    _ => return Err(Error::invalid(at("manifest"), "missing: the path of the variant's manifest")),
                };
                let overrides = match v.remove("set") {
                    None => Vec::new(),
                    Some(s) => assignments(&s).map_err(|m| Error::invalid(at("set"), m))?,
                };
                if let Some(k) = v.keys().next() {
                    return Err(Error::invalid(at(k), "unknown key (a variant has `manifest` and `set`)"));
                }
                variants.push(Variant { name: vname, manifest, overrides });
            }
            if variants.is_empty() {
                return Err(Error::invalid(field("variants"), "names no variant"));
            }
        } else {
            let manifest = match single {
                Some(toml::Value::String(m)) => base.join(m),
                Some(v) => return Err(Error::invalid(field("manifest"), format!("must be a path, got {v}"))),
                None => {
                    return Err(Error::invalid(
                        field("manifest"),
                        "missing: give the base manifest (`manifest = \"m.toml\"`) or [variants.<name>] tables",
                    ));
                }
            };
            let overrides = match single_set {
                None => Vec::new(),
                Some(s) => assignments(&s).map_err(|m| Error::invalid(field("set"), m))?,
            };
            variants.push(Variant { name: variant_name(&manifest), manifest, overrides });
        }
        let grid = match root.remove("grid") {
            None => Vec::new(),
            Some(v) => axes(&v).map_err(|m| Error::invalid(field("grid"), m))?,
        };
        let zip = match root.remove("zip") {
            None => Vec::new(),
            Some(v) => axes(&v).map_err(|m| Error::invalid(field("zip"), m))?,
        };
        if let Some(k) = root.keys().next() {
            return Err(Error::invalid(
                field(k),
                "unknown key; a sweep file has name, seeds, manifest (+ set) or [variants.<name>], [grid], [zip]",
            ));
        }
        if let Some(first) = zip.first()
            && let Some(other) = zip.iter().find(|a| a.values.len() != first.values.len())
        {
            return Err(Error::invalid(
                field("zip"),
                format!(
                    "zipped lists must have one length: `{}` has {}, `{}` has {}",
                    first.key,
                    first.values.len(),
                    other.key,
                    other.values.len()
                ),
            ));
        }
        let mut keys: Vec<&str> = grid.iter().chain(&zip).map(|a| a.key.as_str()).collect();
        if !seeds.is_empty() {
            keys.push("seed");
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].contains(k) {
                return Err(Error::invalid(field(k), "is swept twice (in [grid], [zip] or as seeds)"));
            }
        }
        let spec = SweepSpec { name, variants, grid, zip, seeds };
        let runs = spec.grid.iter().try_fold(spec.variants.len(), |n, a| n.checked_mul(a.values.len()));
        let runs = runs
            .and_then(|n| n.checked_mul(spec.zip.first().map_or(1, |a| a.values.len())))
            .and_then(|n| n.checked_mul(spec.seeds.len().max(1)));
        match runs {
            Some(n) if n <= MAX_RUNS => Ok(spec),
            _ => Err(Error::invalid(&file, format!("expands to more than {MAX_RUNS} runs"))),
        }
    }
}

/// The name of a sweep's one variant: its manifest's stem, or the manifest's folder for a
/// `manifest.toml` (`examples/hello_world/manifest.toml` -> `hello_world`).
fn variant_name(manifest: &Path) -> String {
    let stem = manifest.file_stem().map(|s| s.to_string_lossy().into_owned());
    let folder = manifest.parent().and_then(Path::file_name).map(|s| s.to_string_lossy().into_owned());
    match (stem, folder) {
        (Some(s), Some(f)) if s == "manifest" && !f.is_empty() => f,
        (Some(s), _) => s,
        _ => "base".into(),
    }
}

/// `seeds = [1, 2]` or `seeds = { first = 1, count = 20 }`.
fn parse_seeds(v: &toml::Value) -> std::result::Result<Vec<u64>, String> {
    let seed = |x: &toml::Value| match x {
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        other => Err(format!("a seed must be a non-negative integer, got {other}")),
    };
    let seeds: Vec<u64> = match v {
        toml::Value::Array(items) => items.iter().map(seed).collect::<std::result::Result<_, _>>()?,
        toml::Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| !["first", "count"].contains(&k.as_str())) {
                return Err(format!("unknown key `{k}` (a range is {{ first = 1, count = 20 }})"));
            }
            let first = t.get("first").map_or(Ok(1), seed)?;
            let count = t.get("count").ok_or("a range needs `count`")?;
            let count = seed(count)?;
            if count > MAX_RUNS as u64 {
                return Err(format!("count {count} is more than {MAX_RUNS} runs"));
            }
            (0..count)
                .map(|k| first.checked_add(k).ok_or("seeds overflow u64"))
                .collect::<std::result::Result<_, _>>()?
        }
        other => return Err(format!("must be a list of seeds or {{ first = 1, count = 20 }}, got {other}")),
    };
    if seeds.is_empty() {
        return Err("names no seed".into());
    }
    for (i, s) in seeds.iter().enumerate() {
        if seeds[..i].contains(s) {
            return Err(format!("seed {s} is given twice"));
        }
    }
    Ok(seeds)
}

/// The `(key path, value)` leaves of a table, nested tables joined into dotted paths.
fn leaves(v: &toml::Value, prefix: &str, out: &mut Vec<(String, toml::Value)>) -> std::result::Result<(), String> {
    let toml::Value::Table(t) = v else {
        return Err(format!("must be a table of key paths, got {v}"));
    };
    for (k, v) in t {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(_) => leaves(v, &key, out)?,
            _ => out.push((key, v.clone())),
        }
    }
    Ok(())
}

/// A `set = { ... }` table as `key=value` assignments.
fn assignments(v: &toml::Value) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    leaves(v, "", &mut out)?;
    Ok(out.into_iter().map(|(k, v)| assignment(&k, &v)).collect())
}

/// `key=value` with the value written as TOML (what `--set` reads back).
pub fn assignment(key: &str, value: &toml::Value) -> String {
    format!("{key}={value}")
}

/// A `[grid]` or `[zip]` table as axes, each a non-empty list.
fn axes(v: &toml::Value) -> std::result::Result<Vec<Axis>, String> {
    let mut out = Vec::new();
    leaves(v, "", &mut out)?;
    out.into_iter()
        .map(|(key, values)| match values {
            toml::Value::Array(values) if !values.is_empty() => Ok(Axis { key, values }),
            other => Err(format!("`{key}` must be a non-empty list of values, got {other}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SweepSpec> {
        SweepSpec::parse(text, Path::new("dir/s.toml"))
    }

    #[test]
    fn variants_grid_zip_and_seeds_parse() {
        let s = parse(
            r#"
            name = "study"
            seeds = { first = 3, count = 2 }
            [variants.a]
            manifest = "a.toml"
            set = { "training.threads" = 1, model = { N_rec = 20 } }
            [variants.b]
            manifest = "../b.toml"
            [grid.model]
            dale_ratio = [0.8, 0.5]
            [zip]
            "task.coherence" = [0.1, 0.2, 0.3]
            "regularizers[0].coefficient" = [1, 2, 3]
            "#,
        )
        .unwrap();
        assert_eq!(s.name, "study");
        assert_eq!(s.seeds, vec![3, 4]);
        assert_eq!(s.variants[0].manifest, Path::new("dir/a.toml"));
        assert_eq!(s.variants[0].overrides, vec!["training.threads=1", "model.N_rec=20"]);
        assert_eq!(s.variants[1].name, "b");
        assert_eq!(s.grid[0].key, "model.dale_ratio");
        assert_eq!(
            s.zip.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(),
            ["task.coherence", "regularizers[0].coefficient"]
        );
    }

    #[test]
    fn one_manifest_is_one_variant_named_after_it() {
        let s = parse("manifest = \"pd.toml\"\nseeds = [5, 1]\n").unwrap();
        assert_eq!((s.name.as_str(), s.variants[0].name.as_str()), ("s", "pd"));
        let m = parse("manifest = \"../hello_world/manifest.toml\"\n").unwrap();
        assert_eq!(m.variants[0].name, "hello_world");
        assert_eq!(s.seeds, vec![5, 1]);
        assert!(s.grid.is_empty() && s.zip.is_empty());
    }

    #[test]
    fn bad_sweep_files_name_the_field() {
        let cases = [
            ("seeds = [1]\n", "manifest"),
            ("manifest = \"m.toml\"\nseeds = [1, 1]\n", "given twice"),
            ("manifest = \"m.toml\"\nseeds = { first = 1 }\n", "needs `count`"),
            ("manifest = \"m.toml\"\n[grid]\n\"model.N_rec\" = 5\n", "non-empty list"),
            ("manifest = \"m.toml\"\n[grid]\n\"model.N_rec\" = []\n", "non-empty list"),
            ("manifest = \"m.toml\"\n[zip]\na = [1, 2]\nb = [1]\n", "one length"),
            ("manifest = \"m.toml\"\n[grid]\na = [1]\n[zip]\na = [2]\n", "swept twice"),
            ("manifest = \"m.toml\"\nseeds = [1]\n[grid]\nseed = [1]\n", "swept twice"),
            ("manifest = \"m.toml\"\ngrdi = 1\n", "unknown key"),
            ("manifest = \"m.toml\"\n[variants.a]\nmanifest = \"a.toml\"\n", "not both"),
            ("[variants.a]\nset = { a = 1 }\n", "variants.a.manifest"),
            ("[variants.\"a/b\"]\nmanifest = \"a.toml\"\n", "may use letters"),
            ("manifest = \"m.toml\"\nseeds = { first = 0, count = 10000000 }\n", "runs"),
            (
                "manifest = \"m.toml\"\n[grid]\na = [1, 2]\nb = [1, 2]\nc = [1, 2]\nd = [1, 2]\ne = [1, 2]\nf = [1, 2]\ng = [1, 2]\nh = [1, 2]\ni = [1, 2]\nj = [1, 2]\nk = [1, 2]\nl = [1, 2]\nm = [1, 2]\nn = [1, 2]\no = [1, 2]\np = [1, 2]\nq = [1, 2]\nr = [1, 2]\ns = [1, 2]\nt = [1, 2]\n",
                "more than",
            ),
            ("manifest = [", "dir/s.toml"),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected) && e.contains("dir/s.toml"), "{text:?}: {e}");
        }
    }
}
