//! `psychrnn analyze <run> fixed_points`: the fixed and slow points of a trained rate network
//! under constant inputs ([`psychrnn_analysis::fixed_points`]), written as
//! `fixed_points.{npz,json,csv,svg}` and `fixed_points_spectra.svg`.

use std::path::Path;

use psychrnn_analysis::fixed_points::{
    FixedPointOptions, FixedPoints, RateMap, RateNetwork, Stability, find_fixed_points,
};
use psychrnn_core::npz::{NpyArray, read_npz, write_npz};
use psychrnn_core::rng::{Noise, Purpose, stream};
use psychrnn_core::{ParamSet, Trajectory};
use psychrnn_rate::Simulator;
use psychrnn_train::Experiment;
use psychrnn_train::plot::{Chart, Legend, Series, panels};
use serde_json::json;

use crate::CliResult;

/// What `--input`, `--input-file`, `--starts`, `--start-noise` and `--jacobians` ask for.
pub struct FixedPointRequest<'a> {
    /// `--input` values (comma-separated, one per input channel), each a condition.
    pub inputs: &'a [String],
    /// `--input-file`: an `.npz` with `inputs` (`[conditions, N_in]` or `[N_in]`).
    pub input_file: Option<&'a Path>,
    /// Starting states.
    pub starts: usize,
    /// Noise added to each start.
    pub start_noise: f64,
    /// Write every fixed point's Jacobian.
    pub jacobians: bool,
    /// Trials of the run's task simulated for the starting states.
    pub trials: usize,
    /// Recurrent noise in that simulation.
    pub noise: bool,
    /// Seed of the trials, the noise and the starts.
    pub seed: u64,
}

/// The constant inputs to analyse: `--input` values, the rows of `--input-file`, or zeros.
fn inputs(request: &FixedPointRequest<'_>, n_in: usize) -> CliResult<Vec<Vec<f64>>> {
    let mut out = Vec::new();
    for text in request.inputs {
        let values: Vec<f64> = if text.trim().is_empty() {
            Vec::new()
        } else {
            text.split(',')
                .map(|v| v.trim().parse::<f64>().map_err(|_| format!("--input {text}: `{v}` is not a number")))
                .collect::<Result<_, _>>()?
        };
        out.push(values);
    }
    if let Some(path) = request.input_file {
        let contents = read_npz(path)?;
        let a = contents
            .get("inputs")
            .ok_or_else(|| format!("{}: no array `inputs` ([conditions, N_in] or [N_in])", path.display()))?;
        let values = a.to_f64().ok_or_else(|| format!("{}: `inputs` must hold numbers", path.display()))?;
        match a.shape[..] {
            [n] => out.push(values[..n].to_vec()),
            [c, n] => out.extend((0..c).map(|i| values[i * n..(i + 1) * n].to_vec())),
            _ => {
                return Err(format!(
                    "{}: `inputs` must be [conditions, N_in] or [N_in], got {:?}",
                    path.display(),
                    a.shape
                )
                .into());
            }
        }
    }
    if out.is_empty() {
        out.push(vec![0.0; n_in]);
    }
    for (c, u) in out.iter().enumerate() {
        if u.len() != n_in {
            return Err(format!(
                "input {c} ({u:?}): has {} value(s) but the network has {n_in} input channel(s): give one value per channel, e.g. --input {}",
                u.len(),
                vec!["0"; n_in].join(",")
            )
            .into());
        }
    }
    Ok(out)
}

/// The network's states `[T, B, N]` on `trials` fresh trials of its task (where the starts are
/// sampled; the plot draws some of them).
fn states(
    exp: &Experiment,
    params: &ParamSet<f32>,
    request: &FixedPointRequest<'_>,
) -> CliResult<ndarray::Array3<f64>> {
    let timing = exp.task.timing();
    psychrnn_train::memory::SimulationSize {
        trials: request.trials,
        conditions: 1,
        n_steps: timing.n_steps(),
        n_rec: exp.model.n_rec(),
        n_in: exp.task.n_in(),
        n_out: exp.task.n_out(),
    }
    .check("--trials")?;
    let batch = exp.task.generate_batch(request.trials.max(1), &mut stream(request.seed, Purpose::User, 0x0F1D));
    let mut noise = Noise::from(stream(request.seed, Purpose::TestNoise, 0x0F1D));
    let mut trajectory = Trajectory::default();
    exp.model.forward(params, batch.inputs.view(), request.noise.then_some(&mut noise), &mut trajectory)?;
    Ok(trajectory.states.mapv(f64::from))
}

/// Runs the fixed-point analysis of a run and writes its files into `out`.
///
/// # Errors
/// A run whose model is not a rate network, inputs of the wrong width, or a failed write.
pub fn write_fixed_points(
    out: &Path,
    exp: &Experiment,
    params: &ParamSet<f32>,
    weights: &Path,
    request: &FixedPointRequest<'_>,
    context: &serde_json::Value,
) -> CliResult<Vec<String>> {
    let model = exp.configs.model.get("type").and_then(|t| t.as_str()).unwrap_or("basic_rnn");
    if model != "basic_rnn" {
        return Err(format!(
            "fixed_points: this run's model is `{model}`; fixed points are found for rate networks (basic_rnn and the models on its kernels)"
        )
        .into());
    }
    let (sim, _) = Simulator::from_npz(weights, Some(exp.task.timing().alpha()), None)?;
    let conditions = inputs(request, sim.n_in())?;
    let states_tbn = states(exp, params, request)?;
    let (steps, trials, n) = states_tbn.dim();
    let states = states_tbn.to_shape((steps * trials, n)).map_err(|e| e.to_string())?.to_owned();
    let (w_in, w_rec, b_rec) = (sim.w_in.mapv(f64::from), sim.w_rec.mapv(f64::from), sim.b_rec.mapv(f64::from));
    let network = RateNetwork {
        w_in: w_in.view(),
        w_rec: w_rec.view(),
        b_rec: b_rec.view(),
        alpha: &sim.alpha,
        transfer: sim.transfer,
        dt: exp.task.timing().dt,
    };
    let options = FixedPointOptions {
        n_starts: request.starts,
        start_noise: request.start_noise,
        seed: request.seed,
        ..FixedPointOptions::default()
    };
    let mut results = Vec::new();
    for (c, u) in conditions.iter().enumerate() {
        let map = RateMap::new(network, u)?;
        let found = find_fixed_points(&map, states.view(), &options).map_err(|e| format!("input {c} ({u:?}): {e}"))?;
        results.push((map, found));
    }
    let projection = psychrnn_analysis::pca::pca(states.view(), 3.min(n))?;
    let pcs =
        |x: ndarray::ArrayView1<'_, f64>| -> Vec<f64> { projection.components.dot(&(&x - &projection.mean)).to_vec() };
    let on = |x: ndarray::ArrayView1<'_, f64>, (a, b): (usize, usize)| -> (f64, f64) {
        let p = pcs(x);
        (p.get(a).copied().unwrap_or(0.0), p.get(b).copied().unwrap_or(0.0))
    };
    let project = |x: ndarray::ArrayView1<'_, f64>| on(x, (0, 1));

    // The .npz: fixed points of every input stacked, each with its input's index.
    let all: Vec<(usize, &psychrnn_analysis::fixed_points::FixedPoint)> =
        results.iter().enumerate().flat_map(|(c, (_, f))| f.fixed.iter().map(move |p| (c, p))).collect();
    let slow: Vec<(usize, &psychrnn_analysis::fixed_points::SlowPoint)> =
        results.iter().enumerate().flat_map(|(c, (_, f))| f.slow.iter().map(move |p| (c, p))).collect();
    let k = all.len();
    let rows = |f: &dyn Fn(&psychrnn_analysis::fixed_points::FixedPoint) -> Vec<f64>| -> Vec<f64> {
        all.iter().flat_map(|(_, p)| f(p)).collect()
    };
    let n_in = sim.n_in();
    let mut arrays = vec![
        NpyArray::f64("inputs", &[conditions.len(), n_in], conditions.iter().flatten().copied().collect()),
        NpyArray::f64("points", &[k, n], rows(&|p| p.x.to_vec())),
        NpyArray::f64("q", &[k], rows(&|p| vec![p.q])),
        int64("input_index", all.iter().map(|(c, _)| *c as i64).collect()),
        NpyArray::f64(
            "eigenvalues_real",
            &[k, n],
            rows(&|p| p.linearisation.eigenvalues.iter().map(|z| z.0).collect()),
        ),
        NpyArray::f64(
            "eigenvalues_imag",
            &[k, n],
            rows(&|p| p.linearisation.eigenvalues.iter().map(|z| z.1).collect()),
        ),
        NpyArray::f64(
            "flow_eigenvalues_real",
            &[k, n],
            rows(&|p| p.linearisation.flow_eigenvalues.iter().map(|z| z.0).collect()),
        ),
        NpyArray::f64(
            "flow_eigenvalues_imag",
            &[k, n],
            rows(&|p| p.linearisation.flow_eigenvalues.iter().map(|z| z.1).collect()),
        ),
        NpyArray::strings("class", all.iter().map(|(_, p)| p.linearisation.stability.name().to_string()).collect()),
        int64("n_unstable", all.iter().map(|(_, p)| p.linearisation.n_unstable as i64).collect()),
        int64("oscillatory", all.iter().map(|(_, p)| i64::from(p.linearisation.oscillatory)).collect()),
        NpyArray::strings("found_by", all.iter().map(|(_, p)| p.found_by.name().to_string()).collect()),
        NpyArray::f64("time_constants_ms", &[k, n], rows(&|p| p.linearisation.time_constants_ms.clone())),
        NpyArray::f64("frequencies_hz", &[k, n], rows(&|p| p.linearisation.frequencies_hz.clone())),
        NpyArray::f64("slow_points", &[slow.len(), n], slow.iter().flat_map(|(_, p)| p.x.to_vec()).collect()),
        NpyArray::f64("slow_q", &[slow.len()], slow.iter().map(|(_, p)| p.q).collect()),
        int64("slow_input_index", slow.iter().map(|(c, _)| *c as i64).collect()),
        NpyArray::f64(
            "pca_components",
            &[projection.components.nrows(), n],
            projection.components.iter().copied().collect(),
        ),
        NpyArray::f64("pca_mean", &[n], projection.mean.to_vec()),
    ];
    if request.jacobians {
        arrays.push(NpyArray::f64(
            "jacobians",
            &[k, n, n],
            rows(&|p| p.linearisation.jacobian.iter().copied().collect()),
        ));
        // eigenvectors_*[k, :, m] is the unit eigenvector of eigenvalue m (columns, as NumPy's eig).
        let vectors = |part: fn(&(f64, f64)) -> f64| {
            rows(&|p| {
                let v = &p.linearisation.eigenvectors;
                (0..n).flat_map(|i| v.iter().map(move |column| part(&column[i]))).collect()
            })
        };
        arrays.push(NpyArray::f64("eigenvectors_real", &[k, n, n], vectors(|z| z.0)));
        arrays.push(NpyArray::f64("eigenvectors_imag", &[k, n, n], vectors(|z| z.1)));
    }
    write_npz(&out.join("fixed_points.npz"), &arrays)?;

    // The table: one row per fixed or slow point.
    let mut csv = String::from(
        "input_index,kind,class,n_unstable,oscillatory,q,found_by,max_abs_eigenvalue,slowest_time_constant_ms,slowest_frequency_hz,pc1,pc2\n",
    );
    for (c, p) in &all {
        let l = &p.linearisation;
        let (x, y) = project(p.x.view());
        let modulus = l.eigenvalues.first().map_or(f64::NAN, |z| z.0.hypot(z.1));
        csv.push_str(&format!(
            "{c},fixed,{},{},{},{:e},{},{},{},{},{x},{y}\n",
            l.stability.name(),
            l.n_unstable,
            l.oscillatory,
            p.q,
            p.found_by.name(),
            modulus,
            crate::analyze::csv_number(l.time_constants_ms.first().copied().unwrap_or(f64::NAN)),
            crate::analyze::csv_number(l.frequencies_hz.first().copied().unwrap_or(f64::NAN)),
        ));
    }
    for (c, p) in &slow {
        let (x, y) = project(p.x.view());
        csv.push_str(&format!("{c},slow,,,,{:e},iterative,,,,{x},{y}\n", p.q));
    }
    psychrnn_core::npz::write_atomically(&out.join("fixed_points.csv"), csv.as_bytes())?;

    let regression = regression_axes(out);
    let per_input: Vec<serde_json::Value> = results
        .iter()
        .zip(&conditions)
        .map(|((_, f), u)| {
            let mut value = summary(f, u, &options);
            value["line_attractor"] = line_attractor(f, &sim, regression.as_ref());
            value
        })
        .collect();
    let json = json!({
        "analysis": "fixed_points",
        "definition": "fixed points of the one-step map F(x) = x + alpha (W_rec f(x) + W_in u + b_rec - x) (no noise) under each constant input u: minima of q(x) = 1/2 |F(x) - x|^2 below fixed_q; slow points between fixed_q and slow_q; for ReLU networks also every solution of (I - W_rec D) x = W_in u + b_rec inside its own activation pattern D, over the patterns the network visits and their neighbours. Stability from the eigenvalues of dF/dx: stable (all inside the unit circle), saddle (some outside: n_unstable), unstable (all outside); time constants -dt / ln|lambda| (ms), frequencies |arg lambda| / (2 pi dt) (Hz)",
        "options": {
            "starts": options.n_starts,
            "start_noise": options.start_noise,
            "start_states": format!("{} trials of the run's task, every step ({} states; noise {})", trials, steps * trials, request.noise),
            "max_iters": options.search.max_iters,
            "tol_q": options.search.tol_q,
            "tol_dq": options.search.tol_dq,
            "lr_init": options.search.lr_init,
            "lr_factor": options.search.lr_factor,
            "lr_patience": options.search.lr_patience,
            "fixed_q": options.fixed_q,
            "slow_q": options.slow_q,
            "tol_unique": options.tol_unique,
            "outlier_distance_scale": options.outlier_distance_scale,
        },
        "inputs": per_input,
        "run": context,
    });
    let mut files = vec!["fixed_points.npz".to_string(), "fixed_points.csv".to_string()];
    files.push(crate::analyze::write_json(out, "fixed_points", &json)?);

    // Plots: the points over the trajectories in PC space; the spectra against the unit circle.
    // One panel per pair of PCs (1-2 and, with a third, 1-3: a cube of memories needs both).
    let planes: Vec<(usize, usize)> =
        if projection.components.nrows() >= 3 { vec![(0, 1), (0, 2)] } else { vec![(0, 1)] };
    let variance = |k: usize| 100.0 * projection.explained_variance_ratio.get(k).copied().unwrap_or(0.0);
    let mut charts: Vec<Chart> = Vec::new();
    for ((_, f), u) in results.iter().zip(&conditions) {
        for &plane in &planes {
            let mut chart = Chart {
                legend: Legend::Best,
                ..Chart::new(
                    format!("Input {}: PC{} and PC{}", format_input(u), plane.0 + 1, plane.1 + 1),
                    format!("PC{} of the network's states ({:.0}% of variance)", plane.0 + 1, variance(plane.0)),
                    format!("PC{} ({:.0}% of variance)", plane.1 + 1, variance(plane.1)),
                )
            };
            for b in 0..trials.min(8) {
                let line: Vec<(f64, f64)> =
                    (0..steps).map(|t| on(states_tbn.slice(ndarray::s![t, b, ..]), plane)).collect();
                let name = if b == 0 { "trajectories" } else { "" };
                chart = chart.with(Series::line(name, line).colored(7));
            }
            for (stability, label, color) in [
                (Stability::Stable, "stable", 0),
                (Stability::Saddle, "saddle", 1),
                (Stability::Unstable, "unstable", 3),
            ] {
                let points: Vec<(f64, f64)> = f
                    .fixed
                    .iter()
                    .filter(|p| p.linearisation.stability == stability)
                    .map(|p| on(p.x.view(), plane))
                    .collect();
                if !points.is_empty() {
                    chart = chart.with(Series::points(format!("{label} ({})", points.len()), points).colored(color));
                }
            }
            if !f.slow.is_empty() {
                let points = f.slow.iter().map(|p| on(p.x.view(), plane)).collect();
                chart = chart.with(Series::points(format!("slow ({})", f.slow.len()), points).colored(4));
            }
            charts.push(chart);
        }
    }
    let svg = if charts.len() == 1 {
        charts[0].to_svg()
    } else {
        panels("Fixed points over the network's trajectories (first principal components)", &charts, planes.len())
    };
    files.push(crate::analyze::write_text(out, "fixed_points.svg", &svg)?);

    let mut plane = Chart {
        circle: Some(1.0),
        equal_aspect: true,
        legend: Legend::Outside,
        ..Chart::new("In the complex plane (unit circle dotted)", "real part", "imaginary part")
    };
    let mut leading = Chart {
        h_lines: vec![1.0],
        legend: Legend::Outside,
        ..Chart::new(
            "The 10 slowest modes of each point",
            "mode (by decreasing |eigenvalue|)",
            "|eigenvalue| (1: dotted)",
        )
    };
    for (stability, label, color) in [
        (Stability::Stable, "stable points", 0),
        (Stability::Saddle, "saddles", 1),
        (Stability::Unstable, "unstable points", 3),
    ] {
        let of_class: Vec<_> = all.iter().filter(|(_, p)| p.linearisation.stability == stability).collect();
        if of_class.is_empty() {
            continue;
        }
        let values: Vec<(f64, f64)> = of_class.iter().flat_map(|(_, p)| p.linearisation.eigenvalues.clone()).collect();
        plane = plane.with(Series::points(label, values).colored(color));
        for (i, (_, p)) in of_class.iter().enumerate() {
            let moduli: Vec<(f64, f64)> = p
                .linearisation
                .eigenvalues
                .iter()
                .take(10)
                .enumerate()
                .map(|(m, z)| ((m + 1) as f64, z.0.hypot(z.1)))
                .collect();
            let name = if i == 0 { label } else { "" };
            leading =
                leading.with(Series::line(name, moduli).colored(color).styled(psychrnn_train::plot::Style::LinePoints));
        }
    }
    let spectra = panels(
        "Jacobian eigenvalues at each fixed point (|eigenvalue| > 1: an unstable direction)",
        &[plane, leading],
        1,
    );
    files.push(crate::analyze::write_text(out, "fixed_points_spectra.svg", &spectra)?);
    Ok(files)
}

fn int64(name: &str, values: Vec<i64>) -> NpyArray {
    NpyArray::i64(name, &[values.len()], values)
}

fn format_input(u: &[f64]) -> String {
    if u.is_empty() {
        "(no input channels)".into()
    } else {
        format!("({})", u.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(", "))
    }
}

/// The task axes of an earlier `regression` analysis in `out` (`regression.npz`'s `axes` and
/// `regression.json`'s `variables`), if there is one.
fn regression_axes(out: &Path) -> Option<(Vec<String>, ndarray::Array2<f64>)> {
    let axes = read_npz(&out.join("regression.npz")).ok()?;
    let axes = axes.get("axes")?;
    let text = std::fs::read_to_string(out.join("regression.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let names: Vec<String> =
        json["variables"].as_array()?.iter().filter_map(|v| v.as_str().map(String::from)).collect();
    let [k, n] = axes.shape[..] else { return None };
    let values = ndarray::Array2::from_shape_vec((k, n), axes.to_f64()?).ok()?;
    (names.len() == k).then_some((names, values))
}

/// An approximate line attractor through the fixed and slow points of one input, in rate space
/// (`f(x)`, where the readout and the regression axes live): at least 5 points whose first
/// principal axis holds 90% of their variance and spans at least 0.1; its alignment (`|cos|`)
/// with each output's readout weights and each regression axis. `null` when there is none.
fn line_attractor(
    found: &FixedPoints,
    sim: &Simulator,
    regression: Option<&(Vec<String>, ndarray::Array2<f64>)>,
) -> serde_json::Value {
    use psychrnn_analysis::fixed_points::continua::{alignment, line_through};
    let rates: Vec<ndarray::Array1<f64>> = found
        .fixed
        .iter()
        .map(|p| &p.x)
        .chain(found.slow.iter().map(|p| &p.x))
        .map(|x| x.mapv(|v| sim.transfer.apply(v)))
        .collect();
    let views: Vec<_> = rates.iter().map(|r| r.view()).collect();
    let Ok(points) = ndarray::stack(ndarray::Axis(0), &views) else { return json!(null) };
    let Ok(Some(line)) = line_through(points.view(), 5, 0.9, 0.1) else { return json!(null) };
    let w_out = sim.w_out.mapv(f64::from);
    let readout: Vec<f64> = w_out.rows().into_iter().map(|row| alignment(line.direction.view(), row)).collect();
    let axes = regression.map(|(names, axes)| {
        names
            .iter()
            .zip(axes.rows())
            .filter(|(_, axis)| axis.len() == line.direction.len())
            .map(|(name, axis)| (name.clone(), json!(alignment(line.direction.view(), axis))))
            .collect::<serde_json::Map<_, _>>()
    });
    json!({
        "points": line.n_points,
        "variance_along_direction": line.explained,
        "extent_in_rate_space": line.extent,
        "alignment_with_readout": readout,
        "alignment_with_regression_axes": axes,
        "direction": line.direction.to_vec(),
    })
}

/// One input's census and table of eigenvalues, for the JSON.
fn summary(found: &FixedPoints, input: &[f64], options: &FixedPointOptions) -> serde_json::Value {
    let count = |s: Stability| found.fixed.iter().filter(|p| p.linearisation.stability == s).count();
    let mut saddles: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for p in found.fixed.iter().filter(|p| p.linearisation.stability == Stability::Saddle) {
        *saddles.entry(p.linearisation.n_unstable).or_default() += 1;
    }
    let points: Vec<serde_json::Value> = found
        .fixed
        .iter()
        .map(|p| {
            let l = &p.linearisation;
            json!({
                "class": l.stability.name(),
                "n_unstable": l.n_unstable,
                "oscillatory": l.oscillatory,
                "q": p.q,
                "found_by": p.found_by.name(),
                "leading_eigenvalues": l.eigenvalues.iter().take(3).map(|z| json!([z.0, z.1])).collect::<Vec<_>>(),
                "slowest_time_constants_ms": l.time_constants_ms.iter().take(3).map(|v| if v.is_finite() { json!(v) } else { json!(null) }).collect::<Vec<_>>(),
                "slowest_frequencies_hz": l.frequencies_hz.iter().take(3).copied().collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "input": input,
        "fixed_points": found.fixed.len(),
        "stable": count(Stability::Stable),
        "saddles": count(Stability::Saddle),
        "saddles_by_unstable_directions": saddles.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "unstable": count(Stability::Unstable),
        "slow_points": found.slow.len(),
        "starts": found.starts,
        "starts_ending": {
            format!("fixed (q < {:e})", options.fixed_q): found.end_q.iter().filter(|&&q| q < options.fixed_q).count(),
            format!("slow (q < {:e})", options.slow_q): found.end_q.iter().filter(|&&q| (options.fixed_q..options.slow_q).contains(&q)).count(),
            "elsewhere": found.end_q.iter().filter(|&&q| q >= options.slow_q).count(),
            "median_q": crate::median(&mut found.end_q.iter().copied().filter(|q| q.is_finite()).collect::<Vec<_>>()),
        },
        "distance_outliers": found.outliers,
        "exact": found.exact.as_ref().map(|e| json!({
            "patterns_tried": e.patterns_tried,
            "budget_left_patterns_out": e.truncated,
            "singular_patterns": e.singular,
            "missed_by_iterative": e.missed_by_iterative,
            "iterative_not_confirmed": e.unconfirmed_iterative,
        })),
        "points": points,
    })
}
