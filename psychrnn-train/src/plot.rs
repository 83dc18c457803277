//! Minimal SVG line charts (loss and accuracy curves, curriculum progress), written without a
//! plotting dependency: a picture of a run that opens in any browser.

use std::fmt::Write as _;

/// One named line of `(x, y)` points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
}

const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
/// Canvas size and margins (px).
const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// An SVG chart of `series`, with dashed vertical markers at `markers` (e.g. curriculum stage
/// changes).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series], markers: &[f64]) -> String {
    let (x0, x1) = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).chain(markers.iter().copied()));
    let (y0, y1) = bounds(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ =
        writeln!(svg, r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#, W / 2.0, escape(title));
    let _ = writeln!(
        svg,
        r#"<line x1="{LEFT}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM
    );
    let _ = writeln!(svg, r#"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{}" stroke="black"/>"#, H - BOTTOM);
    for k in 0..=4 {
        let (x, y) = (x0 + (x1 - x0) * f64::from(k) / 4.0, y0 + (y1 - y0) * f64::from(k) / 4.0);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            H - BOTTOM + 18.0,
            format_tick(x)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            py(y) + 4.0,
            format_tick(y)
        );
        let _ =
            writeln!(svg, r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#ddd"/>"##, py(y), W - RIGHT);
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 10.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (TOP + H - BOTTOM) / 2.0,
        escape(y_label)
    );
    for m in markers {
        let _ = writeln!(
            svg,
            r#"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1}" stroke="gray" stroke-dasharray="4,3"/>"#,
            px(*m),
            H - BOTTOM
        );
    }
    // The legend sits inside the frame's top right corner, as wide as its longest name (about
    // 7 px per character at 12 px), on a white box so curves under it do not hide it.
    let longest = series.iter().map(|s| s.name.chars().count()).max().unwrap_or(0) as f64;
    let legend_x = W - RIGHT - 10.0 - (25.0 + 7.0 * longest);
    if !series.is_empty() {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{}" width="{:.1}" height="{}" fill="white" fill-opacity="0.85" stroke="#ccc"/>"##,
            legend_x - 5.0,
            TOP - 4.0,
            35.0 + 7.0 * longest,
            14.0 * series.len() as f64 + 6.0
        );
    }
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> =
            s.points.iter().filter(|p| p.1.is_finite()).map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{}"/>"#,
            points.join(" ")
        );
        let ly = TOP + 6.0 + 14.0 * i as f64;
        let _ = writeln!(
            svg,
            r#"<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="{color}" stroke-width="2"/><text x="{3}" y="{4}">{5}</text>"#,
            legend_x,
            ly,
            legend_x + 20.0,
            legend_x + 25.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn format_tick(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_holds_one_polyline_per_series_and_the_markers() {
        let s = |name: &str, k: f64| Series {
            name: name.into(),
            points: (0..5).map(|i| (f64::from(i), k * f64::from(i))).collect(),
        };
        let svg = line_chart("loss <curve>", "trials", "loss", &[s("a", 1.0), s("b", 2.0)], &[2.5]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains("loss &lt;curve&gt;"));
        // Degenerate data (one point, constant) still gives finite coordinates.
        let flat = line_chart("t", "x", "y", &[Series { name: "c".into(), points: vec![(1.0, 1.0)] }], &[]);
        assert!(!flat.contains("NaN") && !flat.contains("inf"));
    }
}
