//! The Analytics page's charts, drawn on the server as inline SVG: no JavaScript, and no
//! colour written in the markup. Shapes carry classes that app.css colours from the theme's
//! variables and text is `currentColor`, so a chart reads in light and dark alike. Each chart
//! is an image with a title for assistive technology; the table beside it holds the numbers.

use std::fmt::Write;

/// One series of a bar chart: its CSS class (the colour) and its name (the legend).
pub struct Series {
    pub class: &'static str,
    pub name: &'static str,
}

/// One bar: its label and a value per series (stacked) or per group (grouped).
pub struct Bar {
    pub label: String,
    pub values: Vec<f64>,
}

const WIDTH: f64 = 640.0;
const LEFT: f64 = 8.0;
const BAR_WIDTH: f64 = WIDTH - 2.0 * LEFT - 64.0;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// Long labels are cut so they stay on the chart; the table holds them whole.
fn clipped(label: &str) -> String {
    const MAX: usize = 70;
    if label.chars().count() > MAX {
        let cut: String = label.chars().take(MAX - 1).collect();
        format!("{cut}…")
    } else {
        label.to_string()
    }
}

fn open(id: &str, title: &str, height: f64) -> String {
    let title = escape(title);
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{title}\" aria-labelledby=\"{id}-title\" \
         viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" \
         xmlns=\"http://www.w3.org/2000/svg\"><title id=\"{id}-title\">{title}</title>"
    )
}

fn legend(out: &mut String, series: &[Series], y: f64) {
    let mut x = LEFT;
    for s in series {
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" rx=\"2\"/>\
             <text x=\"{}\" y=\"{}\" class=\"chart-text\">{}</text>",
            s.class,
            y - 10.0,
            x + 16.0,
            y,
            escape(s.name)
        );
        x += 24.0 + 8.0 * s.name.chars().count() as f64;
    }
}

fn empty(out: &mut String) {
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"40\" class=\"chart-text\">No sessions in this range.</text>"
    );
}

/// Where a bar chart's first row starts, below its legend.
const ROWS_TOP: f64 = 34.0;

/// A bar chart up to its rows: the title, the legend, and room for a row of `row` height per
/// bar (one row, saying so, when there are none).
fn bars_open(id: &str, title: &str, series: &[Series], bars: &[Bar], row: f64) -> String {
    let height = ROWS_TOP + row * bars.len().max(1) as f64;
    let mut out = open(id, title, height);
    legend(&mut out, series, 16.0);
    if bars.is_empty() {
        empty(&mut out);
    }
    out
}

/// The top of row `i`, and its label written there.
fn bar_row(out: &mut String, row: f64, i: usize, bar: &Bar) -> f64 {
    let y = ROWS_TOP + row * i as f64;
    let _ = write!(
        out,
        "<text x=\"{LEFT}\" y=\"{}\" class=\"chart-text\">{}</text>",
        y + 12.0,
        escape(&clipped(&bar.label))
    );
    y
}

/// Horizontal bars, one per row, each split into its series; scaled to the largest total.
pub fn stacked(id: &str, title: &str, series: &[Series], bars: &[Bar]) -> String {
    let row = 42.0;
    let mut out = bars_open(id, title, series, bars, row);
    let max = bars
        .iter()
        .map(|b| b.values.iter().sum::<f64>())
        .fold(0.0, f64::max);
    for (i, bar) in bars.iter().enumerate() {
        let y = bar_row(&mut out, row, i, bar);
        let mut x = LEFT;
        for (value, s) in bar.values.iter().zip(series) {
            if *value <= 0.0 || max <= 0.0 {
                continue;
            }
            let w = BAR_WIDTH * value / max;
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{}\" width=\"{w:.1}\" height=\"16\"><title>{}: {}</title></rect>",
                s.class,
                y + 18.0,
                escape(s.name),
                value
            );
            x += w;
        }
        let total: f64 = bar.values.iter().sum();
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" class=\"chart-text\">{total}</text>",
            x + 6.0,
            y + 31.0
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars side by side per row, one per series, each with its value written as
/// `format` says; scaled to the largest value.
pub fn grouped(
    id: &str,
    title: &str,
    series: &[Series],
    bars: &[Bar],
    format: fn(f64) -> String,
) -> String {
    let bar_h = 12.0;
    let row = 22.0 + bar_h * series.len() as f64 + 8.0;
    let mut out = bars_open(id, title, series, bars, row);
    let max = bars
        .iter()
        .flat_map(|b| b.values.iter().copied())
        .fold(0.0, f64::max);
    for (i, bar) in bars.iter().enumerate() {
        let y = bar_row(&mut out, row, i, bar);
        for (k, (value, s)) in bar.values.iter().zip(series).enumerate() {
            let by = y + 18.0 + bar_h * k as f64;
            let w = if max > 0.0 {
                BAR_WIDTH * value / max
            } else {
                0.0
            };
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{LEFT}\" y=\"{by}\" width=\"{w:.1}\" height=\"{}\"><title>{}: {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{}\" class=\"chart-text chart-small\">{}</text>",
                s.class,
                bar_h - 2.0,
                escape(s.name),
                escape(&format(*value)),
                LEFT + w + 6.0,
                by + 9.0,
                escape(&format(*value))
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One band of the reliability diagram.
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub suggestions: i64,
    pub fix_rate: Option<f64>,
}

/// The reliability diagram: per confidence band a bar as high as the share of suggestions
/// that were the fix, against the diagonal a calibrated engine would follow.
pub fn reliability(id: &str, title: &str, bands: &[Band]) -> String {
    let (left, top, plot_w, plot_h) = (48.0, 28.0, WIDTH - 48.0 - 16.0, 220.0);
    let height = top + plot_h + 44.0;
    let mut out = open(id, title, height);
    legend(
        &mut out,
        &[
            Series {
                class: "chart-fix",
                name: "Share that were the fix",
            },
            Series {
                class: "chart-ideal-key",
                name: "Calibrated",
            },
        ],
        16.0,
    );
    let x_of = |p: f64| left + plot_w * p;
    let y_of = |p: f64| top + plot_h * (1.0 - p);
    for tick in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            out,
            "<line class=\"chart-grid\" x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{}\" y=\"{:.1}\" class=\"chart-text chart-small\" text-anchor=\"end\">{}%</text>",
            left + plot_w,
            left - 6.0,
            y_of(tick) + 4.0,
            (tick * 100.0).round(),
            y = y_of(tick)
        );
    }
    for b in bands {
        let x = x_of(b.from) + 3.0;
        let w = plot_w * (b.to - b.from) - 6.0;
        if let Some(rate) = b.fix_rate {
            let h = (plot_h * rate).max(1.0);
            let _ = write!(
                out,
                "<rect class=\"chart-fix\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\">\
                 <title>{:.0}–{:.0}%: {} of {} suggestions were the fix</title></rect>",
                y_of(rate),
                b.from * 100.0,
                b.to * 100.0,
                (rate * b.suggestions as f64).round(),
                b.suggestions
            );
        }
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"chart-text chart-small\" text-anchor=\"middle\">n={}</text>",
            x + w / 2.0,
            top - 4.0 + plot_h + 16.0,
            b.suggestions
        );
    }
    let _ = write!(
        out,
        "<line class=\"chart-ideal\" x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{top}\"/>\
         <line class=\"chart-axis\" x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        top + plot_h,
        left + plot_w,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    for tick in [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"chart-text chart-small\" text-anchor=\"middle\">{}</text>",
            x_of(tick),
            top + plot_h + 32.0,
            tick
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"chart-text chart-small\" text-anchor=\"end\">confidence</text>",
        left + plot_w,
        top + plot_h + 44.0 - 2.0
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_the_chart_is_an_image_with_a_title() {
        let svg = stacked(
            "c",
            "Outcomes by flow",
            &[Series {
                class: "chart-resolved",
                name: "Resolved",
            }],
            &[Bar {
                label: "<script>alert(1)</script>".into(),
                values: vec![2.0],
            }],
        );
        assert!(
            svg.starts_with("<svg class=\"chart\" role=\"img\" aria-label=\"Outcomes by flow\"")
        );
        assert!(svg.contains("<title id=\"c-title\">Outcomes by flow</title>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
    }
}
