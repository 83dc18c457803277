//! `psychrnn analyze`: study a trained network (its run directory's weights on its task's
//! condition grid) and write `analysis/<name>.{json,csv,npz,svg}`, every number a plot shows
//! also in the data files.

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::Array2;
use psychrnn_analysis::psychometric::{self, FitOptions, Lapses, Point, Sigmoid};
use psychrnn_analysis::study::{self, Simulation, SimulationOptions, TrialBehaviour};
use psychrnn_analysis::{chronometric, connectivity, pca, selectivity};
use psychrnn_core::ParamSet;
use psychrnn_core::npz::{NpyArray, write_atomically, write_npz};
use psychrnn_core::task::Readout;
use psychrnn_train::Experiment;
use psychrnn_train::plot::{Chart, Heatmap, Legend, Series, Style, heatmaps};
use serde_json::json;

use crate::CliResult;

/// The analyses `psychrnn analyze` runs, in this order when none is named.
pub const ANALYSES: [&str; 10] = [
    "psychometric",
    "chronometric",
    "duration",
    "selectivity",
    "tuning",
    "connectivity",
    "pca",
    "regression",
    "lesions",
    "fixed_points",
];

/// Arguments of `psychrnn analyze`.
#[derive(Args)]
pub struct AnalyzeArgs {
    /// The run directory (its manifest.lock.toml and weights.npz).
    run_dir: PathBuf,
    /// Analyses to run (default: every one the task supports but fixed_points): psychometric,
    /// chronometric, duration, selectivity, tuning, connectivity, pca, regression, lesions,
    /// fixed_points.
    analyses: Vec<String>,
    /// Trials per condition.
    #[arg(long, default_value_t = 200)]
    trials: usize,
    /// Only some of the task's conditions: NAME=V1,V2 keeps those whose task variable (e.g.
    /// `motion`, `f1`), `stimulus` (the signed stimulus) or `group` takes one of the values;
    /// repeat to combine (e.g. `--conditions group=visual --conditions rate=9,16`).
    #[arg(long = "conditions", value_name = "NAME=VALUES")]
    conditions: Vec<String>,
    /// Where to write (default: <run_dir>/analysis).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Turn the network's recurrent noise off (e.g. for clean trajectories).
    #[arg(long)]
    no_noise: bool,
    /// Seed of the trials, the noise and the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Psychometric fit: `cumulative_gaussian` (PyCog) or `logistic`.
    #[arg(long, default_value = "cumulative_gaussian")]
    sigmoid: String,
    /// Psychometric fit: also fit lower and upper lapse rates.
    #[arg(long)]
    lapses: bool,
    /// Bootstrap resamples for the psychometric confidence intervals.
    #[arg(long, default_value_t = 500)]
    bootstrap: usize,
    /// Lesions: the fraction of units in each selectivity-chosen group (and the random control).
    #[arg(long, default_value_t = 0.1)]
    lesion_fraction: f64,
    /// Fixed points: a constant input, one value per input channel (e.g. `0.5,0`); repeat for
    /// several conditions (default: zeros).
    #[arg(long, value_name = "VALUES", allow_hyphen_values = true)]
    input: Vec<String>,
    /// Fixed points: constant inputs from an .npz (`inputs`, [conditions, N_in] or [N_in]).
    #[arg(long, value_name = "FILE")]
    input_file: Option<PathBuf>,
    /// Fixed points: starting states, sampled from the network's states on --trials trials.
    #[arg(long, default_value_t = 1024)]
    starts: usize,
    /// Fixed points: standard deviation of the Gaussian noise added to each start.
    #[arg(long, default_value_t = 0.0)]
    start_noise: f64,
    /// Fixed points: also write every fixed point's Jacobian (`jacobians` [K, N, N]).
    #[arg(long)]
    jacobians: bool,
    /// Replace the files of earlier analyses in the output directory.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `psychrnn analyze`.
///
/// # Errors
/// A run directory without its lock or weights, an unknown analysis, one the task cannot
/// support, files of an earlier analysis (without `--force`), or a failed simulation or write.
pub fn run(args: &AnalyzeArgs) -> CliResult<()> {
    let lock = args.run_dir.join("manifest.lock.toml");
    let weights = args.run_dir.join("weights.npz");
    for (file, what) in [(&lock, "its manifest.lock.toml"), (&weights, "its trained weights.npz")] {
        if !file.is_file() {
            return Err(format!(
                "{} is not a finished run directory: {what} is missing ({})",
                args.run_dir.display(),
                file.display()
            )
            .into());
        }
    }
    let sigmoid = match args.sigmoid.as_str() {
        "cumulative_gaussian" => Sigmoid::CumulativeGaussian,
        "logistic" => Sigmoid::Logistic,
        other => return Err(format!("--sigmoid: unknown `{other}`; use cumulative_gaussian or logistic").into()),
    };
    for name in &args.analyses {
        if !ANALYSES.contains(&name.as_str()) {
            return Err(format!("unknown analysis `{name}`; available: {}", ANALYSES.join(", ")).into());
        }
    }
    let exp = crate::load_experiment(&lock, &[])?;
    let params = crate::trained_params(&exp, &weights, args.seed)?;
    let behaviour = exp.task.behaviour();
    let requested: Vec<&str> = if args.analyses.is_empty() {
        ANALYSES
            .iter()
            .copied()
            .filter(|a| match *a {
                "connectivity" => true,
                // A search per input: run when asked for.
                "fixed_points" => false,
                "chronometric" => behaviour.as_ref().is_some_and(|b| matches!(b.readout, Readout::Threshold { .. })),
                "pca" => behaviour.is_some(),
                "tuning" => behaviour.as_ref().is_some_and(|b| b.conditions.iter().any(|c| !c.variables.is_empty())),
                _ => behaviour.as_ref().is_some_and(|b| b.readout != Readout::NoChoice),
            })
            .collect()
    } else {
        args.analyses.iter().map(String::as_str).collect()
    };
    if let Some(b) = &behaviour
        && b.readout == Readout::NoChoice
        && let Some(a) = requested.iter().find(|a| !["connectivity", "pca", "tuning", "fixed_points"].contains(a))
    {
        return Err(format!(
            "{a}: `{}` asks for no choice (its outputs are a trajectory), so there are no choices to analyse; analyses it supports: connectivity, pca, tuning, fixed_points",
            study::task_tag(&exp),
        )
        .into());
    }
    if let Some(b) = &behaviour
        && requested.contains(&"chronometric")
        && !matches!(b.readout, Readout::Threshold { .. })
    {
        let how = if b.readout == Readout::AtEnd {
            "as the larger output at the trial's end"
        } else {
            "as PsychRNN's mean over the response window"
        };
        return Err(format!(
            "chronometric: `{}` reads choices {how}, so it has no reaction times (tasks declaring a threshold readout have them); analyses it supports: {}",
            study::task_tag(&exp),
            ANALYSES.iter().filter(|a| **a != "chronometric").copied().collect::<Vec<_>>().join(", ")
        )
        .into());
    }
    let out = args.out.clone().unwrap_or_else(|| args.run_dir.join("analysis"));
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    if !args.force
        && let Some(existing) = requested.iter().map(|a| out.join(format!("{a}.json"))).find(|p| p.exists())
    {
        return Err(format!(
            "{} exists from an earlier analysis; pass --force to replace it, or --out for another directory",
            existing.display()
        )
        .into());
    }

    // Connectivity sorts units by selectivity when the task has conditions; fixed points
    // simulate trials of their own.
    let needs_simulation = requested.iter().any(|a| !["connectivity", "fixed_points"].contains(a))
        || (behaviour.is_some() && requested.contains(&"connectivity"));
    let options = SimulationOptions {
        trials_per_condition: args.trials,
        noise: !args.no_noise,
        seed: args.seed,
        keep_rates: true,
        selections: args
            .conditions
            .iter()
            .map(|spec| psychrnn_analysis::selection::Selection::parse(spec))
            .collect::<psychrnn_core::Result<_>>()?,
    };
    let registry = crate::registry_with(&exp.plugin_paths)?;
    let base = lock.parent().unwrap_or(Path::new("."));
    let simulation = if needs_simulation {
        let bar = (!args.quiet).then(|| {
            let style = ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} conditions {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            ProgressBar::new(0).with_style(style).with_message(format!("x {} trials", args.trials))
        });
        let mut progress = |done: usize, total: usize| {
            if let Some(bar) = &bar {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
        };
        let sim = match study::simulate_conditions(&exp, &registry, base, &params, &options, &mut progress) {
            Ok(sim) => Some(sim),
            // Connectivity alone does not need the task's conditions.
            Err(_) if requested == ["connectivity"] => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        sim
    } else {
        None
    };
    let context = json!({
        "run_dir": args.run_dir.display().to_string(),
        "trials_per_condition": args.trials,
        "noise": !args.no_noise,
        "seed": args.seed,
        "conditions": args.conditions,
    });
    let fit_options = FitOptions {
        sigmoid,
        lapses: if args.lapses { Lapses::Free } else { Lapses::None },
        bootstrap: args.bootstrap,
        seed: args.seed,
        ..FitOptions::default()
    };
    for name in requested {
        let written = match (name, &simulation) {
            ("connectivity", sim) => write_connectivity(&out, &exp, &params, sim.as_ref(), &context)?,
            ("fixed_points", _) => {
                let request = crate::fixed_points::FixedPointRequest {
                    inputs: &args.input,
                    input_file: args.input_file.as_deref(),
                    starts: args.starts,
                    start_noise: args.start_noise,
                    jacobians: args.jacobians,
                    trials: args.trials,
                    noise: !args.no_noise,
                    seed: args.seed,
                };
                crate::fixed_points::write_fixed_points(&out, &exp, &params, &weights, &request, &context)?
            }
            // Every analysis but connectivity stopped above if the simulation failed.
            (_, None) => return Err(format!("{name}: the task's conditions were not simulated").into()),
            ("psychometric", Some(sim)) => write_psychometric(&out, sim, &fit_options, &context)?,
            ("lesions", Some(sim)) => {
                let lesion = Lesioning {
                    registry: &registry,
                    base,
                    options: &options,
                    fraction: args.lesion_fraction,
                    quiet: args.quiet,
                };
                write_lesions(&out, &exp, &params, sim, &lesion, &fit_options, &context)?
            }
            ("chronometric", Some(sim)) => write_chronometric(&out, sim, &context)?,
            ("selectivity", Some(sim)) => write_selectivity(&out, sim, &context)?,
            ("pca", Some(sim)) => write_pca(&out, sim, &context)?,
            ("regression", Some(sim)) => write_regression(&out, sim, &context)?,
            ("tuning", Some(sim)) => write_tuning(&out, sim, &context)?,
            ("duration", Some(sim)) => {
                // Run by default only where stimulus durations vary; asked for, it explains.
                if args.analyses.is_empty() && !durations_vary(sim) {
                    continue;
                }
                write_duration(&out, sim, &context)?
            }
            (other, Some(_)) => return Err(format!("unknown analysis `{other}`").into()),
        };
        if !args.quiet {
            out!("{name}: {}", written.join(", "));
        }
    }
    Ok(())
}

pub(crate) fn write_json(out: &Path, name: &str, value: &serde_json::Value) -> CliResult<String> {
    let text = serde_json::to_string_pretty(value)?;
    let file = format!("{name}.json");
    write_atomically(&out.join(&file), format!("{text}\n").as_bytes())?;
    Ok(file)
}

pub(crate) fn write_text(out: &Path, file: &str, text: &str) -> CliResult<String> {
    write_atomically(&out.join(file), text.as_bytes())?;
    Ok(file.to_string())
}

/// A number for CSV and JSON (NaN and infinities as empty / null).
pub(crate) fn csv_number(v: f64) -> String {
    if v.is_finite() { format!("{v}") } else { String::new() }
}

/// Psychometric points per (group, stimulus), from trials with a choice; the stimulus is the
/// condition's variable `x` if given, else its signed stimulus.
fn psychometric_points(sim: &Simulation, trials: &[TrialBehaviour], x: Option<&str>) -> Vec<(String, Point)> {
    let mut points: Vec<(String, Point)> = Vec::new();
    for t in trials.iter().filter(|t| t.choice.is_some()) {
        let c = &sim.conditions[t.condition].condition;
        let stimulus = match x {
            Some(name) => match c.variables.iter().find(|(n, _)| n == name) {
                Some((_, v)) => *v,
                None => continue,
            },
            None => c.signed_stimulus,
        };
        let i = match points.iter().position(|(g, p)| *g == c.group && p.stimulus == stimulus) {
            Some(i) => i,
            None => {
                points.push((c.group.clone(), Point { stimulus, n_trials: 0, n_choice1: 0 }));
                points.len() - 1
            }
        };
        points[i].1.n_trials += 1;
        points[i].1.n_choice1 += u64::from(t.choice == Some(0));
    }
    points.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.stimulus.total_cmp(&b.1.stimulus)));
    points
}

fn write_psychometric(
    out: &Path,
    sim: &Simulation,
    options: &FitOptions,
    context: &serde_json::Value,
) -> CliResult<Vec<String>> {
    let trials = sim.behaviour();
    let axes: Vec<Option<&str>> = if sim.behaviour.psychometric_variables.is_empty() {
        vec![None]
    } else {
        sim.behaviour.psychometric_variables.iter().map(|v| Some(v.as_str())).collect()
    };
    let mut curves = Vec::new();
    let mut files = Vec::new();
    let mut csv =
        String::from("x_variable,group,signed_stimulus,n_trials,n_choice1,fraction_choice1,fitted_fraction_choice1\n");
    for axis in axes {
        let points = psychometric_points(sim, trials, axis);
        let mut groups: Vec<String> = points.iter().map(|(g, _)| g.clone()).collect();
        groups.dedup();
        let x_label =
            axis.map_or_else(|| sim.behaviour.stimulus_label.clone(), |v| format!("signed {v} coherence (%)"));
        let mut chart = Chart {
            y_range: Some((-0.02, 1.02)),
            h_lines: vec![0.5],
            legend: if groups.len() > 1 { Legend::Outside } else { Legend::TopLeft },
            ..Chart::new(
                format!("Psychometric function ({}, {} trials)", sim.task, trials.len()),
                x_label,
                "fraction of choice 1",
            )
        };
        for (k, group) in groups.iter().enumerate() {
            let pts: Vec<Point> = points.iter().filter(|(g, _)| g == group).map(|(_, p)| *p).collect();
            let what = if group.is_empty() { "the curve".to_string() } else { group.clone() };
            // A curve that cannot be fitted (e.g. one-sided) is reported, not fatal.
            let fit = psychometric::fit(&pts, options).map_err(|e| format!("psychometric fit of {what}: {e}"));
            for p in &pts {
                let fitted = fit.as_ref().map_or(f64::NAN, |f| f.curve.predict(p.stimulus));
                csv.push_str(&format!(
                    "{},{group},{},{},{},{},{}\n",
                    axis.unwrap_or(""),
                    p.stimulus,
                    p.n_trials,
                    p.n_choice1,
                    csv_number(p.fraction()),
                    csv_number(fitted)
                ));
            }
            let label = |what: &str| if group.is_empty() { what.to_string() } else { format!("{group}: {what}") };
            chart = chart.with(
                Series::points(label("network"), pts.iter().map(|p| (p.stimulus, p.fraction())).collect()).colored(k),
            );
            if let Ok(fit) = &fit {
                let line = fitted_line(&fit.curve, &pts);
                chart = chart.with(
                    Series::line(
                        label(&format!("fit (bias {:.3}, sigma {:.3})", fit.curve.bias, fit.curve.sigma)),
                        line,
                    )
                    .colored(k),
                );
            }
            curves.push(json!({
                "x_variable": axis,
                "group": group,
                "points": pts.iter().map(|p| json!({
                    "signed_stimulus": p.stimulus,
                    "n_trials": p.n_trials,
                    "n_choice1": p.n_choice1,
                    "fraction_choice1": p.fraction(),
                })).collect::<Vec<_>>(),
                "fit": fit.as_ref().ok(),
                "fit_error": fit.as_ref().err(),
            }));
        }
        let file = axis.map_or_else(|| "psychometric.svg".to_string(), |v| format!("psychometric_{v}.svg"));
        files.push(write_text(out, &file, &chart.to_svg())?);
    }
    let no_choice = trials.iter().filter(|t| t.choice.is_none()).count();
    let cue_combination = sim.behaviour.cue_combination.as_ref().map(|names| {
        let sigma = |group: &str| {
            curves
                .iter()
                .find(|c| c["group"] == group && c["x_variable"].is_null())
                .and_then(|c| c["fit"]["sigma"].as_f64())
        };
        let [first, second, both] = names;
        let (s1, s2, s12) = (sigma(first), sigma(second), sigma(both));
        let optimal = s1.zip(s2).map(|(a, b)| 1.0 / (1.0 / (a * a) + 1.0 / (b * b)).sqrt());
        json!({
            "cues": [first, second],
            "combined": both,
            "sigma_cue_1": s1,
            "sigma_cue_2": s2,
            "sigma_combined": s12,
            "sigma_optimal": optimal,
            "combined_over_optimal": s12.zip(optimal).map(|(s, o)| s / o),
            "combined_below_both_cues": s12.zip(s1.zip(s2)).map(|(s, (a, b))| s < a && s < b),
            "optimal_rule": "1 / sigma_optimal^2 = 1 / sigma_cue_1^2 + 1 / sigma_cue_2^2",
        })
    });
    // Accuracy per condition (e.g. per f1/f2 pair, PyCog Fig 7A).
    let mut by_condition =
        String::from("condition,group,signed_stimulus,variables,n_trials,n_decided,n_correct,fraction_correct\n");
    let mut per_condition = Vec::new();
    for (c, ct) in sim.conditions.iter().enumerate() {
        let mine: Vec<&TrialBehaviour> = trials.iter().filter(|t| t.condition == c).collect();
        let decided = mine.iter().filter(|t| t.choice.is_some()).count();
        let judged: Vec<bool> = mine.iter().filter_map(|t| t.correct).collect();
        let correct = judged.iter().filter(|&&x| x).count();
        let fraction = if judged.is_empty() { f64::NAN } else { correct as f64 / judged.len() as f64 };
        let variables: Vec<String> = ct.condition.variables.iter().map(|(n, v)| format!("{n}={v}")).collect();
        by_condition.push_str(&format!(
            "{c},{},{},{},{},{decided},{correct},{}\n",
            ct.condition.group,
            ct.condition.signed_stimulus,
            variables.join(" "),
            mine.len(),
            csv_number(fraction)
        ));
        per_condition.push(json!({
            "condition": c,
            "group": ct.condition.group,
            "signed_stimulus": ct.condition.signed_stimulus,
            "variables": ct.condition.variables.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "n_trials": mine.len(),
            "n_decided": decided,
            "n_correct": correct,
            "fraction_correct": if fraction.is_finite() { json!(fraction) } else { json!(null) },
        }));
    }
    files.push(write_text(out, "psychometric_conditions.csv", &by_condition)?);
    let value = json!({
        "analysis": "psychometric",
        "conditions": per_condition,
        "cue_combination": cue_combination,
        "task": sim.task,
        "stimulus": sim.behaviour.stimulus_label,
        "choice_1": "output channel 0",
        "trials_without_choice": no_choice,
        "fit_form": "psi(x) = lapse_low + (1 - lapse_low - lapse_high) F((x - bias) / sigma), binomial maximum likelihood",
        "context": context,
        "curves": curves,
    });
    files.insert(0, write_text(out, "psychometric.csv", &csv)?);
    files.insert(0, write_json(out, "psychometric", &value)?);
    Ok(files)
}

fn write_chronometric(out: &Path, sim: &Simulation, context: &serde_json::Value) -> CliResult<Vec<String>> {
    let outcomes: Vec<chronometric::Outcome> = sim
        .behaviour()
        .iter()
        .map(|t| chronometric::Outcome {
            stimulus: sim.conditions[t.condition].condition.signed_stimulus.abs(),
            correct: t.correct,
            reaction_time: t.reaction_time.filter(|_| t.choice.is_some()),
        })
        .collect();
    let curve = chronometric::chronometric(&outcomes);
    let mut csv = String::from(
        "stimulus,n_trials,n_no_decision,mean_rt_ms,sem_rt_ms,n_correct,mean_rt_correct_ms,sem_rt_correct_ms,n_error,mean_rt_error_ms,sem_rt_error_ms,accuracy\n",
    );
    for p in &curve {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            p.stimulus,
            p.n_trials,
            p.n_no_decision,
            csv_number(p.mean_rt),
            csv_number(p.sem_rt),
            p.n_correct,
            csv_number(p.mean_rt_correct),
            csv_number(p.sem_rt_correct),
            p.n_error,
            csv_number(p.mean_rt_error),
            csv_number(p.sem_rt_error),
            csv_number(p.accuracy)
        ));
    }
    let series = |name: &str, rt: fn(&chronometric::ChronometricPoint) -> (f64, f64), color: usize| {
        Series::points(name, curve.iter().map(|p| (p.stimulus, rt(p).0)).collect())
            .styled(Style::LinePoints)
            .with_errors(curve.iter().map(|p| rt(p).1).collect())
            .colored(color)
    };
    let chart = Chart::new(
        format!("Chronometric function ({})", sim.task),
        sim.behaviour.stimulus_label.replace("signed ", "").to_string(),
        "reaction time (ms), mean ± s.e.m.",
    )
    .with(series("correct trials", |p| (p.mean_rt_correct, p.sem_rt_correct), 0))
    .with(series("error trials", |p| (p.mean_rt_error, p.sem_rt_error), 1));
    let value = json!({ "analysis": "chronometric", "task": sim.task, "context": context, "points": curve });
    Ok(vec![
        write_json(out, "chronometric", &value)?,
        write_text(out, "chronometric.csv", &csv)?,
        write_text(out, "chronometric.svg", &chart.to_svg())?,
    ])
}

/// Each trial's choice, in [`Simulation::behaviour`]'s order.
fn choices(sim: &Simulation) -> Vec<Option<usize>> {
    sim.behaviour().iter().map(|t| t.choice).collect()
}

/// The fitted curve over the stimuli of `points`, at 201 values, for plotting.
fn fitted_line(curve: &psychometric::Curve, points: &[Point]) -> Vec<(f64, f64)> {
    let (lo, hi) = psychometric::stimulus_range(points);
    (0..=200).map(|i| lo + (hi - lo) * f64::from(i) / 200.0).map(|x| (x, curve.predict(x))).collect()
}

/// Excitatory flags of the units (Dale's principle: the sign of each unit's outgoing weights;
/// without it, `None`).
fn excitatory(exp: &Experiment, w_rec: &Array2<f32>) -> Option<Vec<bool>> {
    let ratio = exp.model.dale_ratio()?;
    let n = w_rec.ncols();
    let n_exc = (ratio * n as f64) as usize;
    Some(
        (0..n)
            .map(|j| {
                let col = w_rec.column(j);
                if col.iter().any(|&w| w < 0.0) {
                    false
                } else if col.iter().any(|&w| w > 0.0) {
                    true
                } else {
                    j < n_exc
                }
            })
            .collect(),
    )
}

fn write_selectivity(out: &Path, sim: &Simulation, context: &serde_json::Value) -> CliResult<Vec<String>> {
    let activity = sim.stimulus_activity()?;
    let d = selectivity::choice_selectivity(activity.view(), &choices(sim))?;
    let mut csv = String::from("unit,d_prime\n");
    for (u, v) in d.iter().enumerate() {
        csv.push_str(&format!("{u},{}\n", csv_number(*v)));
    }
    let mut sorted: Vec<(usize, f64)> = d.iter().copied().enumerate().filter(|(_, v)| v.is_finite()).collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let chart = Chart {
        h_lines: vec![0.0],
        ..Chart::new(
            format!("Choice selectivity d' of {} units ({})", d.len(), sim.task),
            "units ranked from most selective for choice 1 to most selective for choice 2",
            "d' (stimulus period; PyCog Eq 30)",
        )
    }
    .with(Series::points("", sorted.iter().enumerate().map(|(rank, (_, v))| (rank as f64, *v)).collect()));
    let value = json!({
        "analysis": "selectivity",
        "task": sim.task,
        "definition": "d' = (mean_1 - mean_2) / sqrt((var_1 + var_2) / 2) of each unit's rate summed over the stimulus period, over trials with choice 1 vs choice 2 (population variances); positive: prefers choice 1",
        "context": context,
        "d_prime": d.iter().map(|v| if v.is_finite() { json!(v) } else { json!(null) }).collect::<Vec<_>>(),
        "order_choice1_to_choice2": sorted.iter().map(|(u, _)| *u).collect::<Vec<_>>(),
    });
    write_npz(&out.join("selectivity.npz"), &[NpyArray::f64("d_prime", &[d.len()], d.clone())])?;
    Ok(vec![
        write_json(out, "selectivity", &value)?,
        write_text(out, "selectivity.csv", &csv)?,
        "selectivity.npz".into(),
        write_text(out, "selectivity.svg", &chart.to_svg())?,
    ])
}

fn write_connectivity(
    out: &Path,
    exp: &Experiment,
    params: &ParamSet<f32>,
    sim: Option<&Simulation>,
    context: &serde_json::Value,
) -> CliResult<Vec<String>> {
    let effective = exp.model.effective_weights(params)?;
    let w_rec = effective
        .require("W_rec")
        .map_err(|_| "connectivity: the model has no effective `W_rec` (a rate RNN's recurrent weights)")?
        .clone();
    let n = w_rec.nrows();
    let exc = excitatory(exp, &w_rec);
    // Sorted by selectivity where it exists (choices of both kinds, a stimulus period); by unit
    // index otherwise (a trajectory task, a network that always chooses one side).
    let d = sim.and_then(|sim| {
        let activity = sim.stimulus_activity().ok()?;
        selectivity::choice_selectivity(activity.view(), &choices(sim)).ok()
    });
    let key: Vec<f64> = d.clone().unwrap_or_else(|| vec![0.0; n]);
    let n_exc = exc.as_ref().map_or(n, |e| e.iter().filter(|&&x| x).count());
    let order = connectivity::units_by_selectivity(&key, exc.as_deref(), [n_exc, n - n_exc])?;
    let spectrum = connectivity::spectrum(w_rec.view())?;
    let balance = exc.as_ref().map(|e| connectivity::ei_balance(w_rec.view(), e)).transpose()?;
    let pick = |m: &Array2<f32>, rows: bool, cols: bool| -> Array2<f64> {
        let r: Vec<usize> = if rows { order.clone() } else { (0..m.nrows()).collect() };
        let c: Vec<usize> = if cols { order.clone() } else { (0..m.ncols()).collect() };
        Array2::from_shape_fn((r.len(), c.len()), |(i, j)| f64::from(m[[r[i], c[j]]]))
    };
    let mut arrays = Vec::new();
    let mut panels = Vec::new();
    let shown_exc = exc.as_ref().map(|e| order.iter().filter(|&&u| e[u]).count());
    for (name, rows, cols) in [("W_in", true, false), ("W_rec", true, true), ("W_out", false, true)] {
        let Ok(m) = effective.require(name) else { continue };
        let sorted = pick(m, rows, cols);
        let split = shown_exc.map(|k| (if rows { k } else { 0 }, if cols { k } else { 0 }));
        panels.push(Heatmap {
            title: format!("{name} ({} x {})", sorted.nrows(), sorted.ncols()),
            rows: sorted.nrows(),
            cols: sorted.ncols(),
            values: sorted.iter().copied().collect(),
            split,
        });
        arrays.push(NpyArray::f64(
            format!("{name}_sorted"),
            &[sorted.nrows(), sorted.ncols()],
            sorted.iter().copied().collect(),
        ));
    }
    arrays.push(NpyArray::f64("order", &[order.len()], order.iter().map(|&u| u as f64).collect()));
    arrays.push(NpyArray::f64("eigenvalues_real", &[spectrum.len()], spectrum.iter().map(|z| z.0).collect()));
    arrays.push(NpyArray::f64("eigenvalues_imag", &[spectrum.len()], spectrum.iter().map(|z| z.1).collect()));
    if let Some(b) = &balance {
        arrays.push(NpyArray::f64("ei_balance", &[b.len()], b.clone()));
    }
    write_npz(&out.join("connectivity.npz"), &arrays)?;
    let sorting = if d.is_some() { "choice selectivity d' (choice 1 first)" } else { "unit index" };
    let groups = if exc.is_some() { "; excitatory, then inhibitory units (black lines)" } else { "" };
    let heat = heatmaps("Effective weights", &format!("units sorted by {sorting}{groups}"), &panels);
    let radius = spectrum.first().map_or(0.0, |z| z.0.hypot(z.1));
    let spectrum_chart = Chart {
        circle: Some(1.0),
        equal_aspect: true,
        ..Chart::new(
            format!("Eigenvalues of the effective W_rec ({n} units; spectral radius {radius:.3})"),
            "real part",
            "imaginary part",
        )
    }
    .with(Series::points("eigenvalue", spectrum.clone()))
    .with(Series { name: "unit circle".into(), style: Style::Dashed, color: Some(7), ..Series::default() });
    let value = json!({
        "analysis": "connectivity",
        "context": context,
        "n_units": n,
        "n_excitatory": exc.as_ref().map(|e| e.iter().filter(|&&x| x).count()),
        "sorted_by": sorting,
        "order": order,
        "spectral_radius": radius,
        "eigenvalues": spectrum.iter().map(|z| json!([z.0, z.1])).collect::<Vec<_>>(),
        "ei_balance": balance,
        "ei_balance_definition": "per unit: sum of excitatory minus sum of |inhibitory| incoming effective recurrent weights",
        "mean_ei_balance": balance.as_ref().map(|b| b.iter().sum::<f64>() / b.len().max(1) as f64),
        "clustering": clustering(&w_rec, exc.as_deref(), d.as_deref()),
    });
    let mut csv = String::from("unit,excitatory,d_prime,ei_balance\n");
    for u in 0..n {
        csv.push_str(&format!(
            "{u},{},{},{}\n",
            exc.as_ref().map_or(String::new(), |e| e[u].to_string()),
            d.as_ref().map_or(String::new(), |d| csv_number(d[u])),
            balance.as_ref().map_or(String::new(), |b| csv_number(b[u]))
        ));
    }
    Ok(vec![
        write_json(out, "connectivity", &value)?,
        write_text(out, "connectivity.csv", &csv)?,
        "connectivity.npz".into(),
        write_text(out, "connectivity.svg", &heat)?,
        write_text(out, "spectrum.svg", &spectrum_chart.to_svg())?,
    ])
}

/// `chart` with each condition's trajectory through columns `(x, y)` of `projected`
/// (`[conditions x steps, components]`): coloured by the sign of the evidence, one legend entry
/// per sign (zero evidence dashed); for a task without choices, one coloured curve per condition.
fn with_trajectories(
    mut chart: Chart,
    sim: &Simulation,
    projected: &Array2<f64>,
    steps: usize,
    (x, y): (usize, usize),
) -> Chart {
    let mut named = [false; 3];
    let by_condition = sim.behaviour.readout == Readout::NoChoice;
    for (c, ct) in sim.conditions.iter().enumerate() {
        let points: Vec<(f64, f64)> =
            (0..steps).map(|t| (projected[[c * steps + t, x]], projected[[c * steps + t, y]])).collect();
        if by_condition {
            chart = chart.with(Series::line(ct.condition.group.clone(), points).colored(c));
            continue;
        }
        let s = ct.condition.signed_stimulus;
        let (slot, color, label) = if s > 0.0 {
            (0, 0, "evidence for choice 1")
        } else if s < 0.0 {
            (1, 1, "evidence for choice 2")
        } else {
            (2, 6, "zero evidence")
        };
        let name = if named[slot] { String::new() } else { label.to_string() };
        named[slot] = true;
        let style = if s == 0.0 { Style::Dashed } else { Style::Line };
        chart = chart.with(Series::line(name, points).colored(color).styled(style));
    }
    chart
}

/// PyCog Fig 3's clustering in numbers: the mean effective weight between excitatory units
/// preferring the same choice (d' of one sign) and between those preferring opposite choices.
fn clustering(w_rec: &Array2<f32>, excitatory: Option<&[bool]>, d: Option<&[f64]>) -> serde_json::Value {
    let (Some(exc), Some(d)) = (excitatory, d) else { return serde_json::Value::Null };
    let side = |u: usize| -> Option<bool> { (exc[u] && d[u].is_finite() && d[u] != 0.0).then(|| d[u] > 0.0) };
    let (mut same, mut opposite) = ((0.0, 0usize), (0.0, 0usize));
    for post in 0..w_rec.nrows() {
        for pre in (0..w_rec.ncols()).filter(|&pre| pre != post) {
            if let (Some(a), Some(b)) = (side(post), side(pre)) {
                let slot = if a == b { &mut same } else { &mut opposite };
                slot.0 += f64::from(w_rec[[post, pre]]);
                slot.1 += 1;
            }
        }
    }
    let mean = |(sum, n): (f64, usize)| if n > 0 { Some(sum / n as f64) } else { None };
    json!({
        "definition": "mean effective W_rec from excitatory units to excitatory units (no self-connections), between units whose d' has the same sign and between units whose d' has opposite signs",
        "excitatory_same_preference": mean(same),
        "excitatory_opposite_preference": mean(opposite),
        "pairs_same": same.1,
        "pairs_opposite": opposite.1,
    })
}

fn write_pca(out: &Path, sim: &Simulation, context: &serde_json::Value) -> CliResult<Vec<String>> {
    let steps = sim.common_stimulus_steps();
    if steps < 2 {
        return Err("pca: the trials' common stimulus period is shorter than 2 steps".into());
    }
    let averages = sim.condition_averages(steps);
    let (n_cond, _, units) = averages.dim();
    let stacked = averages.to_shape((n_cond * steps, units)).map_err(|e| e.to_string())?.to_owned();
    let k = units.min(10);
    let fitted = pca::pca(stacked.view(), k)?;
    let projected = fitted.project(stacked.view())?;
    let chart = Chart {
        legend: Legend::Outside,
        ..Chart::new(
            format!(
                "Condition-averaged trajectories, stimulus period ({} ms from onset)",
                (steps as f64 * sim.dt).round()
            ),
            format!("PC 1 ({:.1}% of variance)", 100.0 * fitted.explained_variance_ratio[0]),
            format!(
                "PC 2 ({:.1}% of variance)",
                100.0 * fitted.explained_variance_ratio.get(1).copied().unwrap_or(0.0)
            ),
        )
    };
    let chart = with_trajectories(chart, sim, &projected, steps, (0, 1.min(k - 1)));
    let projections = projected.to_shape((n_cond, steps, k)).map_err(|e| e.to_string())?.to_owned();
    write_npz(
        &out.join("pca.npz"),
        &[
            NpyArray::f64("components", &[k, units], fitted.components.iter().copied().collect()),
            NpyArray::f64("explained_variance_ratio", &[k], fitted.explained_variance_ratio.clone()),
            NpyArray::f64("mean", &[units], fitted.mean.to_vec()),
            NpyArray::f64("projections", &[n_cond, steps, k], projections.iter().copied().collect()),
            NpyArray::f64("condition_averages", &[n_cond, steps, units], averages.iter().copied().collect()),
            NpyArray::f64(
                "signed_stimulus",
                &[n_cond],
                sim.conditions.iter().map(|c| c.condition.signed_stimulus).collect(),
            ),
        ],
    )?;
    let mut csv = String::from("component,explained_variance,explained_variance_ratio\n");
    for i in 0..k {
        csv.push_str(&format!("{},{},{}\n", i + 1, fitted.explained_variance[i], fitted.explained_variance_ratio[i]));
    }
    let value = json!({
        "analysis": "pca",
        "task": sim.task,
        "data": "rates averaged over each condition's trials, aligned at stimulus onset, over the common stimulus period; stacked [conditions x time, units]",
        "steps": steps,
        "dt_ms": sim.dt,
        "context": context,
        "explained_variance_ratio": fitted.explained_variance_ratio,
        "total_variance": fitted.total_variance,
        "conditions": sim.conditions.iter().map(|c| json!({"signed_stimulus": c.condition.signed_stimulus, "group": c.condition.group})).collect::<Vec<_>>(),
    });
    Ok(vec![
        write_json(out, "pca", &value)?,
        write_text(out, "pca.csv", &csv)?,
        "pca.npz".into(),
        write_text(out, "pca.svg", &chart.to_svg())?,
    ])
}

/// What re-simulating under lesions needs.
struct Lesioning<'a> {
    registry: &'a psychrnn_core::Registry,
    base: &'a Path,
    options: &'a SimulationOptions,
    fraction: f64,
    quiet: bool,
}

/// One lesion group per area of a multi-area network (`[model.areas]`): its excitatory and
/// inhibitory units.
fn area_groups(exp: &Experiment) -> CliResult<Vec<psychrnn_analysis::lesions::LesionGroup>> {
    let Some(areas) = exp.configs.model.get("areas") else { return Ok(Vec::new()) };
    let layout: psychrnn_rate::areas::AreaLayout = areas.clone().try_into().map_err(|e| format!("model.areas: {e}"))?;
    let Some(ratio) = exp.model.dale_ratio() else { return Ok(Vec::new()) };
    let masks = layout.build(exp.model.n_rec(), exp.task.n_in(), exp.task.n_out(), ratio)?;
    Ok(layout
        .area
        .iter()
        .zip(masks.units)
        .map(|(area, (exc, inh))| {
            let mut units: Vec<usize> = exc.into_iter().chain(inh).collect();
            units.sort_unstable();
            psychrnn_analysis::lesions::LesionGroup { name: format!("area {}", area.name), units }
        })
        .collect())
}

/// Fraction correct over trials with a decision and a correct answer.
fn accuracy(trials: &[TrialBehaviour]) -> f64 {
    let judged: Vec<bool> = trials.iter().filter_map(|t| t.correct).collect();
    if judged.is_empty() { f64::NAN } else { judged.iter().filter(|&&c| c).count() as f64 / judged.len() as f64 }
}

fn write_lesions(
    out: &Path,
    exp: &Experiment,
    params: &ParamSet<f32>,
    intact: &Simulation,
    lesion: &Lesioning<'_>,
    fit_options: &FitOptions,
    context: &serde_json::Value,
) -> CliResult<Vec<String>> {
    if !(lesion.fraction > 0.0 && lesion.fraction <= 1.0) {
        return Err(format!("--lesion-fraction must lie in (0, 1], got {}", lesion.fraction).into());
    }
    // Without selectivity (e.g. a network that always chooses one side), no selectivity groups.
    let d = intact
        .stimulus_activity()
        .ok()
        .and_then(|activity| selectivity::choice_selectivity(activity.view(), &choices(intact)).ok());
    let w_rec = exp
        .model
        .effective_weights(params)?
        .require("W_rec")
        .map_err(|_| "lesions: the model has no `W_rec`: lesions silence rate units")?
        .clone();
    let exc = excitatory(exp, &w_rec);
    let n = w_rec.ncols();
    let mut groups = psychrnn_analysis::lesions::standard_groups(
        n,
        d.as_deref(),
        exc.as_deref(),
        lesion.fraction,
        lesion.options.seed,
    );
    groups.extend(area_groups(exp)?);
    let fit_of = |sim: &Simulation| -> CliResult<(f64, Option<psychometric::Fit>, Vec<Point>)> {
        let trials = sim.behaviour();
        let points: Vec<Point> = psychometric_points(sim, trials, None).into_iter().map(|(_, p)| p).collect();
        // A lesion can leave the network choosing one side only: no curve to fit, not an error.
        let fit = psychometric::fit(&points, fit_options).ok();
        Ok((accuracy(trials), fit, points))
    };
    let (intact_accuracy, intact_fit, intact_points) = fit_of(intact)?;
    let bar = (!lesion.quiet).then(|| {
        let style = ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} lesions")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        ProgressBar::new(groups.len() as u64).with_style(style)
    });
    let mut rows = vec![("intact".to_string(), Vec::new(), intact_accuracy, intact_fit.clone(), intact_points)];
    for g in &groups {
        let lesioned = psychrnn_analysis::lesions::silence(params, &g.units)?;
        // Behaviour alone: the lesioned network's rates are not kept.
        let options = SimulationOptions { keep_rates: false, ..lesion.options.clone() };
        let sim = study::simulate_conditions(exp, lesion.registry, lesion.base, &lesioned, &options, &mut |_, _| {})?;
        let (acc, fit, points) = fit_of(&sim)?;
        rows.push((g.name.clone(), g.units.clone(), acc, fit, points));
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let intact_bias = intact_fit.as_ref().map(|f| f.curve.bias);
    let intact_sigma = intact_fit.as_ref().map(|f| f.curve.sigma);
    let mut csv = String::from("group,n_units,accuracy,bias,sigma,bias_shift,sigma_ratio\n");
    let mut entries = Vec::new();
    let mut chart = Chart {
        y_range: Some((-0.02, 1.02)),
        h_lines: vec![0.5],
        legend: Legend::Outside,
        ..Chart::new(
            format!("Psychometric functions under lesions ({n} units)"),
            intact.behaviour.stimulus_label.clone(),
            "fraction of choice 1",
        )
    };
    for (k, (name, units, acc, fit, points)) in rows.iter().enumerate() {
        let bias = fit.as_ref().map(|f| f.curve.bias);
        let sigma = fit.as_ref().map(|f| f.curve.sigma);
        let shift = bias.zip(intact_bias).map(|(b, i)| b - i);
        let ratio = sigma.zip(intact_sigma).map(|(s, i)| s / i);
        let opt = |v: Option<f64>| v.map_or(String::new(), csv_number);
        csv.push_str(&format!(
            "{name},{},{},{},{},{},{}\n",
            units.len(),
            csv_number(*acc),
            opt(bias),
            opt(sigma),
            opt(shift),
            opt(ratio)
        ));
        entries.push(json!({
            "group": name,
            "units": units,
            "n_units": units.len(),
            "accuracy": if acc.is_finite() { json!(acc) } else { json!(null) },
            "fit": fit,
            "bias_shift": shift,
            "sigma_ratio": ratio,
            "points": points.iter().map(|p| json!({"signed_stimulus": p.stimulus, "n_trials": p.n_trials, "n_choice1": p.n_choice1})).collect::<Vec<_>>(),
        }));
        let lesioned = if units.is_empty() { String::new() } else { format!(", {} units silenced", units.len()) };
        let label = if acc.is_finite() {
            format!("{name}{lesioned}: accuracy {acc:.2}")
        } else {
            format!("{name}{lesioned}: no judged decision")
        };
        if let Some(f) = fit {
            let line = fitted_line(&f.curve, points);
            chart = chart.with(Series::line(label, line).colored(k));
        } else {
            chart = chart.with(
                Series::points(label, points.iter().map(|p| (p.stimulus, p.fraction())).collect())
                    .styled(Style::LinePoints)
                    .colored(k),
            );
        }
        chart = chart.with(Series::points("", points.iter().map(|p| (p.stimulus, p.fraction())).collect()).colored(k));
    }
    let value = json!({
        "analysis": "lesions",
        "task": intact.task,
        "method": "units silenced by removing their outgoing weights (columns of W_rec and W_out) for the whole trial; groups chosen by choice selectivity d' of the intact network, a random control of the same size, all inhibitory units, and each area of a multi-area network",
        "fraction": lesion.fraction,
        "context": context,
        "groups": entries,
    });
    Ok(vec![
        write_json(out, "lesions", &value)?,
        write_text(out, "lesions.csv", &csv)?,
        write_text(out, "lesions.svg", &chart.to_svg())?,
    ])
}

/// PyCog keeps the 12 leading principal components to denoise the regression coefficients.
const REGRESSION_PCS: usize = 12;

fn write_regression(out: &Path, sim: &Simulation, context: &serde_json::Value) -> CliResult<Vec<String>> {
    let steps = sim.common_stimulus_steps();
    if steps < 2 {
        return Err("regression: the trials' common stimulus period is shorter than 2 steps".into());
    }
    // Variables: the choice (+1 for choice 1, -1 for choice 2), then the task's, each scaled by
    // its largest magnitude over the conditions (as PyCog scales coherences).
    let mut names: Vec<String> = vec!["choice".into()];
    for c in &sim.conditions {
        for (name, _) in &c.condition.variables {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let scale: Vec<f64> = names
        .iter()
        .map(|n| {
            let m = sim
                .conditions
                .iter()
                .flat_map(|c| c.condition.variables.iter().filter(|(v, _)| v == n).map(|(_, x)| x.abs()))
                .fold(0.0, f64::max);
            if m > 0.0 { m } else { 1.0 }
        })
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let units = sim.conditions.first().map_or(0, |c| c.trajectory.rates.len_of(ndarray::Axis(2)));
    let mut reg = psychrnn_analysis::regression::Regression::new(&refs, steps, units)?;
    let mut used = 0usize;
    for ((ct, b), t) in sim.trials().zip(sim.behaviour()) {
        let Some(choice) = t.choice.filter(|&c| c < 2) else { continue };
        let Some((start, _)) = sim.stimulus_steps(ct, b) else { continue };
        if start + steps > ct.trajectory.rates.len_of(ndarray::Axis(0)) {
            continue;
        }
        let mut values = vec![if choice == 0 { 1.0 } else { -1.0 }];
        for (k, name) in names.iter().enumerate().skip(1) {
            let v = ct.condition.variables.iter().find(|(n, _)| n == name).map_or(0.0, |(_, x)| *x);
            values.push(v / scale[k]);
        }
        let rates = ct.trajectory.rates.slice(ndarray::s![start..start + steps, b, ..]);
        reg.add_trial(&values, rates)?;
        used += 1;
    }
    let averages = sim.condition_averages(steps);
    let axes = reg.finish(averages.view(), REGRESSION_PCS)?;
    let (n_cond, _, _) = averages.dim();
    let stacked = averages.to_shape((n_cond * steps, units)).map_err(|e| e.to_string())?.to_owned();
    let projected = axes.project(stacked.view())?;
    let n_axes = names.len();
    let second = 1.min(n_axes - 1);
    let mut chart = Chart {
        legend: Legend::Outside,
        ..Chart::new(
            format!(
                "Condition averages on the task axes (regression, {} ms from stimulus onset)",
                (steps as f64 * sim.dt).round()
            ),
            format!("{} axis (z-scored rate, a.u.)", names[0]),
            format!("{} axis (z-scored rate, a.u.)", names[second]),
        )
    };
    chart = with_trajectories(chart, sim, &projected, steps, (0, second));
    let mut csv = String::from("time_from_onset_ms");
    for n in &names {
        csv.push_str(&format!(",{n}_coefficient_norm"));
    }
    csv.push('\n');
    for t in 0..steps {
        csv.push_str(&format!("{}", t as f64 * sim.dt));
        for v in 0..n_axes {
            csv.push_str(&format!(",{}", axes.norms[[v, t]]));
        }
        csv.push('\n');
    }
    let projections = projected.to_shape((n_cond, steps, n_axes)).map_err(|e| e.to_string())?.to_owned();
    let per_condition: Vec<serde_json::Value> = sim
        .conditions
        .iter()
        .enumerate()
        .map(|(c, ct)| {
            let at_end: serde_json::Map<String, serde_json::Value> =
                names.iter().enumerate().map(|(v, n)| (n.clone(), json!(projections[[c, steps - 1, v]]))).collect();
            let variables: serde_json::Map<String, serde_json::Value> =
                ct.condition.variables.iter().map(|(n, x)| (n.clone(), json!(x))).collect();
            json!({
                "group": ct.condition.group,
                "signed_stimulus": ct.condition.signed_stimulus,
                "variables": variables,
                "projection_at_end": at_end,
            })
        })
        .collect();
    let mut files = Vec::new();
    if let Some(svg) = regression_panels(sim, &names, &projections) {
        files.push(write_text(out, "regression_contexts.svg", &svg)?);
    }
    write_npz(
        &out.join("regression.npz"),
        &[
            NpyArray::f64("axes", &[n_axes, units], axes.axes.iter().copied().collect()),
            NpyArray::f64("coefficients", &[n_axes, steps, units], axes.coefficients.iter().copied().collect()),
            NpyArray::f64("coefficient_norms", &[n_axes, steps], axes.norms.iter().copied().collect()),
            NpyArray::f64("projections", &[n_cond, steps, n_axes], projections.iter().copied().collect()),
            NpyArray::f64(
                "signed_stimulus",
                &[n_cond],
                sim.conditions.iter().map(|c| c.condition.signed_stimulus).collect(),
            ),
        ],
    )?;
    let value = json!({
        "analysis": "regression",
        "task": sim.task,
        "method": "Mante et al. 2013 (PyCog mante.py): z-score each unit; at each time step regress rates over trials on the variables and a constant; denoise the coefficients with the leading principal components of the condition averages; take each variable's coefficients where their norm peaks; orthogonalise by QR in the order of variables; project condition averages",
        "variables": names,
        "variable_scale": scale,
        "choice_coding": "+1 for choice 1 (output 0), -1 for choice 2",
        "trials_used": used,
        "principal_components": axes.n_pcs,
        "steps": steps,
        "dt_ms": sim.dt,
        "t_max_ms": axes.t_max.iter().map(|&t| t as f64 * sim.dt).collect::<Vec<_>>(),
        "conditions": per_condition,
        "projection_at_end_definition": "each condition average's projection on each axis at the last step of the common stimulus period",
        "context": context,
    });
    files.extend([
        write_json(out, "regression", &value)?,
        write_text(out, "regression.csv", &csv)?,
        "regression.npz".into(),
        write_text(out, "regression.svg", &chart.to_svg())?,
    ]);
    Ok(files)
}

/// Mante et al. 2013's Fig 2 (PyCog Fig 4B, D): for each group of conditions (e.g. a context)
/// and each task variable that varies within it, the trajectories on the choice axis (x) and
/// that variable's axis (y), averaged over the group's conditions sharing a value of the
/// variable. `None` for a task with fewer than two groups.
fn regression_panels(sim: &Simulation, names: &[String], projections: &ndarray::Array3<f64>) -> Option<String> {
    let mut groups: Vec<&str> = Vec::new();
    for ct in &sim.conditions {
        if !ct.condition.group.is_empty() && !groups.contains(&ct.condition.group.as_str()) {
            groups.push(&ct.condition.group);
        }
    }
    if groups.len() < 2 {
        return None;
    }
    let steps = projections.len_of(ndarray::Axis(1));
    let value_of =
        |c: usize, name: &str| sim.conditions[c].condition.variables.iter().find(|(n, _)| n == name).map(|(_, x)| *x);
    let mut charts = Vec::new();
    for group in &groups {
        let members: Vec<usize> =
            (0..sim.conditions.len()).filter(|&c| sim.conditions[c].condition.group == *group).collect();
        for (v, name) in names.iter().enumerate().skip(1) {
            let mut values: Vec<f64> = members.iter().filter_map(|&c| value_of(c, name)).collect();
            values.sort_by(f64::total_cmp);
            values.dedup();
            if values.len() < 2 {
                continue;
            }
            let mut chart = Chart {
                legend: Legend::Outside,
                ..Chart::new(
                    format!("{group}: sorted by {name}"),
                    format!("{} axis (z-scored rate, a.u.)", names[0]),
                    format!("{name} axis (z-scored rate, a.u.)"),
                )
            };
            for (k, &x) in values.iter().enumerate() {
                let same: Vec<usize> = members.iter().copied().filter(|&c| value_of(c, name) == Some(x)).collect();
                let points: Vec<(f64, f64)> = (0..steps)
                    .map(|t| {
                        let mean = |axis: usize| {
                            same.iter().map(|&c| projections[[c, t, axis]]).sum::<f64>() / same.len() as f64
                        };
                        (mean(0), mean(v))
                    })
                    .collect();
                // Psychometric variables are coherences in % (as their psychometric axes say).
                let label = if sim.behaviour.psychometric_variables.contains(name) {
                    format!("{name} coherence {x}%")
                } else {
                    format!("{name} {x}")
                };
                chart = chart.with(Series::line(label, points).colored(k));
            }
            charts.push(chart);
        }
    }
    if charts.is_empty() {
        return None;
    }
    let columns = charts.len() / groups.len();
    Some(psychrnn_train::plot::panels(
        "Condition averages on the task axes in each group (Mante et al. 2013, Fig 2)",
        &charts,
        columns.max(1),
    ))
}

/// The significance level of the tuning analysis's t-tests.
const TUNING_ALPHA: f64 = 0.05;

fn write_tuning(out: &Path, sim: &Simulation, context: &serde_json::Value) -> CliResult<Vec<String>> {
    let variable = sim
        .conditions
        .iter()
        .find_map(|c| c.condition.variables.first().map(|(n, _)| n.clone()))
        .ok_or_else(|| format!("tuning: `{}` declares no task variable to be tuned to", sim.task))?;
    let steps = sim.common_steps_after_onset();
    if steps == 0 {
        return Err("tuning: no step is common to every trial after stimulus onset".into());
    }
    let units = sim.conditions.first().map_or(0, |c| c.trajectory.rates.len_of(ndarray::Axis(2)));
    let mut tuning = psychrnn_analysis::tuning::Tuning::new(steps, units);
    for ct in &sim.conditions {
        let Some(value) = ct.condition.variables.iter().find(|(n, _)| *n == variable).map(|(_, v)| *v) else {
            continue;
        };
        for b in 0..ct.batch.n_trials() {
            let start = sim.stimulus_steps(ct, b).map_or(0, |(s, _)| s);
            tuning.add_trial(value, ct.trajectory.rates.slice(ndarray::s![start..start + steps, b, ..]))?;
        }
    }
    let curves = tuning.finish(TUNING_ALPHA)?;
    let times: Vec<f64> = (0..steps).map(|t| t as f64 * sim.dt).collect();
    // The stimulus's end, where every trial's is the same (e.g. f1's offset, the delay's start).
    let stimulus_end =
        if durations_vary(sim) { None } else { sim.trials().find_map(|(ct, b)| sim.stimulus_duration_ms(ct, b)) };
    let chart = Chart {
        y_range: Some((0.0, 1.0)),
        markers: stimulus_end.into_iter().collect(),
        ..Chart::new(
            format!(
                "Units tuned to {variable} ({} trials, p < {TUNING_ALPHA}{})",
                curves.trials,
                if stimulus_end.is_some() { "; dashed: stimulus end" } else { "" }
            ),
            "time from stimulus onset (ms)",
            "fraction of units tuned",
        )
    }
    .with(Series::line("", times.iter().copied().zip(curves.fraction_tuned.iter().copied()).collect()));
    let mut csv = String::from("time_from_onset_ms,fraction_tuned\n");
    for (t, f) in times.iter().zip(&curves.fraction_tuned) {
        csv.push_str(&format!("{t},{f}\n"));
    }
    write_npz(
        &out.join("tuning.npz"),
        &[
            NpyArray::f64("time_ms", &[steps], times.clone()),
            NpyArray::f64("slopes", &[steps, units], curves.slopes.iter().copied().collect()),
            NpyArray::f64(
                "t_statistics",
                &[steps, units],
                curves
                    .t_statistics
                    .iter()
                    .copied()
                    .map(|v| if v.is_finite() { v } else { v.signum() * f64::MAX })
                    .collect(),
            ),
            NpyArray::f64("p_values", &[steps, units], curves.p_values.iter().copied().collect()),
            NpyArray::f64("fraction_tuned", &[steps], curves.fraction_tuned.clone()),
        ],
    )?;
    let value = json!({
        "analysis": "tuning",
        "task": sim.task,
        "variable": variable,
        "method": "per step and unit, least-squares line of the rate over trials against the variable; tuned when the slope's two-sided t-test (trials - 2 df) gives p < alpha",
        "alpha": TUNING_ALPHA,
        "trials": curves.trials,
        "time_from_onset_ms": times,
        "fraction_tuned": curves.fraction_tuned,
        "stimulus_end_ms": stimulus_end,
        "context": context,
    });
    Ok(vec![
        write_json(out, "tuning", &value)?,
        write_text(out, "tuning.csv", &csv)?,
        "tuning.npz".into(),
        write_text(out, "tuning.svg", &chart.to_svg())?,
    ])
}

/// Whether the trials' stimulus durations differ.
fn durations_vary(sim: &Simulation) -> bool {
    let mut durations = sim.trials().filter_map(|(ct, b)| sim.stimulus_duration_ms(ct, b));
    let first = durations.next();
    first.is_some_and(|f| durations.any(|d| d != f))
}

/// Bins of stimulus duration in the accuracy-by-duration analysis.
const DURATION_BINS: usize = 6;

fn write_duration(out: &Path, sim: &Simulation, context: &serde_json::Value) -> CliResult<Vec<String>> {
    if sim.behaviour.stimulus_period.is_none() {
        return Err(format!("duration: `{}` declares no stimulus period", sim.task).into());
    }
    let mut trials = Vec::new();
    for ((ct, b), t) in sim.trials().zip(sim.behaviour()) {
        let s = ct.condition.signed_stimulus.abs();
        if let (Some(d), true) = (sim.stimulus_duration_ms(ct, b), s > 0.0) {
            trials.push((s, d, t.correct));
        }
    }
    let (shortest, longest) =
        trials.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| (a.min(t.1), b.max(t.1)));
    if trials.is_empty() {
        return Err(
            format!("duration: `{}` has no trial with a nonzero stimulus and a stimulus period", sim.task).into()
        );
    }
    if longest <= shortest {
        return Err(format!(
            "duration: every trial of `{}` has the same stimulus duration ({shortest} ms); accuracy against duration needs variable durations (e.g. pycog_rdm's variable-stimulus version)",
            sim.task
        )
        .into());
    }
    let points = chronometric::accuracy_by_duration(&trials, DURATION_BINS);
    let mut stimuli: Vec<f64> = points.iter().map(|p| p.stimulus).collect();
    stimuli.dedup();
    let mut chart = Chart {
        y_range: Some((0.45, 1.02)),
        legend: Legend::Outside,
        ..Chart::new(
            format!("Accuracy against stimulus duration ({})", sim.task),
            "stimulus duration (ms)",
            "fraction correct",
        )
    };
    for (k, s) in stimuli.iter().enumerate() {
        let line: Vec<(f64, f64)> =
            points.iter().filter(|p| p.stimulus == *s).map(|p| (p.mean_duration_ms, p.accuracy)).collect();
        chart = chart.with(
            Series::points(format!("{} {s}", sim.behaviour.stimulus_label.replace("signed ", "")), line)
                .styled(Style::LinePoints)
                .colored(k),
        );
    }
    let mut csv =
        String::from("stimulus,duration_from_ms,duration_to_ms,mean_duration_ms,n_trials,n_correct,accuracy\n");
    for p in &points {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            p.stimulus,
            p.duration_range_ms.0,
            p.duration_range_ms.1,
            p.mean_duration_ms,
            p.n_trials,
            p.n_correct,
            p.accuracy
        ));
    }
    let value = json!({
        "analysis": "duration",
        "task": sim.task,
        "method": "trials with a decision and a correct answer at each nonzero unsigned stimulus, their stimulus durations cut into equal-count bins over all trials (PyCog Fig 2E)",
        "bins": DURATION_BINS,
        "context": context,
        "points": points,
    });
    Ok(vec![
        write_json(out, "duration", &value)?,
        write_text(out, "duration.csv", &csv)?,
        write_text(out, "duration.svg", &chart.to_svg())?,
    ])
}
