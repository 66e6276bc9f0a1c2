//! PNG plots for docs/benchmarks.md, drawn with plotters' bitmap backend.
//!
//! Text is rendered through ab_glyph from a DejaVu TTF read at run time, so
//! drawing needs no fontconfig. Without the font the plot is skipped with a
//! message (the tables still carry every number).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

/// One colour per tool, the same in every plot: kspy first.
pub const TOOL_COLORS: &[(&str, RGBColor)] = &[
    ("kspy", RGBColor(0x1f, 0x77, 0xb4)),
    ("kubectl wait", RGBColor(0xff, 0x7f, 0x0e)),
    ("chainsaw", RGBColor(0x2c, 0xa0, 0x2c)),
    ("kuttl", RGBColor(0xd6, 0x27, 0x28)),
];

const FONT_FILES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers the font once; false when none of FONT_FILES can be read.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        for file in FONT_FILES {
            if let Ok(bytes) = std::fs::read(file) {
                // plotters keeps a 'static reference: leak the one copy.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        eprintln!("plot: no DejaVuSans.ttf found (tried {}); plots are skipped", FONT_FILES.join(", "));
        false
    })
}

/// The colour of a series: the tool's colour when its label starts with a
/// tool name, otherwise one from a palette by position.
pub fn color_of(label: &str, index: usize) -> RGBColor {
    TOOL_COLORS
        .iter()
        .find(|(tool, _)| label.starts_with(tool))
        .map(|(_, c)| *c)
        .unwrap_or_else(|| {
            let c = Palette99::pick(index).to_rgba();
            RGBColor(c.0, c.1, c.2)
        })
}

/// A named list of samples (milliseconds, or fractions for bars).
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
}

/// One panel of `ecdf_panels`.
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

/// Empirical CDFs of latencies (ms, log scale), one panel per case side by
/// side: the share of runs decided within x ms. Returns false when skipped.
pub fn ecdf_panels(path: &Path, title: &str, panels: &[Panel]) -> anyhow::Result<bool> {
    if !font_ready() || panels.is_empty() {
        return Ok(false);
    }
    let all = panels.iter().flat_map(|p| p.series.iter()).flat_map(|s| s.values.iter().copied());
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return Ok(false);
    }
    // Whole decades around the data, so every panel has the same axis.
    let lo = 10f64.powf(lo.max(0.01).log10().floor());
    let hi = 10f64.powf(hi.max(lo * 10.0).log10().ceil());

    let width = 520 * panels.len() as u32;
    let root = BitMapBackend::new(path, (width, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    for (area, panel) in root.split_evenly((1, panels.len())).iter().zip(panels) {
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.0)?;
        chart
            .configure_mesh()
            .x_desc("ms after the status patch (log)")
            .y_desc("share of runs decided")
            .x_label_formatter(&|v| short_number(*v))
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .label_style(("sans-serif", 13))
            .draw()?;
        for (i, series) in panel.series.iter().enumerate() {
            if series.values.is_empty() {
                continue;
            }
            let color = color_of(&series.label, i);
            chart
                .draw_series(LineSeries::new(ecdf_steps(&series.values), color.stroke_width(2)))?
                .label(series.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    root.present()?;
    Ok(true)
}

/// The staircase of an empirical CDF: for sorted x, (x, i/n) then (x, (i+1)/n).
fn ecdf_steps(values: &[f64]) -> Vec<(f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let mut points = Vec::with_capacity(sorted.len() * 2);
    for (i, v) in sorted.iter().enumerate() {
        points.push((*v, i as f64 / n));
        points.push((*v, (i + 1) as f64 / n));
    }
    points
}

fn short_number(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

/// Bars grouped by case (x), one bar per series in each group. `y_max` caps
/// the axis (1.0 for fractions, shown as percentages when `percent`).
pub fn grouped_bars(
    path: &Path,
    title: &str,
    groups: &[String],
    series: &[Series],
    y_desc: &str,
    y_max: f64,
    percent: bool,
) -> anyhow::Result<bool> {
    if !font_ready() || groups.is_empty() || series.is_empty() {
        return Ok(false);
    }
    let root = BitMapBackend::new(path, (220 * groups.len().max(3) as u32 + 120, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(60)
        // Headroom above y_max for the legend, so it covers no bar.
        .build_cartesian_2d(0f64..groups.len() as f64, 0f64..y_max * 1.4)?;
    let group_names = groups.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len() * 2 + 1)
        .x_label_formatter(&|x| {
            // Labels sit at the middle of each group (x = i + 0.5).
            let i = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 { group_names.get(i).cloned().unwrap_or_default() } else { String::new() }
        })
        .y_desc(y_desc)
        .y_label_formatter(&|v| {
            if *v > y_max * 1.001 {
                String::new()
            } else if percent {
                format!("{:.0}%", v * 100.0)
            } else {
                short_number(*v)
            }
        })
        .label_style(("sans-serif", 14))
        .draw()?;
    let slot = 0.8 / series.len() as f64;
    for (s, one) in series.iter().enumerate() {
        let color = color_of(&one.label, s);
        let bars = one.values.iter().enumerate().map(|(g, v)| {
            let x0 = g as f64 + 0.1 + slot * s as f64;
            Rectangle::new([(x0, 0.0), (x0 + slot * 0.92, v.min(y_max))], color.filled())
        });
        chart
            .draw_series(bars)?
            .label(one.label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(true)
}
