//! Minimal SVG charts, written without a plotting dependency: pictures of a run and of its
//! analyses that open in any browser. [`Chart`] draws lines, points, error bars, reference
//! lines and a unit circle; [`heatmaps`] draws weight matrices side by side.

use std::fmt::Write as _;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// A solid line.
    #[default]
    Line,
    /// A dashed line.
    Dashed,
    /// Filled circles.
    Points,
    /// Filled circles joined by a line.
    LinePoints,
}

/// One named series of `(x, y)` points.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Legend entry (empty: not in the legend).
    pub name: String,
    /// Points, in drawing order.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
    /// Symmetric error bars (one per point), if any.
    pub errors: Vec<f64>,
    /// Bars from a low to a high value (one per point, e.g. the interquartile range around a
    /// median), if any; drawn instead of `errors`.
    pub ranges: Vec<(f64, f64)>,
    /// Colour index (default: the series' position).
    pub color: Option<usize>,
}

impl Series {
    /// A solid line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, ..Series::default() }
    }

    /// Points without a line.
    pub fn points(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { name: name.into(), points, style: Style::Points, ..Series::default() }
    }

    /// The same series drawn in `style`.
    #[must_use]
    pub fn styled(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// The same series with error bars.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<f64>) -> Self {
        self.errors = errors;
        self
    }

    /// The same series with a bar from `lo` to `hi` at each point.
    #[must_use]
    pub fn with_ranges(mut self, ranges: Vec<(f64, f64)>) -> Self {
        self.ranges = ranges;
        self
    }

    /// The bar at point `k`: its range, or the point's value plus and minus its error.
    fn bar(&self, k: usize) -> Option<(f64, f64)> {
        let y = self.points.get(k)?.1;
        match (self.ranges.get(k), self.errors.get(k)) {
            (Some(&(lo, hi)), _) => Some((lo, hi)),
            (None, Some(&e)) if e.is_finite() && e > 0.0 => Some((y - e, y + e)),
            _ => None,
        }
    }

    /// The same series in colour `index`.
    #[must_use]
    pub fn colored(mut self, index: usize) -> Self {
        self.color = Some(index);
        self
    }
}

/// Colours, colour-blind safe (Okabe–Ito), then a few more.
pub const COLORS: [&str; 9] =
    ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#999999", "#f0e442"];
/// Canvas size and margins (px).
const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// A chart: series, axis labels (with units), optional fixed ranges and reference lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Title above the frame.
    pub title: String,
    /// The x axis label, with its unit.
    pub x_label: String,
    /// The y axis label, with its unit.
    pub y_label: String,
    /// The series.
    pub series: Vec<Series>,
    /// Dashed vertical lines at these x values.
    pub markers: Vec<f64>,
    /// Dotted horizontal lines at these y values.
    pub h_lines: Vec<f64>,
    /// A fixed x range (default: the data's).
    pub x_range: Option<(f64, f64)>,
    /// A fixed y range (default: the data's).
    pub y_range: Option<(f64, f64)>,
    /// A dotted circle of this radius around the origin (e.g. the unit circle of a spectrum).
    pub circle: Option<f64>,
    /// One unit on the x axis as long as one on the y axis (the ranges are widened to fit).
    pub equal_aspect: bool,
    /// A logarithmic y axis (e.g. a loss falling over decades); values <= 0 are not drawn, nor
    /// are error bars.
    pub log_y: bool,
    /// Where the legend goes.
    pub legend: Legend,
    /// Names of categories at x = 0, 1, 2, ... (e.g. a sweep's variants or a parameter's
    /// values): the x ticks are these names, and the x range is one category wider each side.
    pub x_categories: Vec<String>,
}

/// The legend's corner inside the frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Legend {
    /// Top right.
    #[default]
    TopRight,
    /// Top left.
    TopLeft,
    /// Bottom right.
    BottomRight,
    /// Bottom left.
    BottomLeft,
    /// Whichever corner of the frame covers the fewest drawn points and lines.
    Best,
    /// Right of the frame, outside it (the canvas grows to fit): for many series.
    Outside,
}

impl Chart {
    /// A chart with a title and axis labels, no series yet.
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Chart { title: title.into(), x_label: x_label.into(), y_label: y_label.into(), ..Chart::default() }
    }

    /// The chart with `series` added.
    #[must_use]
    pub fn with(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// The chart as an SVG document.
    pub fn to_svg(&self) -> String {
        if self.log_y {
            // Drawn as a linear chart of log10(y), with the ticks labelled in y.
            let log = |y: f64| if y > 0.0 { y.log10() } else { f64::NAN };
            let series = self
                .series
                .iter()
                .map(|s| Series {
                    points: s.points.iter().map(|&(x, y)| (x, log(y))).collect(),
                    errors: Vec::new(),
                    ranges: s.ranges.iter().map(|&(lo, hi)| (log(lo), log(hi))).collect(),
                    ..s.clone()
                })
                .collect();
            let linear = Chart {
                series,
                h_lines: self.h_lines.iter().map(|&y| log(y)).collect(),
                y_range: self.y_range.map(|(a, b)| (log(a), log(b))),
                log_y: false,
                ..self.clone()
            };
            return linear.svg(true);
        }
        self.svg(false)
    }

    /// The SVG of the chart, its y values already log10 when `log_y_ticks`.
    fn svg(&self, log_y_ticks: bool) -> String {
        let finite_points = || self.series.iter().flat_map(|s| s.points.iter().copied());
        let circle: Vec<f64> = self.circle.map(|r| vec![-r, r]).unwrap_or_default();
        let (x0, x1) = self.x_range.unwrap_or_else(|| {
            if self.x_categories.is_empty() {
                bounds(finite_points().map(|p| p.0).chain(self.markers.iter().copied()).chain(circle.iter().copied()))
            } else {
                (-0.6, self.x_categories.len() as f64 - 0.4)
            }
        });
        let (y0, y1) = self.y_range.unwrap_or_else(|| {
            let with_errors = self.series.iter().flat_map(|s| {
                s.points.iter().enumerate().flat_map(move |(i, p)| {
                    let (lo, hi) = s.bar(i).unwrap_or((p.1, p.1));
                    [p.1, lo, hi]
                })
            });
            bounds(with_errors.chain(self.h_lines.iter().copied()).chain(circle.iter().copied()))
        });
        let ((x0, x1), (y0, y1)) = if self.equal_aspect { equalise((x0, x1), (y0, y1)) } else { ((x0, x1), (y0, y1)) };
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
        let canvas = if self.legend == Legend::Outside { W + 20.0 + legend_width(&self.series) } else { W };
        let mut svg = frame(
            &self.title,
            (&self.x_label, &self.y_label),
            (x0, x1),
            (y0, y1),
            canvas,
            log_y_ticks,
            &self.x_categories,
        );
        for m in &self.markers {
            let _ = writeln!(
                svg,
                r#"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1}" stroke="gray" stroke-dasharray="4,3"/>"#,
                px(*m),
                H - BOTTOM
            );
        }
        for h in &self.h_lines {
            let _ = writeln!(
                svg,
                r#"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="gray" stroke-dasharray="1,3"/>"#,
                py(*h),
                W - RIGHT
            );
        }
        if let Some(r) = self.circle {
            let _ = writeln!(
                svg,
                r#"<ellipse cx="{:.1}" cy="{:.1}" rx="{:.1}" ry="{:.1}" fill="none" stroke="gray" stroke-dasharray="2,3"/>"#,
                px(0.0),
                py(0.0),
                (px(r) - px(0.0)).abs(),
                (py(r) - py(0.0)).abs()
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = COLORS[s.color.unwrap_or(i) % COLORS.len()];
            let inside: Vec<(f64, f64)> =
                s.points.iter().copied().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            if matches!(s.style, Style::Line | Style::Dashed | Style::LinePoints) {
                let points: Vec<String> = inside.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
                let dash = if s.style == Style::Dashed { r#" stroke-dasharray="6,4""# } else { "" };
                let _ = writeln!(
                    svg,
                    r#"<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} points="{}"/>"#,
                    points.join(" ")
                );
            }
            for (k, &(x, _)) in s.points.iter().enumerate() {
                let Some((lo, hi)) = s.bar(k) else { continue };
                if x.is_finite() && lo.is_finite() && hi.is_finite() {
                    let _ = writeln!(
                        svg,
                        r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="{color}" stroke-width="1.5"/>"#,
                        px(x),
                        py(lo),
                        py(hi)
                    );
                }
            }
            // A line of one point draws nothing: such a series shows its point.
            if matches!(s.style, Style::Points | Style::LinePoints) || inside.len() == 1 {
                for &(x, y) in &inside {
                    let _ = writeln!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"/>"#, px(x), py(y));
                }
            }
        }
        let corner = if self.legend == Legend::Best {
            let mut drawn = Vec::new();
            for s in &self.series {
                let inside: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .filter(|p| p.0.is_finite() && p.1.is_finite())
                    .map(|&(x, y)| (px(x), py(y)))
                    .collect();
                drawn.extend(&inside);
                if s.style != Style::Points {
                    for w in inside.windows(2) {
                        drawn.extend((1..16).map(|k| {
                            let t = f64::from(k) / 16.0;
                            (w[0].0 + t * (w[1].0 - w[0].0), w[0].1 + t * (w[1].1 - w[0].1))
                        }));
                    }
                }
            }
            best_corner(&self.series, &drawn)
        } else {
            self.legend
        };
        legend(&mut svg, &self.series, corner);
        svg.push_str("</svg>\n");
        svg
    }
}

/// An SVG line chart of `series`, with dashed vertical markers at `markers` (e.g. curriculum
/// stage changes).
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series], markers: &[f64]) -> String {
    Chart { series: series.to_vec(), markers: markers.to_vec(), ..Chart::new(title, x_label, y_label) }.to_svg()
}

/// Several charts in one SVG document, `columns` to a row, under a common title (e.g. one
/// panel per context, as in a paper's figure).
pub fn panels(title: &str, charts: &[Chart], columns: usize) -> String {
    let columns = columns.clamp(1, charts.len().max(1));
    let width = |c: &Chart| if c.legend == Legend::Outside { W + 20.0 + legend_width(&c.series) } else { W };
    let cell = charts.iter().map(width).fold(W, f64::max);
    let rows = charts.len().div_ceil(columns);
    let head = 36.0;
    let (total_w, total_h) = (cell * columns as f64, head + H * rows as f64);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="17">{}</text>"#,
        total_w / 2.0,
        escape(title)
    );
    for (i, chart) in charts.iter().enumerate() {
        let (x, y) = ((i % columns) as f64 * cell, head + (i / columns) as f64 * H);
        let inner = chart.to_svg().replacen("<svg ", &format!(r#"<svg x="{x}" y="{y}" "#), 1);
        svg.push_str(&inner);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The ranges widened (around their centres) so a unit is as long on both axes.
fn equalise((x0, x1): (f64, f64), (y0, y1): (f64, f64)) -> ((f64, f64), (f64, f64)) {
    let (w, h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let per_px = ((x1 - x0) / w).max((y1 - y0) / h);
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    ((cx - per_px * w / 2.0, cx + per_px * w / 2.0), (cy - per_px * h / 2.0, cy + per_px * h / 2.0))
}

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
        let pad = 0.03 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

/// The document head, title, axes, ticks, grid and axis labels.
fn frame(
    title: &str,
    (x_label, y_label): (&str, &str),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    canvas: f64,
    log_y: bool,
    x_categories: &[String],
) -> String {
    let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let py = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{canvas}" height="{H}" font-family="sans-serif" font-size="12">"#
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
    let x_ticks: Vec<(f64, String)> = if x_categories.is_empty() {
        ticks(x0, x1).into_iter().map(|x| (x, format_tick(x))).collect()
    } else {
        x_categories.iter().enumerate().map(|(i, c)| (i as f64, c.clone())).collect()
    };
    for (x, label) in x_ticks {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            H - BOTTOM + 18.0,
            escape(&label)
        );
        let _ = writeln!(
            svg,
            r#"<line x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2}" stroke="black"/>"#,
            px(x),
            H - BOTTOM,
            H - BOTTOM + 4.0
        );
    }
    let y_ticks = if log_y { log_ticks(y0, y1) } else { ticks(y0, y1) };
    for y in y_ticks {
        let label = if log_y { format_tick(10f64.powf(y)) } else { format_tick(y) };
        let _ = writeln!(svg, r#"<text x="{}" y="{:.1}" text-anchor="end">{label}</text>"#, LEFT - 6.0, py(y) + 4.0);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#e4e4e4"/>"##,
            py(y),
            W - RIGHT
        );
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
    svg
}

/// Round tick values inside `[lo, hi]` (steps of 1, 2 or 5 times a power of ten, at most 7 ticks).
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| span / s <= 6.0).unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v }).collect()
}

/// Tick positions (log10 values) inside `[lo, hi]` of a log axis: the decades, with 2x and 5x
/// between them when the range spans fewer than two decades, and round values of the data's
/// own range when that gives fewer than three ticks (a loss falling from 0.18 to 0.08).
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite() && hi > lo) {
        return vec![lo];
    }
    let multiples: &[f64] = if hi - lo < 2.0 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let step = ((hi - lo) / 6.0).ceil().max(1.0) as i64;
    let decades = (lo.floor() as i64..=hi.ceil() as i64).filter(|k| k.rem_euclid(step) == 0);
    let out: Vec<f64> = decades
        .flat_map(|k| multiples.iter().map(move |m| k as f64 + m.log10()))
        .filter(|v| (lo..=hi).contains(v))
        .collect();
    if out.len() >= 3 {
        return out;
    }
    let linear: Vec<f64> =
        ticks(10f64.powf(lo), 10f64.powf(hi)).into_iter().filter(|&v| v > 0.0).map(f64::log10).collect();
    if linear.len() > out.len() { linear } else { out }
}

/// The legend in a corner of the frame (or right of it), as wide as its longest name, on a
/// white box so curves under it do not hide it.
/// The legend's width: about 7 px per character of its longest name at 12 px, plus the key.
fn legend_width(series: &[Series]) -> f64 {
    let longest = series.iter().filter(|s| !s.name.is_empty()).map(|s| s.name.chars().count()).max().unwrap_or(0);
    35.0 + 7.0 * longest as f64
}

/// The legend's box in a corner: the x of its keys, its top, width and height (`Best` is
/// placed as `TopRight`; [`best_corner`] resolves it first).
fn legend_box(series: &[Series], corner: Legend) -> (f64, f64, f64, f64) {
    let width = legend_width(series);
    let rows = series.iter().filter(|s| !s.name.is_empty()).count();
    let height = 14.0 * rows as f64 + 6.0;
    let x = match corner {
        Legend::TopLeft | Legend::BottomLeft => LEFT + 15.0,
        Legend::TopRight | Legend::BottomRight | Legend::Best => W - RIGHT - 10.0 - (width - 10.0),
        Legend::Outside => W + 10.0,
    };
    let top = match corner {
        Legend::BottomRight | Legend::BottomLeft => H - BOTTOM - height - 6.0,
        Legend::TopLeft | Legend::TopRight | Legend::Outside | Legend::Best => TOP - 4.0,
    };
    (x, top, width, height)
}

/// The corner whose legend box covers the fewest of `drawn` (pixel positions of the points and
/// of samples along the lines); the first of top right, top left, bottom right, bottom left on
/// a tie.
fn best_corner(series: &[Series], drawn: &[(f64, f64)]) -> Legend {
    let corners = [Legend::TopRight, Legend::TopLeft, Legend::BottomRight, Legend::BottomLeft];
    let covered = |corner: Legend| {
        let (x, top, width, height) = legend_box(series, corner);
        drawn
            .iter()
            .filter(|&&(px, py)| px >= x - 5.0 && px <= x - 5.0 + width && py >= top && py <= top + height)
            .count()
    };
    corners.into_iter().min_by_key(|&c| covered(c)).unwrap_or_default()
}

fn legend(svg: &mut String, series: &[Series], corner: Legend) {
    let named: Vec<(usize, &Series)> = series.iter().enumerate().filter(|(_, s)| !s.name.is_empty()).collect();
    if named.is_empty() {
        return;
    }
    let (x, top, width, height) = legend_box(series, corner);
    let _ = writeln!(
        svg,
        r##"<rect x="{:.1}" y="{top:.1}" width="{width:.1}" height="{height:.1}" fill="white" fill-opacity="0.85" stroke="#ccc"/>"##,
        x - 5.0
    );
    for (row, (i, s)) in named.iter().enumerate() {
        let color = COLORS[s.color.unwrap_or(*i) % COLORS.len()];
        let ly = top + 10.0 + 14.0 * row as f64;
        let dash = if s.style == Style::Dashed { r#" stroke-dasharray="6,4""# } else { "" };
        if s.style == Style::Points {
            let _ = writeln!(svg, r#"<circle cx="{:.1}" cy="{ly:.1}" r="3.5" fill="{color}"/>"#, x + 10.0);
        } else {
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/>"#,
                x + 20.0
            );
        }
        let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x + 25.0, ly + 4.0, escape(&s.name));
    }
}

fn format_tick(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

/// One matrix of [`heatmaps`]: `rows x cols` values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Panel title (e.g. `W_rec`), with what rows and columns are.
    pub title: String,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// The values, row-major.
    pub values: Vec<f64>,
    /// Draw a line after this many rows and columns (e.g. between excitatory and inhibitory
    /// units), if any.
    pub split: Option<(usize, usize)>,
}

/// Matrices side by side under a title and a subtitle, PyCog Fig 3 style: blue positive, red
/// negative, white zero; each panel scaled to its own largest magnitude (written under it).
pub fn heatmaps(title: &str, subtitle: &str, panels: &[Heatmap]) -> String {
    let cell = panels
        .iter()
        .map(|p| 300.0 / (p.rows.max(p.cols).max(1) as f64))
        .fold(f64::INFINITY, f64::min)
        .clamp(2.0, 24.0);
    let widths: Vec<f64> = panels.iter().map(|p| (p.cols as f64 * cell).max(20.0)).collect();
    let height = panels.iter().map(|p| p.rows as f64 * cell).fold(0.0, f64::max);
    let total_w = (widths.iter().sum::<f64>() + 90.0 * panels.len() as f64 + 60.0).max(640.0);
    let total_h = height + 140.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0}" height="{total_h:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        total_w / 2.0,
        escape(title)
    );
    let _ = writeln!(svg, r#"<text x="{:.1}" y="40" text-anchor="middle">{}</text>"#, total_w / 2.0, escape(subtitle));
    let mut x = 60.0;
    let top = 75.0;
    for (p, w) in panels.iter().zip(&widths) {
        let scale = p.values.iter().filter(|v| v.is_finite()).fold(0.0f64, |m, v| m.max(v.abs()));
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x + w / 2.0,
            top - 8.0,
            escape(&p.title)
        );
        for r in 0..p.rows {
            for c in 0..p.cols {
                let v = p.values.get(r * p.cols + c).copied().unwrap_or(0.0);
                let t = if scale > 0.0 && v.is_finite() { (v / scale).clamp(-1.0, 1.0) } else { 0.0 };
                let fade = |full: f64| 255.0 - (255.0 - full) * t.abs();
                let (red, green, blue) = if t >= 0.0 {
                    (fade(33.0), fade(102.0), fade(172.0))
                } else {
                    (fade(178.0), fade(24.0), fade(43.0))
                };
                let _ = writeln!(
                    svg,
                    r#"<rect x="{:.2}" y="{:.2}" width="{cell:.2}" height="{cell:.2}" fill="rgb({:.0},{:.0},{:.0})"/>"#,
                    x + c as f64 * cell,
                    top + r as f64 * cell,
                    red,
                    green,
                    blue
                );
            }
        }
        let pw = p.cols as f64 * cell;
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{top:.1}" width="{pw:.1}" height="{:.1}" fill="none" stroke="black"/>"#,
            p.rows as f64 * cell
        );
        if let Some((rows, cols)) = p.split {
            if rows > 0 && rows < p.rows {
                let y = top + rows as f64 * cell;
                let _ =
                    writeln!(svg, r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="black"/>"#, x + pw);
            }
            if cols > 0 && cols < p.cols {
                let lx = x + cols as f64 * cell;
                let _ = writeln!(
                    svg,
                    r#"<line x1="{lx:.1}" y1="{top:.1}" x2="{lx:.1}" y2="{:.1}" stroke="black"/>"#,
                    top + p.rows as f64 * cell
                );
            }
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">|max| {}</text>"#,
            x + w / 2.0,
            top + p.rows as f64 * cell + 18.0,
            format_tick(scale)
        );
        x += w + 90.0;
    }
    let y = total_h - 14.0;
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{y:.1}" text-anchor="end">rows: postsynaptic, columns: presynaptic.</text>"#,
        total_w / 2.0 + 40.0
    );
    let _ = writeln!(svg, r##"<text x="{:.1}" y="{y:.1}" fill="#2166ac">positive</text>"##, total_w / 2.0 + 50.0);
    let _ = writeln!(svg, r##"<text x="{:.1}" y="{y:.1}" fill="#b2182b">negative</text>"##, total_w / 2.0 + 110.0);
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_holds_one_polyline_per_series_and_the_markers() {
        let s = |name: &str, k: f64| Series::line(name, (0..5).map(|i| (f64::from(i), k * f64::from(i))).collect());
        let svg = line_chart("loss <curve>", "trials", "loss", &[s("a", 1.0), s("b", 2.0)], &[2.5]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        assert!(svg.contains("loss &lt;curve&gt;"));
        // Degenerate data (one point, constant) still gives finite coordinates.
        let flat = line_chart("t", "x", "y", &[Series::line("c", vec![(1.0, 1.0)])], &[]);
        assert!(!flat.contains("NaN") && !flat.contains("inf"));
        // Without a circle the origin is not pulled into the ranges.
        let far = Chart::new("t", "x", "y").with(Series::points("p", vec![(9.0, 5.0), (16.0, 6.0)])).to_svg();
        assert!(!far.contains(">0<"), "no tick at 0 for data in 9..16: {far}");
    }

    #[test]
    fn a_log_axis_places_values_by_their_logarithm_and_labels_them_in_value() {
        let y_of = |svg: &str, label: &str| -> f64 {
            let at = svg
                .find(&format!(r#"text-anchor="end">{label}</text>"#))
                .unwrap_or_else(|| panic!("no y tick {label}: {svg}"));
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y = tag.split("y=\"").nth(1).unwrap().split('"').next().unwrap();
            y.parse().unwrap()
        };
        // Four decades: a tick per decade, equally spaced.
        let falling = Series::line("loss", (0..5).map(|i| (f64::from(i), 10f64.powi(-i))).collect());
        let svg = Chart { log_y: true, ..Chart::new("t", "x", "y") }.with(falling).to_svg();
        let (a, b, c) = (y_of(&svg, "1"), y_of(&svg, "0.1"), y_of(&svg, "0.01"));
        assert!(((b - a) - (c - b)).abs() < 0.2, "decades equally spaced: {a} {b} {c}");
        // Less than a decade (0.08 to 0.18): round values inside the range, at least three.
        let small = Series::line("loss", vec![(0.0, 0.18), (1.0, 0.08)]);
        let svg = Chart { log_y: true, ..Chart::new("t", "x", "y") }.with(small).to_svg();
        assert!(svg.matches(r#"text-anchor="end""#).count() >= 3, "{svg}");
        // Non-positive values are left out, not drawn at -inf; one point shows as a marker.
        let odd = Series::line("loss", vec![(0.0, 0.0), (1.0, 0.5)]);
        let svg = Chart { log_y: true, ..Chart::new("t", "x", "y") }.with(odd).to_svg();
        assert!(!svg.contains("NaN") && !svg.contains("inf") && svg.matches("<circle").count() == 1, "{svg}");
    }

    #[test]
    fn points_error_bars_circle_and_heatmaps_are_drawn() {
        let chart = Chart { circle: Some(1.0), h_lines: vec![0.5], ..Chart::new("c", "x (ms)", "y (%)") }
            .with(Series::points("data", vec![(0.0, 0.2), (1.0, 0.8)]).with_errors(vec![0.1, f64::NAN]))
            .with(Series::line("", vec![(0.0, 0.1), (1.0, 0.9)]).styled(Style::Dashed));
        let svg = chart.to_svg();
        assert_eq!(svg.matches("<circle").count(), 3, "two points and the legend's marker");
        assert_eq!(svg.matches("<ellipse").count(), 1);
        assert_eq!(svg.matches(r#"stroke-dasharray="6,4""#).count(), 1, "the unnamed series is not in the legend");
        assert!(svg.contains(">data<") && !svg.contains("NaN"));
        let h = heatmaps(
            "W",
            "sorted",
            &[Heatmap {
                title: "W_rec".into(),
                rows: 2,
                cols: 2,
                values: vec![1.0, -1.0, 0.0, 0.5],
                split: Some((1, 1)),
            }],
        );
        assert!(h.contains("rgb(33,102,172)") && h.contains("rgb(178,24,43)") && h.contains("rgb(255,255,255)"));
        let t = ticks(0.0, 1.0);
        assert!(t.len() == 6 && t.iter().enumerate().all(|(k, v)| (v - 0.2 * k as f64).abs() < 1e-12), "{t:?}");
        assert_eq!(ticks(-0.37, 0.41), vec![-0.2, 0.0, 0.2, 0.4]);
    }

    #[test]
    fn panels_place_each_chart_in_its_cell_under_one_title() {
        let chart =
            |t: &str| Chart::new(t, "x (a.u.)", "y (a.u.)").with(Series::line("s", vec![(0.0, 0.0), (1.0, 1.0)]));
        let svg = panels("Figure & more", &[chart("A"), chart("B"), chart("C")], 2);
        assert_eq!(svg.matches("<svg").count(), 4, "the document and three panels");
        assert!(svg.contains(r#"<svg x="0" y="36" "#) && svg.contains(&format!(r#"<svg x="{W}" y="36" "#)));
        assert!(svg.contains(&format!(r#"<svg x="0" y="{}" "#, 36.0 + H)), "the third panel starts the second row");
        assert!(svg.contains(&format!(r#"width="{}" height="{}""#, 2.0 * W, 36.0 + 2.0 * H)));
        assert!(svg.contains("Figure &amp; more") && svg.trim_end().ends_with("</svg>"));
    }
}
