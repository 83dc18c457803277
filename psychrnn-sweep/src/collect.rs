//! A sweep's results as tables and plots (`sweep collect`): `sweep.csv` (one row per run),
//! `sweep_summary.csv`/`.json` (each point's measure over its seeds: n, median, quartiles,
//! mean, sd), a plot of the measure against each swept parameter and across variants, and a
//! rank test between two groups of runs ([`compare`], as PsychRNN's Fig 5 compares curriculum
//! and baseline networks).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use psychrnn_analysis::statistics::{RankTest, Summary, mann_whitney_u};
use psychrnn_core::npz::write_atomically;
use psychrnn_core::{Error, Result};
use psychrnn_train::plot::{Chart, Legend, Series, Style};
use psychrnn_train::run_dir::RunSummary;
use serde::Serialize;

use crate::dir::SweepDir;
use crate::plan::PlannedRun;
use crate::status::{QueueView, RunState, run_state};

/// The measures a sweep is summarised by: a run's summary field.
pub const MEASURES: [(&str, &str); 7] = [
    ("final_metric", "the run's metric on its test trials"),
    ("final_accuracy", "accuracy on the test trials"),
    ("final_loss", "loss on the test trials"),
    ("trials", "training trials seen (to the curriculum's end or the cutoff, if any)"),
    ("updates", "updates done"),
    ("training_seconds", "wall-clock training time, s"),
    ("final_stage", "curriculum stage reached"),
];

/// One run with where it stands and its summary once done.
#[derive(Clone, Debug)]
pub struct Row {
    /// The run.
    pub run: PlannedRun,
    /// Where it stands.
    pub state: RunState,
    /// Its `summary.json`, when done.
    pub summary: Option<RunSummary>,
    /// Its run directory.
    pub path: PathBuf,
}

impl Row {
    /// The run's value of `measure` (one of [`MEASURES`]); NaN when not done.
    pub fn measure(&self, measure: &str) -> f64 {
        let Some(s) = &self.summary else { return f64::NAN };
        match measure {
            "final_metric" => s.final_metric,
            "final_accuracy" => s.final_accuracy,
            "final_loss" => s.final_loss,
            "trials" => s.trials as f64,
            "updates" => s.iterations as f64,
            "training_seconds" => s.training_seconds,
            "final_stage" => s.final_stage as f64,
            _ => f64::NAN,
        }
    }

    /// The run's swept value of `key`.
    fn value(&self, key: &str) -> Option<&str> {
        self.run.values.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Checks that `measure` is one of [`MEASURES`].
///
/// # Errors
/// [`Error::Invalid`] listing the measures.
pub fn check_measure(measure: &str) -> Result<()> {
    if MEASURES.iter().any(|(m, _)| *m == measure) {
        return Ok(());
    }
    let list: Vec<&str> = MEASURES.iter().map(|(m, _)| *m).collect();
    Err(Error::invalid("--measure", format!("unknown measure `{measure}`; measures: {}", list.join(", "))))
}

/// Every run of the sweep with its state and summary.
pub fn rows(sweep: &SweepDir, queue: &QueueView) -> Vec<Row> {
    sweep
        .plan
        .runs
        .iter()
        .map(|run| {
            let state = run_state(sweep, run, queue);
            let path = sweep.run_dir(run);
            let summary = matches!(state, RunState::Done { .. }).then(|| RunSummary::read(&path).ok()).flatten();
            Row { run: run.clone(), state, summary, path }
        })
        .collect()
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `sweep.csv`: one row per run.
pub fn table(sweep: &SweepDir, rows: &[Row]) -> String {
    let mut header = vec!["index".to_string(), "run".into(), "variant".into()];
    header.extend(sweep.plan.axes.iter().cloned());
    header.extend(
        [
            "seed",
            "overrides",
            "status",
            "stop_reason",
            "updates",
            "trials",
            "final_accuracy",
            "metric",
            "final_metric",
            "final_loss",
            "training_seconds",
            "path",
        ]
        .map(String::from),
    );
    let mut out = header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for r in rows {
        let mut f: Vec<String> = vec![r.run.index.to_string(), r.run.name.clone(), r.run.variant.clone()];
        f.extend(sweep.plan.axes.iter().map(|k| r.value(k).unwrap_or("").to_string()));
        let s = r.summary.as_ref();
        let seed = r.run.seed.or(s.map(|s| s.seed)).map(|x| x.to_string()).unwrap_or_default();
        let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let stop = s.and_then(|s| serde_json::to_value(&s.stop_reason).ok());
        let stop = stop.and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(String::from)).unwrap_or_default();
        f.extend([
            seed,
            r.run.overrides.join("; "),
            r.state.label().to_string(),
            stop,
            s.map(|s| s.iterations.to_string()).unwrap_or_default(),
            s.map(|s| s.trials.to_string()).unwrap_or_default(),
            num(s.map(|s| s.final_accuracy)),
            s.map(|s| s.metric.clone()).unwrap_or_default(),
            num(s.map(|s| s.final_metric)),
            num(s.map(|s| s.final_loss)),
            num(s.map(|s| s.training_seconds)),
            r.path.display().to_string(),
        ]);
        out.push_str(&f.iter().map(|x| csv_field(x)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// One point of the sweep (a variant and its swept values) over its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// The variant.
    pub variant: String,
    /// The swept values.
    pub values: Vec<(String, String)>,
    /// Runs of the point, and how many are done.
    pub runs: usize,
    /// Runs done.
    pub done: usize,
    /// The measure over the done runs.
    pub summary: Summary,
}

/// The points of the sweep with `measure` summarised over each one's seeds.
pub fn groups(rows: &[Row], measure: &str) -> Vec<Group> {
    let mut keys: Vec<(&str, usize)> = Vec::new();
    for r in rows {
        if !keys.contains(&(r.run.variant.as_str(), r.run.point)) {
            keys.push((r.run.variant.as_str(), r.run.point));
        }
    }
    keys.into_iter()
        .map(|(variant, point)| {
            let members: Vec<&Row> = rows.iter().filter(|r| r.run.variant == variant && r.run.point == point).collect();
            let values: Vec<f64> = members.iter().filter(|r| r.summary.is_some()).map(|r| r.measure(measure)).collect();
            Group {
                variant: variant.to_string(),
                values: members[0].run.values.clone(),
                runs: members.len(),
                done: values.len(),
                summary: Summary::of(&values),
            }
        })
        .collect()
}

/// `sweep_summary.csv`: one row per point.
pub fn summary_table(axes: &[String], groups: &[Group], measure: &str) -> String {
    let mut out = String::from("variant");
    for k in axes {
        let _ = write!(out, ",{}", csv_field(k));
    }
    out.push_str(",measure,runs,done,n,n_missing,median,q25,q75,mean,sd,min,max\n");
    for g in groups {
        out.push_str(&csv_field(&g.variant));
        for k in axes {
            let v = g.values.iter().find(|(key, _)| key == k).map_or("", |(_, v)| v.as_str());
            let _ = write!(out, ",{}", csv_field(v));
        }
        let s = &g.summary;
        let _ = writeln!(
            out,
            ",{measure},{},{},{},{},{},{},{},{},{},{},{}",
            g.runs, g.done, s.n, s.n_missing, s.median, s.q25, s.q75, s.mean, s.sd, s.min, s.max
        );
    }
    out
}

/// A set of runs named on the command line: conditions joined by commas, each a variant's name
/// or `key.path=value` of a swept key (`curriculum`, `model.N_rec=100`, `baseline,model.N_rec=50`).
#[derive(Clone, Debug, PartialEq)]
pub struct Selector {
    /// As written.
    pub text: String,
    conditions: Vec<(Option<String>, String)>,
}

impl Selector {
    /// Parses and checks `text` against the sweep's variants and axes.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming an unknown variant or key (with the known ones).
    pub fn parse(text: &str, sweep: &SweepDir) -> Result<Selector> {
        let plan = &sweep.plan;
        let mut conditions = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((k, v)) => {
                    if !plan.axes.iter().any(|a| a == k) && k != "seed" {
                        return Err(Error::invalid(
                            format!("--compare {text}"),
                            format!("`{k}` is not swept; swept keys: {}", plan.axes.join(", ")),
                        ));
                    }
                    conditions.push((Some(k.to_string()), v.to_string()));
                }
                None => {
                    plan.variant(part).map_err(|_| {
                        let names: Vec<&str> = plan.variants.iter().map(|v| v.name.as_str()).collect();
                        Error::invalid(
                            format!("--compare {text}"),
                            format!("no variant `{part}`; variants: {}", names.join(", ")),
                        )
                    })?;
                    conditions.push((None, part.to_string()));
                }
            }
        }
        if conditions.is_empty() {
            return Err(Error::invalid("--compare", "an empty group"));
        }
        Ok(Selector { text: text.to_string(), conditions })
    }

    /// Whether `row` is in the group (a value matches as written or as the same number).
    pub fn accepts(&self, row: &Row) -> bool {
        self.conditions.iter().all(|(key, want)| match key {
            None => row.run.variant == *want,
            Some(k) if k == "seed" => row.run.seed.is_some_and(|s| s.to_string() == *want),
            Some(k) => row.value(k).is_some_and(|v| {
                let v = v.trim_matches('"');
                v == want.trim_matches('"')
                    || matches!((v.parse::<f64>(), want.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
            }),
        })
    }
}

/// One side of a [`Comparison`].
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    /// The selector as written.
    pub group: String,
    /// Runs it selects, and how many are done.
    pub runs: usize,
    /// The measure over its done runs.
    pub summary: Summary,
}

/// A rank test between two groups of runs (`compare.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The measure compared.
    pub measure: String,
    /// The first group.
    pub a: Side,
    /// The second group.
    pub b: Side,
    /// Mann-Whitney U of `a` against `b`, two-sided.
    pub test: RankTest,
}

/// A value for people: integers without decimals, others to 4 significant digits.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.is_finite() && v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        let decimals = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.decimals$}")
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for side in [&self.a, &self.b] {
            let s = &side.summary;
            writeln!(
                f,
                "{:<24} n = {:>3}  median {}  IQR [{}, {}]  mean {} ± {} (sd)",
                side.group,
                s.n,
                number(s.median),
                number(s.q25),
                number(s.q75),
                number(s.mean),
                number(s.sd)
            )?;
        }
        let t = &self.test;
        write!(
            f,
            "Mann-Whitney U = {} (two-sided, {}), p = {:.2e}; P({} > {}) = {:.3}",
            number(t.u),
            serde_json::to_value(t.method).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
            t.p,
            self.a.group,
            self.b.group,
            t.effect_size
        )
    }
}

/// The rank test of `measure` between the runs `a` and `b` select (done runs only).
///
/// # Errors
/// [`Error::Invalid`] when a group has no done run.
pub fn compare(rows: &[Row], a: &Selector, b: &Selector, measure: &str) -> Result<Comparison> {
    let side = |sel: &Selector| -> (Side, Vec<f64>) {
        let chosen: Vec<&Row> = rows.iter().filter(|r| sel.accepts(r)).collect();
        let values: Vec<f64> = chosen.iter().filter(|r| r.summary.is_some()).map(|r| r.measure(measure)).collect();
        (Side { group: sel.text.clone(), runs: chosen.len(), summary: Summary::of(&values) }, values)
    };
    let ((sa, va), (sb, vb)) = (side(a), side(b));
    let test = mann_whitney_u(&va, &vb).ok_or_else(|| {
        Error::invalid(
            "--compare",
            format!(
                "`{}` has {} done runs and `{}` {}: each group needs at least one",
                sa.group, sa.summary.n, sb.group, sb.summary.n
            ),
        )
    })?;
    Ok(Comparison { measure: measure.to_string(), a: sa, b: sb, test })
}

/// A label of `measure` for a plot's axis.
fn measure_label(measure: &str, rows: &[Row]) -> String {
    let metric = rows.iter().find_map(|r| r.summary.as_ref().map(|s| s.metric.clone()));
    match measure {
        "final_metric" => format!("test {} (final_metric)", metric.unwrap_or_else(|| "metric".into())),
        "final_accuracy" => "test accuracy (fraction correct)".into(),
        "final_loss" => "test loss".into(),
        "trials" => "training trials".into(),
        "updates" => "updates".into(),
        "training_seconds" => "training time (s)".into(),
        other => other.to_string(),
    }
}

/// Each run's value as a dot just right of `x` (spread sideways over `width` by its position in
/// the group, so equal values stay visible), named `dots` in the legend, and the group's median
/// at `x` with its interquartile range, named `median`.
fn strip(dots: String, median: String, color: usize, x: f64, values: &[f64], width: f64) -> [Series; 3] {
    let n = values.len();
    let spread: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .map(|(k, &v)| (x + 0.05 + if n > 1 { width * k as f64 / (n - 1) as f64 } else { 0.0 }, v))
        .collect();
    let s = Summary::of(values);
    [
        Series::points(dots, spread).colored(color),
        Series::line(median, vec![(x, s.median)])
            .styled(Style::LinePoints)
            .colored(color)
            .with_ranges(vec![(s.q25, s.q75)]),
        // The median as a line through the group's dots.
        Series::line("", vec![(x, s.median), (x + 0.05 + width, s.median)]).colored(color),
    ]
}

/// The plots of `measure`: across variants (when there are several) and against each swept
/// key with more than one value (one series per variant): each run a dot, each group's median
/// with its interquartile range. Returns `(file name, SVG)` pairs.
pub fn plots(sweep: &SweepDir, rows: &[Row], measure: &str) -> Vec<(String, String)> {
    let label = measure_label(measure, rows);
    let variants: Vec<&str> = sweep.plan.variants.iter().map(|v| v.name.as_str()).collect();
    let done = |r: &&Row| r.summary.is_some() && r.measure(measure).is_finite();
    let n_done = rows.iter().filter(done).count();
    let mut out = Vec::new();
    if variants.len() > 1 {
        let mut chart = Chart::new(
            format!("{}: {measure} by variant ({n_done} runs; median and IQR)", sweep.plan.name),
            "variant",
            label.clone(),
        );
        chart.x_categories = variants.iter().map(|v| v.to_string()).collect();
        chart.legend = Legend::Outside;
        for (i, v) in variants.iter().enumerate() {
            let values: Vec<f64> =
                rows.iter().filter(done).filter(|r| r.run.variant == *v).map(|r| r.measure(measure)).collect();
            let dots = if i == 0 { "each run".to_string() } else { String::new() };
            let median = format!("{v}: median, IQR (n = {})", values.len());
            chart.series.extend(strip(dots, median, i, i as f64, &values, 0.25));
        }
        out.push((format!("{measure}_by_variant.svg"), chart.to_svg()));
    }
    for key in &sweep.plan.axes {
        let mut categories: Vec<&str> = Vec::new();
        for r in &sweep.plan.runs {
            if let Some((_, v)) = r.values.iter().find(|(k, _)| k == key)
                && !categories.contains(&v.as_str())
            {
                categories.push(v);
            }
        }
        if categories.len() < 2 {
            continue;
        }
        let mut chart = Chart::new(
            format!("{}: {measure} against {key} ({n_done} runs; median and IQR)", sweep.plan.name),
            key.clone(),
            label.clone(),
        );
        chart.x_categories = categories.iter().map(|c| c.trim_matches('"').to_string()).collect();
        chart.legend = Legend::Outside;
        let spread = 0.5 / variants.len() as f64;
        let mut points_named = false;
        for (i, v) in variants.iter().enumerate() {
            let offset = if variants.len() > 1 { spread * (i as f64 - (variants.len() - 1) as f64 / 2.0) } else { 0.0 };
            let mut medians = Vec::new();
            for (c, value) in categories.iter().enumerate() {
                let values: Vec<f64> = rows
                    .iter()
                    .filter(done)
                    .filter(|r| r.run.variant == *v && r.value(key) == Some(value))
                    .map(|r| r.measure(measure))
                    .collect();
                if values.is_empty() {
                    continue;
                }
                let name = if points_named { String::new() } else { "each run".to_string() };
                points_named = true;
                let [dots, median, line] =
                    strip(name, String::new(), i, c as f64 + offset, &values, 0.6 * spread.min(0.3));
                chart.series.extend([dots, line]);
                medians.push((median.points[0], median.ranges[0]));
            }
            let (points, ranges): (Vec<_>, Vec<_>) = medians.into_iter().unzip();
            let name = if variants.len() > 1 { format!("{v}: median, IQR") } else { "median, IQR".into() };
            chart.series.push(Series::line(name, points).styled(Style::LinePoints).colored(i).with_ranges(ranges));
        }
        let file = format!("{measure}_vs_{}.svg", key.replace(['.', '[', ']'], "_"));
        out.push((file, chart.to_svg()));
    }
    out
}

/// Writes `sweep.csv`, `sweep_summary.csv`, `sweep_summary.json` and the plots of `measure`
/// into the sweep directory; returns the files written.
///
/// # Errors
/// [`Error::Write`] naming a file that cannot be written.
pub fn write_all(sweep: &SweepDir, rows: &[Row], measure: &str) -> Result<Vec<PathBuf>> {
    let root: &Path = &sweep.root;
    let mut written = Vec::new();
    let mut put = |path: PathBuf, bytes: &[u8]| -> Result<()> {
        write_atomically(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    put(root.join("sweep.csv"), table(sweep, rows).as_bytes())?;
    let groups = groups(rows, measure);
    put(root.join("sweep_summary.csv"), summary_table(&sweep.plan.axes, &groups, measure).as_bytes())?;
    let json = serde_json::json!({ "sweep": sweep.plan.name, "measure": measure, "groups": groups });
    let json = serde_json::to_string_pretty(&json).map_err(|e| Error::invalid("sweep_summary.json", e.to_string()))?;
    put(root.join("sweep_summary.json"), json.as_bytes())?;
    let plots_dir = root.join("plots");
    std::fs::create_dir_all(&plots_dir).map_err(|source| Error::Write { path: plots_dir.clone(), source })?;
    for (name, svg) in plots(sweep, rows, measure) {
        put(plots_dir.join(name), svg.as_bytes())?;
    }
    Ok(written)
}
