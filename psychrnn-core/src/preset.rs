//! Manifest presets: `preset = "pycog"` fills in PyCog's defaults (Song et al. 2016, Table 1)
//! wherever the manifest says nothing, before it is parsed. Values the manifest gives win, and
//! the lock manifest writes every value out, so a locked run needs no preset to replay.
//!
//! PyCog's semantics, key by key:
//! - task: `baseline_in = 0.2`, `sigma_in = 0.01` (noise scaled by `sqrt(2 tau_in / dt)`),
//!   `rectify_inputs = true`, `N_batch = 20`, `tau = 100`, `dt = tau / 5`;
//! - model: `basic_rnn` with `rec_noise = 0.15`, Dale's principle at 80% excitatory units made
//!   positive by rectification, no autapses, ReLU, no trained biases, a trained initial state;
//! - initializer `pycog_ei` (Gamma(k = 2) E/I weights, row balance, spectral radius 1.5);
//! - loss: squared error normalised by the mask sum; optimizer: plain SGD at 0.01;
//! - training: global-norm clipping at 1, Omega (lambda 2, bound 1e-20), the NaN/large-norm
//!   safeguard, and validation every 10^4 trials on 1000 trials, stopping when the mean of the
//!   last 5 scores passes `performance_cutoff` (which stays the manifest's to give).

use crate::error::{Error, Result};

/// The presets [`apply_preset`] knows.
pub const PRESETS: [&str; 1] = ["pycog"];

fn set_default(table: &mut toml::Table, key: &str, value: impl Into<toml::Value>) {
    table.entry(key).or_insert_with(|| value.into());
}

fn section<'a>(tree: &'a mut toml::Table, name: &str) -> Result<&'a mut toml::Table> {
    tree.entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or_else(|| Error::invalid(name, "must be a table"))
}

fn table(pairs: &[(&str, toml::Value)]) -> toml::Value {
    toml::Value::Table(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
}

/// Fills the defaults of the manifest's `preset` (if any) into `tree`, a whole manifest.
///
/// # Errors
/// [`Error::Invalid`] naming `preset` for an unknown preset, or a section that is not a table.
pub fn apply_preset(tree: &mut toml::Table) -> Result<()> {
    let Some(preset) = tree.get("preset") else { return Ok(()) };
    match preset.as_str() {
        Some("pycog") => {}
        _ => {
            return Err(Error::invalid("preset", format!("unknown preset {preset} (known: {})", PRESETS.join(", "))));
        }
    }
    let task = section(tree, "task")?;
    set_default(task, "tau", 100.0);
    let tau = task.get("tau").and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)));
    set_default(task, "dt", tau.unwrap_or(100.0) / 5.0);
    set_default(task, "N_batch", 20);
    set_default(task, "baseline_in", 0.2);
    set_default(task, "sigma_in", 0.01);
    set_default(task, "rectify_inputs", true);

    let model = section(tree, "model")?;
    set_default(model, "type", "basic_rnn");
    set_default(model, "rec_noise", 0.15);
    set_default(model, "dale_ratio", 0.8);
    set_default(model, "autapses", false);
    set_default(model, "positive_function", "rectify");
    set_default(model, "transfer_function", "relu");
    set_default(model, "b_rec_train", false);
    set_default(model, "b_out_train", false);

    set_default(tree, "initializer", table(&[("type", "pycog_ei".into())]));
    set_default(tree, "loss", table(&[("type", "mean_squared_error".into()), ("normalize", "mask_sum".into())]));
    set_default(tree, "optimizer", table(&[("type", "sgd".into()), ("learning_rate", 0.01.into())]));

    let n_batch = section(tree, "task")?.get("N_batch").and_then(toml::Value::as_integer).unwrap_or(20).max(1);
    let training = section(tree, "training")?;
    set_default(training, "clip_grads", true);
    set_default(training, "clip_mode", "global_norm");
    set_default(training, "clip_norm", 1.0);
    set_default(training, "omega", table(&[("lambda", 2.0.into()), ("bound", 1e-20.into())]));
    set_default(training, "gradient_safeguard", true);
    set_default(training, "performance_epoch", (10_000 / n_batch).max(1));
    set_default(training, "performance_window", 5);
    set_default(training, "validation_batch_size", 1000);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pycog_fills_only_what_the_manifest_leaves_out() {
        let mut tree: toml::Table = r#"
            preset = "pycog"
            [task]
            type = "pycog_rdm"
            T = 1900.0
            tau = 50.0
            [model]
            N_rec = 100
            rec_noise = 0.2
            [optimizer]
            type = "adam"
        "#
        .parse()
        .unwrap();
        apply_preset(&mut tree).unwrap();
        let task = tree["task"].as_table().unwrap();
        assert_eq!(task["dt"].as_float(), Some(10.0), "dt = tau / 5");
        assert_eq!(task["baseline_in"].as_float(), Some(0.2));
        assert_eq!(task["rectify_inputs"].as_bool(), Some(true));
        let model = tree["model"].as_table().unwrap();
        assert_eq!(model["rec_noise"].as_float(), Some(0.2), "the manifest's value wins");
        assert_eq!(model["positive_function"].as_str(), Some("rectify"));
        assert_eq!(tree["optimizer"]["type"].as_str(), Some("adam"));
        assert_eq!(tree["initializer"]["type"].as_str(), Some("pycog_ei"));
        assert_eq!(tree["loss"]["normalize"].as_str(), Some("mask_sum"));
        assert_eq!(tree["training"]["performance_epoch"].as_integer(), Some(500));
        assert_eq!(tree["training"]["omega"]["lambda"].as_float(), Some(2.0));
        // Applying it again changes nothing (a lock manifest replays as written).
        let once = tree.clone();
        apply_preset(&mut tree).unwrap();
        assert_eq!(tree, once);
    }

    #[test]
    fn an_unknown_preset_is_named() {
        let mut tree: toml::Table = "preset = \"pycgo\"".parse().unwrap();
        assert_eq!(apply_preset(&mut tree).unwrap_err().to_string(), "preset: unknown preset \"pycgo\" (known: pycog)");
    }
}
