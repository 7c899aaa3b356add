//! The demo's HTML report: per configuration, commit latency and WAL size over time, with
//! checkpoints shaded and writer pauses marked, plus a table of summary numbers.
//!
//! The file is self-contained: plots are inline SVG drawn by `plotters` (its SVG backend
//! writes text as `<text>` elements, which the browser renders with its own fonts), styles
//! are inline, and nothing is fetched from the network. Long series are downsampled per
//! time bucket (latency: the maximum and the median of each bucket; WAL: the minimum and
//! the maximum of each bucket), so a report stays small whatever the transaction count.

// The demo calls `write` once it produces the series; until then only the tests do.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::stats::Summary;

/// One configuration's time series, times in seconds since its load started.
pub struct Series {
    /// The configuration's name, e.g. "(a) inline autocheckpoint".
    pub label: String,
    /// (completion time s, submit-to-durable ms), one per transaction.
    pub latency: Vec<(f64, f64)>,
    /// (time s, un-checkpointed WAL bytes), sampled periodically.
    pub wal_bytes: Vec<(f64, f64)>,
    /// (time s, -wal file size in bytes), sampled periodically.
    pub wal_file_bytes: Vec<(f64, f64)>,
    /// Each checkpoint: start and end (s) and its mode ("passive", "restart", ...).
    pub checkpoints: Vec<Span>,
    /// Writer pauses, or for baselines the commits that ran a checkpoint inline.
    pub pauses: Vec<Span>,
}

/// An interval of time in seconds, with a short description.
pub struct Span {
    /// Start, seconds since the load started.
    pub start: f64,
    /// End, seconds since the load started.
    pub end: f64,
    /// What happened during the span.
    pub label: String,
}

/// A group of configurations run under the same conditions, plotted on one time axis.
pub struct Section {
    /// Heading, e.g. "durability full, cloud-SSD model".
    pub title: String,
    /// A sentence or two shown under the heading.
    pub note: String,
    /// The configurations, in the order they are shown.
    pub runs: Vec<Series>,
}

/// Width and height of each plot, in CSS pixels.
const PLOT_SIZE: (u32, u32) = (680, 250);

/// Colours, shared by the plots and the HTML legend (Okabe-Ito palette).
const LATENCY_MAX: RGBColor = RGBColor(0xD5, 0x5E, 0x00);
const LATENCY_P50: RGBColor = RGBColor(0x00, 0x72, 0xB2);
const WAL_BYTES: RGBColor = RGBColor(0x00, 0x9E, 0x73);
const WAL_FILE: RGBColor = RGBColor(0x55, 0x55, 0x55);
const CHECKPOINT: RGBColor = RGBColor(0x56, 0xB4, 0xE9);
const CHECKPOINT_ALPHA: f64 = 0.3;
const PAUSE: RGBColor = RGBColor(0xCC, 0x00, 0x99);

/// Fraction of the plot height, at its top, where writer pauses are marked.
const PAUSE_STRIP: f64 = 0.07;

/// Writes a self-contained HTML file (inline SVG, no scripts or fonts fetched from the network).
pub fn write(path: &Path, title: &str, sections: &[Section]) -> Result<(), String> {
    let html = render(title, sections)?;
    std::fs::write(path, html).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The report as one HTML document.
fn render(title: &str, sections: &[Section]) -> Result<String, String> {
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        STYLE,
        escape(title)
    );
    for section in sections {
        render_section(&mut out, section)?;
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

const STYLE: &str = "
body { font-family: sans-serif; margin: 16px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 4px; border-top: 2px solid #ccc; padding-top: 12px; }
h3 { font-size: 15px; margin: 12px 0 2px; }
p.note { margin: 0 0 8px; color: #444; font-size: 14px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td { white-space: nowrap; }
th { background: #f2f2f2; }
td:first-child, th:first-child { text-align: left; }
.legend { font-size: 13px; margin: 4px 0 8px; }
.legend span.item { margin-right: 18px; white-space: nowrap; }
.legend span.key { display: inline-block; width: 22px; vertical-align: middle; margin-right: 5px; }
.legend span.line { height: 3px; }
.legend span.box { height: 12px; }
.plots { display: flex; gap: 8px; flex-wrap: wrap; }
.plots svg { display: block; }
";

/// The colour key, shown once at the top (every plot uses the same colours).
fn legend() -> String {
    let rgb = |c: RGBColor| format!("rgb({},{},{})", c.0, c.1, c.2);
    let items = [
        ("line", rgb(LATENCY_MAX), "latency: maximum per time bucket"),
        ("line", rgb(LATENCY_P50), "latency: median per time bucket"),
        ("line", rgb(WAL_BYTES), "WAL not yet checkpointed"),
        ("line", rgb(WAL_FILE), "-wal file size"),
        (
            "box",
            format!(
                "rgba({},{},{},{CHECKPOINT_ALPHA})",
                CHECKPOINT.0, CHECKPOINT.1, CHECKPOINT.2
            ),
            "checkpoint running",
        ),
        (
            "box",
            rgb(PAUSE),
            "writer paused (marks at the top; for baselines: a commit that ran a checkpoint)",
        ),
    ];
    let mut out = String::from("<div class=\"legend\">");
    for (kind, colour, text) in items {
        let _ = write!(
            out,
            "<span class=\"item\"><span class=\"key {kind}\" style=\"background:{colour}\">\
             </span>{}</span> ",
            escape(text)
        );
    }
    out.push_str("</div>\n");
    out
}

/// Axes shared by every plot of a section.
struct Axes {
    /// Time axis, seconds.
    t_end: f64,
    /// Latency axis (log scale), milliseconds.
    latency: (f64, f64),
    /// WAL axis, MiB.
    wal_mib: f64,
}

fn render_section(out: &mut String, section: &Section) -> Result<(), String> {
    let _ = write!(out, "<section>\n<h2>{}</h2>\n", escape(&section.title));
    if !section.note.is_empty() {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(&section.note));
    }
    out.push_str(&summary_table(&section.runs));
    out.push_str(&legend());
    let axes = section_axes(&section.runs);
    for run in &section.runs {
        let latency = latency_svg(run, &axes)?;
        let wal = wal_svg(run, &axes)?;
        let _ = write!(
            out,
            "<h3>{}</h3>\n<div class=\"plots\">\n{latency}{wal}</div>\n",
            escape(&run.label)
        );
    }
    out.push_str("</section>\n");
    Ok(())
}

/// One row per configuration: latency percentiles, checkpoints, pauses, WAL peaks.
fn summary_table(runs: &[Series]) -> String {
    let mut out = String::from(
        "<table>\n<tr><th>configuration</th><th>transactions</th><th>p50 ms</th>\
         <th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>checkpoints by mode</th>\
         <th>time checkpointing s</th><th>writer pauses</th><th>longest pause ms</th>\
         <th>peak WAL not checkpointed</th><th>peak -wal file</th></tr>\n",
    );
    for run in runs {
        let summary = Summary::of(
            run.latency
                .iter()
                .map(|&(_, ms)| ms)
                .filter(|ms| ms.is_finite())
                .collect(),
        );
        let busy: f64 = run.checkpoints.iter().map(span_len).sum();
        let longest_pause = if run.pauses.is_empty() {
            "-".to_string()
        } else {
            fmt_ms(run.pauses.iter().map(span_len).fold(0.0, f64::max) * 1000.0)
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&run.label),
            thousands(summary.len()),
            fmt_ms(summary.p50()),
            fmt_ms(summary.p99()),
            fmt_ms(summary.p999()),
            fmt_ms(summary.max()),
            checkpoint_modes(&run.checkpoints),
            busy,
            thousands(run.pauses.len()),
            longest_pause,
            fmt_bytes(peak(&run.wal_bytes)),
            fmt_bytes(peak(&run.wal_file_bytes)),
        );
    }
    out.push_str("</table>\n");
    out
}

/// "21: passive 16, restart 5": the count of checkpoints, then per mode in first-seen order.
fn checkpoint_modes(spans: &[Span]) -> String {
    let mut modes: Vec<(&str, usize)> = Vec::new();
    for s in spans {
        match modes.iter_mut().find(|(m, _)| *m == s.label) {
            Some((_, n)) => *n += 1,
            None => modes.push((&s.label, 1)),
        }
    }
    let mut out = thousands(spans.len());
    for (i, (mode, n)) in modes.iter().enumerate() {
        let _ = write!(
            out,
            "{}{} {}",
            if i == 0 { ": " } else { ", " },
            escape(mode),
            thousands(*n)
        );
    }
    out
}

/// 200000 as "200,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn span_len(s: &Span) -> f64 {
    let len = s.end - s.start;
    if len.is_finite() {
        len.max(0.0)
    } else {
        0.0
    }
}

fn peak(points: &[(f64, f64)]) -> f64 {
    points
        .iter()
        .map(|&(_, v)| v)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

fn section_axes(runs: &[Series]) -> Axes {
    let mut t_end: f64 = 0.0;
    let mut lat_min = f64::INFINITY;
    let mut lat_max: f64 = 0.0;
    let mut wal: f64 = 0.0;
    for run in runs {
        let times = run
            .latency
            .iter()
            .chain(&run.wal_bytes)
            .chain(&run.wal_file_bytes)
            .map(|&(t, _)| t)
            .chain(run.checkpoints.iter().chain(&run.pauses).map(|s| s.end));
        for t in times.filter(|t| t.is_finite()) {
            t_end = t_end.max(t);
        }
        for &(_, ms) in &run.latency {
            if ms.is_finite() && ms > 0.0 {
                lat_min = lat_min.min(ms);
                lat_max = lat_max.max(ms);
            }
        }
        wal = wal.max(peak(&run.wal_bytes)).max(peak(&run.wal_file_bytes));
    }
    if t_end <= 0.0 {
        t_end = 1.0;
    }
    let latency = if lat_min.is_finite() {
        let lo = 10f64.powf(lat_min.log10().floor());
        let mut hi = 10f64.powf(lat_max.log10().ceil());
        if hi <= lo {
            hi = lo * 10.0;
        }
        (lo, hi)
    } else {
        (0.1, 100.0)
    };
    let wal_mib = if wal > 0.0 { wal / MIB } else { 1.0 };
    Axes {
        t_end,
        latency,
        wal_mib,
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// Per time bucket: the largest and the median latency.
struct LatencyBuckets {
    max: Vec<Option<(f64, f64)>>,
    p50: Vec<Option<(f64, f64)>>,
}

fn latency_buckets(points: &[(f64, f64)], t_end: f64, n: usize) -> LatencyBuckets {
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); n];
    for &(t, ms) in points {
        if t.is_finite() && ms.is_finite() {
            buckets[bucket_of(t, t_end, n)].push(ms);
        }
    }
    let width = t_end / n as f64;
    let mut max = Vec::with_capacity(n);
    let mut p50 = Vec::with_capacity(n);
    for (i, mut b) in buckets.into_iter().enumerate() {
        let t = (i as f64 + 0.5) * width;
        if b.is_empty() {
            max.push(None);
            p50.push(None);
            continue;
        }
        b.sort_by(f64::total_cmp);
        max.push(b.last().map(|&v| (t, v)));
        p50.push(Some((t, b[(b.len() - 1) / 2])));
    }
    LatencyBuckets { max, p50 }
}

fn bucket_of(t: f64, t_end: f64, n: usize) -> usize {
    let i = (t / t_end * n as f64).floor();
    if i <= 0.0 {
        0
    } else {
        (i as usize).min(n - 1)
    }
}

/// Per time bucket, the bucket's smallest and largest sample in time order, so the
/// envelope (peaks and drops) survives downsampling.
fn min_max_downsample(points: &[(f64, f64)], t_end: f64, n: usize) -> Vec<(f64, f64)> {
    // Per bucket: (lowest sample, highest sample), each as (time, value).
    type Extremes = ((f64, f64), (f64, f64));
    let mut buckets: Vec<Option<Extremes>> = vec![None; n];
    for &(t, v) in points {
        if !(t.is_finite() && v.is_finite()) {
            continue;
        }
        let slot = &mut buckets[bucket_of(t, t_end, n)];
        match slot {
            None => *slot = Some(((t, v), (t, v))),
            Some((lo, hi)) => {
                if v < lo.1 {
                    *lo = (t, v);
                }
                if v > hi.1 {
                    *hi = (t, v);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(2 * n);
    for (lo, hi) in buckets.into_iter().flatten() {
        if lo.0 <= hi.0 {
            out.push(lo);
            if hi != lo {
                out.push(hi);
            }
        } else {
            out.push(hi);
            out.push(lo);
        }
    }
    out
}

/// Runs of consecutive filled buckets, so that a bucket without completions shows as a gap.
fn segments(buckets: &[Option<(f64, f64)>]) -> Vec<Vec<(f64, f64)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for b in buckets {
        match b {
            Some(p) => current.push(*p),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Spans widened to at least `min_width` and merged where they touch, as (start, end).
fn merged_spans(spans: &[Span], min_width: f64) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = spans
        .iter()
        .filter(|s| s.start.is_finite() && s.end.is_finite())
        .map(|s| {
            let (a, b) = (s.start.min(s.end), s.start.max(s.end));
            if b - a < min_width {
                let mid = (a + b) / 2.0;
                (mid - min_width / 2.0, mid + min_width / 2.0)
            } else {
                (a, b)
            }
        })
        .collect();
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut out: Vec<(f64, f64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 + min_width / 2.0 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn fmt_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

fn fmt_bytes(b: f64) -> String {
    if b >= MIB {
        format!("{:.1} MiB", b / MIB)
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn plot_err<E: std::fmt::Display>(e: E) -> String {
    format!("drawing a plot: {e}")
}

fn chart_builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.margin(6)
        .margin_right(14)
        .caption(caption, ("sans-serif", 16))
        .x_label_area_size(38)
        .y_label_area_size(62);
    b
}

/// Time buckets of the latency plot: about one per two pixels of the plot's width.
fn latency_bucket_count() -> usize {
    ((PLOT_SIZE.0 - 90) / 2) as usize
}

/// Commit latency over time: maximum and median per bucket, log scale.
fn latency_svg(run: &Series, axes: &Axes) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (lo, hi) = axes.latency;
        // Room above the data for the pause marks.
        let top = hi * (hi / lo).powf(PAUSE_STRIP / (1.0 - PAUSE_STRIP));
        let strip_bottom = top / (top / lo).powf(PAUSE_STRIP);
        let caption = format!(
            "commit latency, submit to durable: max and median per {} ms",
            fmt_num(axes.t_end / latency_bucket_count() as f64 * 1000.0)
        );
        let mut chart = chart_builder(&root, &caption)
            .build_cartesian_2d(0.0..axes.t_end, (lo..top).log_scale())
            .map_err(plot_err)?;
        let x_fmt = |t: &f64| fmt_num(*t);
        let y_fmt = |v: &f64| fmt_num(*v);
        chart
            .configure_mesh()
            .x_desc("seconds since the load started")
            .y_desc("ms (log scale)")
            .x_labels(12)
            .y_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_max_light_lines(2)
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .draw()
            .map_err(plot_err)?;
        let px = chart.plotting_area().dim_in_pixel().0.max(1) as usize;
        let pixel = axes.t_end / px as f64;
        chart
            .draw_series(
                merged_spans(&run.checkpoints, pixel)
                    .into_iter()
                    .map(|(a, b)| {
                        Rectangle::new(
                            [(a, lo), (b, strip_bottom)],
                            CHECKPOINT.mix(CHECKPOINT_ALPHA).filled(),
                        )
                    }),
            )
            .map_err(plot_err)?;
        let buckets = latency_buckets(&run.latency, axes.t_end, latency_bucket_count());
        for (series, colour, width) in [
            (&buckets.max, LATENCY_MAX, 1),
            (&buckets.p50, LATENCY_P50, 2),
        ] {
            for seg in segments(series) {
                let seg: Vec<(f64, f64)> = seg.into_iter().map(|(t, v)| (t, v.max(lo))).collect();
                if let [only] = seg[..] {
                    chart
                        .draw_series(std::iter::once(Circle::new(only, width, colour.filled())))
                        .map_err(plot_err)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(seg, colour.stroke_width(width)))
                        .map_err(plot_err)?;
                }
            }
        }
        chart
            .draw_series(
                merged_spans(&run.pauses, pixel)
                    .into_iter()
                    .map(|(a, b)| Rectangle::new([(a, strip_bottom), (b, top)], PAUSE.filled())),
            )
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

/// WAL size over time: bytes not yet checkpointed and the -wal file's size, in MiB.
fn wal_svg(run: &Series, axes: &Axes) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let hi = axes.wal_mib * 1.02;
        let top = hi / (1.0 - PAUSE_STRIP);
        let mut chart = chart_builder(&root, "WAL size")
            .build_cartesian_2d(0.0..axes.t_end, 0.0..top)
            .map_err(plot_err)?;
        let x_fmt = |t: &f64| fmt_num(*t);
        let y_fmt = |v: &f64| fmt_num(*v);
        chart
            .configure_mesh()
            .x_desc("seconds since the load started")
            .y_desc("MiB")
            .x_labels(12)
            .y_labels(6)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_max_light_lines(2)
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 13))
            .draw()
            .map_err(plot_err)?;
        let px = chart.plotting_area().dim_in_pixel().0.max(1) as usize;
        let pixel = axes.t_end / px as f64;
        chart
            .draw_series(
                merged_spans(&run.checkpoints, pixel)
                    .into_iter()
                    .map(|(a, b)| {
                        Rectangle::new(
                            [(a, 0.0), (b, hi)],
                            CHECKPOINT.mix(CHECKPOINT_ALPHA).filled(),
                        )
                    }),
            )
            .map_err(plot_err)?;
        for (points, colour, width) in [
            (&run.wal_file_bytes, WAL_FILE, 2),
            (&run.wal_bytes, WAL_BYTES, 2),
        ] {
            let line: Vec<(f64, f64)> = min_max_downsample(points, axes.t_end, px)
                .into_iter()
                .map(|(t, b)| (t, b / MIB))
                .collect();
            chart
                .draw_series(LineSeries::new(line, colour.stroke_width(width)))
                .map_err(plot_err)?;
        }
        chart
            .draw_series(
                merged_spans(&run.pauses, pixel)
                    .into_iter()
                    .map(|(a, b)| Rectangle::new([(a, hi), (b, top)], PAUSE.filled())),
            )
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [0, 1).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// A configuration that commits `n` transactions over `seconds`, checkpointing every
    /// `period` seconds for `busy` seconds; `pause` > 0 pauses the writer for that long at
    /// each checkpoint's start (no completions then, and a latency spike after).
    fn synthetic(
        label: &str,
        seed: u64,
        n: usize,
        seconds: f64,
        period: f64,
        busy: f64,
        pause: f64,
    ) -> Series {
        let mut rng = Rng(seed | 1);
        let mut checkpoints = Vec::new();
        let mut pauses = Vec::new();
        let mut t = period;
        while t + busy < seconds {
            checkpoints.push(Span {
                start: t,
                end: t + busy,
                label: if checkpoints.len() % 4 == 3 {
                    "restart".into()
                } else {
                    "passive".into()
                },
            });
            if pause > 0.0 {
                pauses.push(Span {
                    start: t,
                    end: t + pause,
                    label: "pause".into(),
                });
            }
            t += period;
        }
        let in_span = |spans: &[Span], t: f64| spans.iter().any(|s| s.start <= t && t < s.end);
        let mut latency = Vec::with_capacity(n);
        for i in 0..n {
            let mut t = (i as f64 + rng.next()) * seconds / n as f64;
            if let Some(p) = pauses.iter().find(|p| p.start <= t && t < p.end) {
                t = p.end + rng.next() * 0.002;
            }
            let base = 0.4 + 2.0 * rng.next() * rng.next();
            let slow = if in_span(&checkpoints, t) { 4.0 } else { 1.0 };
            let spike = if rng.next() < 0.0005 {
                50.0 + 400.0 * rng.next()
            } else {
                0.0
            };
            latency.push((t, base * slow + spike));
        }
        let mut wal_bytes = Vec::new();
        let mut wal_file_bytes = Vec::new();
        let mut file: f64 = 0.0;
        let mut pending: f64 = 0.0;
        let step = 0.005;
        let rate = n as f64 / seconds * 4096.0 * 1.2;
        let mut s = 0.0;
        while s <= seconds {
            if in_span(&checkpoints, s) {
                pending = (pending - rate * 3.0 * step).max(0.0);
            } else {
                pending += rate * step;
            }
            file = file.max(pending);
            wal_bytes.push((s, pending));
            wal_file_bytes.push((s, file));
            s += step;
        }
        Series {
            label: label.into(),
            latency,
            wal_bytes,
            wal_file_bytes,
            checkpoints,
            pauses,
        }
    }

    fn section(title: &str, seed: u64, n: usize) -> Section {
        Section {
            title: title.into(),
            note: "Synthetic data: single-row inserts from 8 threads; <each> & every \"one\"."
                .into(),
            runs: vec![
                synthetic("(a) inline autocheckpoint", seed, n, 20.0, 0.9, 0.25, 0.2),
                synthetic("(b) stat trigger", seed + 1, n, 24.0, 3.0, 0.8, 0.0),
                synthetic("(c) litecommit", seed + 2, n, 16.0, 0.5, 0.12, 0.004),
            ],
        }
    }

    fn report(sections: usize, n: usize) -> Vec<Section> {
        (0..sections)
            .map(|i| section(&format!("durability full, model {i}"), 11 + i as u64 * 7, n))
            .collect()
    }

    #[test]
    fn report_has_one_svg_per_plot_the_labels_and_no_external_references() {
        let sections = report(2, 20_000);
        let html = render("Checkpoint <strategies>", &sections).expect("render");
        let runs: usize = sections.iter().map(|s| s.runs.len()).sum();
        assert_eq!(html.matches("<svg").count(), 2 * runs);
        assert_eq!(html.matches("</svg>").count(), 2 * runs);
        assert!(html.contains("<title>Checkpoint &lt;strategies&gt;</title>"));
        for s in &sections {
            assert!(html.contains(&format!("<h2>{}</h2>", escape(&s.title))));
            for r in &s.runs {
                assert!(html.contains(&format!("<h3>{}</h3>", escape(&r.label))));
            }
        }
        assert!(html.contains("&lt;each&gt; &amp; every &quot;one&quot;"));
        let xmlns = "xmlns=\"http://www.w3.org/2000/svg\"";
        let without_ns = html.replace(xmlns, "");
        assert!(!without_ns.contains("http://"), "external reference");
        assert!(!without_ns.contains("https://"), "external reference");
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        for colour in [LATENCY_MAX, LATENCY_P50, WAL_BYTES, WAL_FILE, PAUSE] {
            let hex = format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2);
            assert!(html.contains(&hex), "no element drawn in {hex}");
        }
    }

    #[test]
    fn summary_table_holds_the_percentiles() {
        let run = Series {
            label: "r".into(),
            latency: (1..=1000).map(|i| (i as f64 / 100.0, i as f64)).collect(),
            wal_bytes: vec![(0.0, 0.0), (1.0, 3.0 * MIB)],
            wal_file_bytes: vec![(0.0, 0.0), (1.0, 4.0 * MIB)],
            checkpoints: vec![Span {
                start: 1.0,
                end: 1.5,
                label: "passive".into(),
            }],
            pauses: vec![Span {
                start: 2.0,
                end: 2.25,
                label: "pause".into(),
            }],
        };
        let table = summary_table(&[run]);
        let row = "<tr><td>r</td><td>1,000</td><td>500</td><td>990</td><td>999</td>\
                   <td>1000</td><td>1: passive 1</td><td>0.50</td><td>1</td><td>250</td>\
                   <td>3.0 MiB</td><td>4.0 MiB</td></tr>";
        assert!(table.contains(row), "{table}");
    }

    #[test]
    fn downsampling_keeps_the_extremes() {
        let points: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64 / 1000.0, if i == 4321 { 1e9 } else { 1.0 }))
            .collect();
        let down = min_max_downsample(&points, 10.0, 100);
        assert!(down.len() <= 200);
        assert!(down.contains(&(4.321, 1e9)));
        let buckets = latency_buckets(&points, 10.0, 100);
        let max = buckets
            .max
            .iter()
            .flatten()
            .map(|p| p.1)
            .fold(0.0, f64::max);
        assert_eq!(max, 1e9);
        assert!(buckets.p50.iter().flatten().all(|p| p.1 == 1.0));
    }

    #[test]
    fn short_spans_are_widened_and_touching_ones_merged() {
        let span = |start, end| Span {
            start,
            end,
            label: String::new(),
        };
        let merged = merged_spans(
            &[
                span(5.0, 5.001),
                span(1.0, 2.0),
                span(2.05, 3.0),
                span(7.0, 6.0),
            ],
            0.1,
        );
        assert_eq!(merged.len(), 3);
        assert_eq!(merged[0], (1.0, 3.0));
        assert!((merged[1].1 - merged[1].0 - 0.1).abs() < 1e-9);
        assert_eq!(merged[2], (6.0, 7.0));
    }

    #[test]
    fn empty_and_degenerate_input_still_renders() {
        let empty = Series {
            label: "empty".into(),
            latency: Vec::new(),
            wal_bytes: Vec::new(),
            wal_file_bytes: Vec::new(),
            checkpoints: Vec::new(),
            pauses: Vec::new(),
        };
        let odd = Series {
            label: "odd".into(),
            latency: vec![
                (0.0, 0.0),
                (f64::NAN, 1.0),
                (1.0, f64::INFINITY),
                (2.0, 3.0),
            ],
            wal_bytes: vec![(0.0, 5.0)],
            wal_file_bytes: vec![(-1.0, 5.0)],
            checkpoints: vec![Span {
                start: 3.0,
                end: f64::NAN,
                label: "passive".into(),
            }],
            pauses: vec![Span {
                start: 2.0,
                end: 1.0,
                label: "pause".into(),
            }],
        };
        let sections = [
            Section {
                title: "no runs".into(),
                note: String::new(),
                runs: Vec::new(),
            },
            Section {
                title: "odd runs".into(),
                note: String::new(),
                runs: vec![empty, odd],
            },
        ];
        let html = render("edge cases", &sections).expect("render");
        assert_eq!(html.matches("<svg").count(), 4);
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(200_000), "200,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    /// The full demo's shape (6 sections of 3 configurations, 200,000 transactions each)
    /// stays well under 5 MB.
    #[test]
    fn full_size_report_stays_small() {
        let html = render("Checkpoint strategies", &report(6, 200_000)).expect("render");
        println!(
            "report of 6 sections x 3 runs x 200,000 transactions: {} bytes",
            html.len()
        );
        assert!(html.len() < 5_000_000, "{} bytes", html.len());
    }

    /// Renders a report in headless Chromium (the browser named by $CHROMIUM) and checks
    /// the screenshot shows the plots: many colours, and pixels of every series colour.
    #[test]
    fn report_renders_in_chromium() {
        let Some(chromium) = std::env::var_os("CHROMIUM").filter(|v| !v.is_empty()) else {
            println!("skipped: CHROMIUM not set");
            return;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let html = dir.path().join("report.html");
        let png_path = dir.path().join("report.png");
        write(
            &html,
            "Checkpoint strategies (synthetic)",
            &report(2, 50_000),
        )
        .expect("write");
        let profile = dir.path().join("profile");
        let mut child = std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--window-size=1400,2000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", png_path.display()))
            .arg(format!("file://{}", html.display()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start chromium");
        // A browser that hangs is killed after a generous limit rather than blocking forever.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for chromium") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromium did not exit within 300 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        let output = child.wait_with_output().expect("chromium output");
        assert!(
            status.success(),
            "chromium failed ({status}): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if let Some(keep) = std::env::var_os("REPORT_SCREENSHOT") {
            std::fs::copy(&png_path, &keep).expect("copy screenshot");
            std::fs::copy(&html, Path::new(&keep).with_extension("html")).expect("copy html");
        }

        let decoder = png::Decoder::new(std::fs::File::open(&png_path).expect("open png"));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        assert_eq!((info.width, info.height), (1400, 2000));
        let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        let distinct: std::collections::HashSet<[u8; 3]> = pixels.iter().copied().collect();
        println!(
            "screenshot {}x{}: {} distinct colours",
            info.width,
            info.height,
            distinct.len()
        );
        assert!(
            distinct.len() > 100,
            "{} colours: blank page?",
            distinct.len()
        );

        let near = |p: &[u8; 3], c: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= 10);
        let over_white = |c: RGBColor, a: f64| {
            let blend = |v: u8| (f64::from(v) * a + 255.0 * (1.0 - a)).round() as u8;
            [blend(c.0), blend(c.1), blend(c.2)]
        };
        let expected = [
            ("latency max", [LATENCY_MAX.0, LATENCY_MAX.1, LATENCY_MAX.2]),
            ("latency p50", [LATENCY_P50.0, LATENCY_P50.1, LATENCY_P50.2]),
            ("WAL bytes", [WAL_BYTES.0, WAL_BYTES.1, WAL_BYTES.2]),
            ("WAL file", [WAL_FILE.0, WAL_FILE.1, WAL_FILE.2]),
            ("pause", [PAUSE.0, PAUSE.1, PAUSE.2]),
            ("checkpoint", over_white(CHECKPOINT, CHECKPOINT_ALPHA)),
            ("text", [0x22, 0x22, 0x22]),
        ];
        for (what, colour) in expected {
            let count = pixels.iter().filter(|p| near(p, colour)).count();
            println!("{what}: {count} pixels near {colour:?}");
            assert!(count >= 200, "{what}: only {count} pixels of {colour:?}");
        }
    }
}
