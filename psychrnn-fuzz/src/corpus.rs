//! The seed inputs, all from the repository: the example manifests, the `.npz` files NumPy wrote
//! for the reader's tests, arrays as psychrnn writes them, and the tutorials' command lines.

use std::path::{Path, PathBuf};

use psychrnn_core::npz::{NpyArray, npz_bytes};

/// The workspace root (where `examples/` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// A seed manifest: its text and the directory its relative paths start from.
#[derive(Clone, Debug)]
pub struct SeedManifest {
    /// The file.
    pub path: PathBuf,
    /// Its TOML text.
    pub text: String,
}

/// Every manifest under `examples/` (the `Cargo.toml` files of the example crates and the sweep
/// files of `examples/sweeps/` excluded), in path order.
pub fn manifests() -> Vec<SeedManifest> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "sweeps") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "toml")
                && path.file_name().is_some_and(|n| n != "Cargo.toml")
            {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(&workspace_root().join("examples"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(&path).ok().map(|text| SeedManifest { path, text }))
        .collect()
}

/// Every sweep file of `examples/sweeps/`, in path order.
pub fn sweep_files() -> Vec<SeedManifest> {
    let Ok(entries) = std::fs::read_dir(workspace_root().join("examples").join("sweeps")) else { return Vec::new() };
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| std::fs::read_to_string(&path).ok().map(|text| SeedManifest { path, text }))
        .collect()
}

/// Arrays of every kind psychrnn writes (float32 weights, float64 and integer scalars, text).
fn written_arrays() -> Vec<NpyArray> {
    vec![
        NpyArray::f32("W_rec", &[3, 3], vec![0.1, -0.2, 0.3, 0.0, 1.0, -1.0, 0.5, 0.25, 2.0]),
        NpyArray::f32("b_rec", &[3], vec![0.0, 0.1, -0.1]),
        NpyArray::f64("dale_ratio", &[], vec![0.8]),
        NpyArray::string("transfer_function_name", "relu"),
        NpyArray::i64("n", &[2], vec![1, -1]),
    ]
}

/// `.npz` seeds: the NumPy-written fixtures (stored and deflated members, every dtype the reader
/// takes) and an archive as psychrnn writes it.
pub fn npz_files() -> Vec<Vec<u8>> {
    let fixtures = workspace_root().join("psychrnn-core/tests/fixtures");
    let mut out: Vec<Vec<u8>> = ["numpy_dtypes.npz", "numpy_compressed.npz"]
        .iter()
        .filter_map(|f| std::fs::read(fixtures.join(f)).ok())
        .collect();
    if let Ok(bytes) = npz_bytes(&written_arrays()) {
        out.push(bytes);
    }
    out
}

/// `.npy` seeds: one member of each kind psychrnn writes.
pub fn npy_members() -> Vec<Vec<u8>> {
    written_arrays().iter().map(NpyArray::to_npy_bytes).collect()
}

/// A tiny network to train once for the command-line campaign (perceptual discrimination, 8
/// units, one update).
pub const CLI_MANIFEST: &str = r#"
name = "fuzz"
seed = 1
[task]
type = "perceptual_discrimination"
dt = 10
tau = 100
T = 300
N_batch = 8
[model]
type = "basic_rnn"
N_rec = 8
rec_noise = 0.1
[training]
training_iters = 8
test_batch_size = 8
"#;

/// The command lines of the command-line campaign (run in its scratch directory, which holds
/// `m.toml` = [`CLI_MANIFEST`], its trained run `run/` and `inputs.npz`).
pub fn command_lines() -> Vec<Vec<String>> {
    let lines: &[&[&str]] = &[
        &["simulate", "run", "--trials", "4", "--out", "out.npz"],
        &[
            "simulate",
            "run",
            "--trials",
            "3",
            "--lesion",
            "0-3@100",
            "--pulse",
            "0-2@50-150:0.5",
            "--noise",
            "--seed",
            "3",
            "--out",
            "out.npz",
        ],
        &["simulate", "run", "--inputs", "inputs.npz", "--out", "out.npz"],
        &[
            "simulate",
            "run/weights.npz",
            "--task",
            "perceptual_discrimination",
            "--T",
            "300",
            "--trials",
            "2",
            "--out",
            "out.npz",
        ],
        &["simulate", "run", "--w-min", "0.01", "--alpha", "0.2", "--trials", "2", "--out", "out.npz"],
        &["analyze", "run", "psychometric", "--trials", "4", "--bootstrap", "3", "--out", "an", "--force", "--quiet"],
        &["analyze", "run", "pca", "selectivity", "--trials", "3", "--out", "an", "--force", "--quiet"],
        &[
            "analyze",
            "run",
            "lesions",
            "--trials",
            "3",
            "--lesion-fraction",
            "0.25",
            "--out",
            "an",
            "--force",
            "--quiet",
        ],
        &["train", "m.toml", "--set", "model.N_rec=6", "--out", "t", "--force", "--quiet"],
        &["replay", "run/manifest.lock.toml", "--out", "rp", "--force", "--quiet"],
        &["describe", "basic_rnn"],
        &["list", "task"],
    ];
    lines.iter().map(|l| l.iter().map(|a| (*a).to_string()).collect()).collect()
}

/// The flags a mutated command line of `subcommand` may gain.
pub fn flags_of(subcommand: &str) -> &'static [&'static str] {
    match subcommand {
        "simulate" => &[
            "--trials",
            "--lesion",
            "--pulse",
            "--seed",
            "--dt",
            "--T",
            "--alpha",
            "--w-min",
            "--inputs",
            "--task",
            "--rec-multiplier",
        ],
        "analyze" => &[
            "--trials",
            "--conditions",
            "--seed",
            "--bootstrap",
            "--lesion-fraction",
            "--sigmoid",
            "--input",
            "--starts",
            "--start-noise",
            "--input-file",
        ],
        "train" => &["--set"],
        _ => &[],
    }
}
