//! `trainer plot RUN_DIR…`: the curves of one or more runs, read from their step logs
//! (`RUN_DIR/log.jsonl`), as one SVG or PNG.
//!
//! The step axis is logarithmic by default: the EarlyBERTs checkpoints are dense early (10,
//! 100 … 1,000, 2,000 …), and on a linear axis the first thousand of 40,000 steps would take
//! 2.5% of the width. Each run has one colour in every panel; the steps with a checkpoint
//! are marked by thin vertical lines. Text is drawn with a bundled font (DejaVu Sans), so a
//! PNG renders the same on a machine without fonts.

use std::{fs, path::Path, sync::Once};

use plotters::{
    coord::{Shift, types::RangedCoordf64},
    element::DashedPathElement,
    prelude::*,
};

use crate::{Error, Result, train::StepLog};

/// The step log a run writes, one JSON line per step.
pub const LOG_FILE: &str = "log.jsonl";

/// Reads a run's step log; a line that does not parse is an error naming it.
pub fn read_log(path: &Path) -> Result<Vec<StepLog>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| Error::LogLine {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// About `rows` evenly spaced steps of the log (the last always included) as a text table
/// of step, learning rate and losses.
pub fn loss_table(logs: &[StepLog], rows: usize) -> String {
    let mut out = format!(
        "{:>8}  {:>10}  {:>8}  {:>8}  {:>8}\n",
        "step", "lr", "loss", "MLM", "NSP"
    );
    let every = logs.len().div_ceil(rows.max(1)).max(1);
    for (i, l) in logs.iter().enumerate() {
        if i % every == every - 1 || i + 1 == logs.len() {
            out += &format!(
                "{:>8}  {:>10}  {:>8.4}  {:>8.4}  {:>8.4}\n",
                l.step,
                tick_label(l.lr),
                l.loss,
                l.mlm_loss,
                l.nsp_loss
            );
        }
    }
    out
}

/// One run to draw: its name in the legend, its step log, its checkpoint steps.
pub struct RunCurves {
    pub name: String,
    pub logs: Vec<StepLog>,
    pub checkpoints: Vec<u64>,
}

/// The picture's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

/// How to draw.
#[derive(Clone, Copy, Debug)]
pub struct PlotOptions {
    pub format: PlotFormat,
    /// A linear step axis instead of the logarithmic one.
    pub linear: bool,
}

/// What a panel shows of a step.
type Metric = fn(&StepLog) -> f64;

/// The panels, in reading order: title and the value of a step.
const PANELS: [(&str, Metric); 8] = [
    ("loss (MLM + NSP)", |l| l.loss),
    ("MLM loss", |l| l.mlm_loss),
    ("NSP loss", |l| l.nsp_loss),
    ("gradient norm", |l| l.grad_norm),
    ("MLM accuracy", |l| l.mlm_accuracy),
    ("NSP accuracy", |l| l.nsp_accuracy),
    ("learning rate", |l| l.lr),
    ("tokens/s", |l| l.tokens_per_s),
];

/// One colour per run (ColorBrewer "Dark2", distinguishable and print-safe).
const COLOURS: [RGBColor; 8] = [
    RGBColor(27, 158, 119),
    RGBColor(217, 95, 2),
    RGBColor(117, 112, 179),
    RGBColor(231, 41, 138),
    RGBColor(102, 166, 30),
    RGBColor(230, 171, 2),
    RGBColor(166, 118, 29),
    RGBColor(102, 102, 102),
];

const SIZE: (u32, u32) = (1200, 1400);

/// Renders `runs` to `out` (written atomically).
pub fn plot(runs: &[RunCurves], out: &Path, options: PlotOptions) -> Result<()> {
    if runs.iter().all(|r| r.logs.is_empty()) {
        return Err(Error::EmptyLog);
    }
    register_font();
    let failed = |e: &dyn std::fmt::Display| Error::Plot {
        path: out.to_path_buf(),
        reason: e.to_string(),
    };
    let bytes = match options.format {
        PlotFormat::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                draw(&root, runs, options.linear).map_err(|e| failed(&e))?;
            }
            svg.into_bytes()
        }
        PlotFormat::Png => {
            let mut rgb = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                draw(&root, runs, options.linear).map_err(|e| failed(&e))?;
            }
            encode_png(&rgb, SIZE).map_err(|e| failed(&e))?
        }
    };
    earlyberts_format::write_atomic(out, &bytes)?;
    Ok(())
}

/// plotters measures and draws text with the fonts registered here.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let font: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, font)
            .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType font"));
    });
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(bytes)
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    runs: &[RunCurves],
    linear: bool,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let first = runs
        .iter()
        .flat_map(|r| r.logs.first())
        .map(|l| l.step)
        .min();
    let last = runs
        .iter()
        .flat_map(|r| r.logs.last())
        .map(|l| l.step)
        .max();
    let (first, last) = (first.unwrap_or(1).max(1), last.unwrap_or(1));
    let axis = StepAxis::new(first, last.max(first + 1), linear);
    let title = format!(
        "{} — step axis {}, checkpoints dashed",
        runs.iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if linear { "linear" } else { "logarithmic" }
    );
    let root = root.titled(&title, ("sans-serif", 22))?;
    for (i, (area, (name, value))) in root.split_evenly((4, 2)).iter().zip(PANELS).enumerate() {
        draw_panel(area, runs, &axis, name, value, i == 0)?;
    }
    root.present()
}

/// The step axis: log10 of the step (or the step) as the drawn coordinate, with labels at
/// 1, 2, 5 × 10^k (or evenly spaced) written as steps (`10`, `2k`, `40k`).
struct StepAxis {
    linear: bool,
    range: std::ops::Range<f64>,
}

impl StepAxis {
    fn new(first: u64, last: u64, linear: bool) -> StepAxis {
        let (a, b) = (first as f64, last as f64);
        let range = if linear { a..b } else { a.log10()..b.log10() };
        StepAxis { linear, range }
    }

    fn x(&self, step: f64) -> f64 {
        if self.linear {
            step
        } else {
            step.max(1.0).log10()
        }
    }

    fn label(&self, x: f64) -> String {
        let step = if self.linear { x } else { 10f64.powf(x) };
        step_label(step)
    }

    /// Where labels go: 1, 2, 5 × 10^k inside the range on a log axis.
    fn ticks(&self) -> Vec<f64> {
        if self.linear {
            return Vec::new();
        }
        let (lo, hi) = (self.range.start, self.range.end);
        let mut ticks = Vec::new();
        for k in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in [1.0, 2.0, 5.0] {
                let x = (m * 10f64.powi(k)).log10();
                if x >= lo - 1e-9 && x <= hi + 1e-9 {
                    ticks.push(x);
                }
            }
        }
        // The last step too (e.g. 40k), unless a tick is already near it.
        if ticks.last().is_none_or(|&t| hi - t > 0.12) {
            ticks.push(hi);
        }
        ticks
    }
}

/// A step count as people write it: 10, 500, 2k, 40k, 1.5M.
pub fn step_label(step: f64) -> String {
    let s = step.round();
    if s >= 1e6 {
        trim(format!("{:.1}", s / 1e6)) + "M"
    } else if s >= 1e3 {
        trim(format!("{:.1}", s / 1e3)) + "k"
    } else {
        format!("{s:.0}")
    }
}

/// A value on a vertical axis, short: 11, 7.5, 0.62, 1e-4, 2.5e-4, 1.2k.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 10.0 {
        trim(format!("{v:.1}"))
    } else if a >= 0.01 {
        trim(format!("{v:.3}"))
    } else {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    runs: &[RunCurves],
    axis: &StepAxis,
    title: &str,
    value: Metric,
    legend: bool,
) -> DrawResult<DB> {
    let values = runs.iter().flat_map(|r| r.logs.iter().map(value));
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.06).max(hi.abs() * 1e-3).max(1e-12);
    let (lo, hi) = (lo - pad, hi + pad);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(8)
        .margin_right(22)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d::<RangedCoordf64, RangedCoordf64>(
            axis.range.clone().into(),
            (lo..hi).into(),
        )?;
    let ticks = axis.ticks();
    let x_label = |x: &f64| axis.label(*x);
    let y_label = |v: &f64| tick_label(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc("step")
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0));
    if !ticks.is_empty() {
        // Labels only at 1, 2, 5 × 10^k: no mesh labels, the ticks are drawn below.
        mesh.x_labels(0);
    }
    mesh.draw()?;
    draw_log_ticks(&mut chart, &ticks, axis, lo, hi)?;
    for (run, colour) in runs.iter().zip(COLOURS.iter().cycle()) {
        // Checkpoints: dashed lines in the run's colour.
        let checkpoints = run.checkpoints.iter().map(|&s| {
            let x = axis.x(s as f64);
            DashedPathElement::new(vec![(x, lo), (x, hi)], 5, 4, colour.mix(0.7))
        });
        chart.draw_series(checkpoints)?;
        let points = run.logs.iter().map(|l| (axis.x(l.step as f64), value(l)));
        let series = chart.draw_series(LineSeries::new(
            points.filter(|p| p.1.is_finite()),
            colour.stroke_width(2),
        ))?;
        if legend {
            let colour = *colour;
            series.label(run.name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}

/// Grid lines and labels of a log step axis at 1, 2, 5 × 10^k.
fn draw_log_ticks<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    ticks: &[f64],
    axis: &StepAxis,
    lo: f64,
    hi: f64,
) -> DrawResult<DB> {
    let grid = ticks
        .iter()
        .map(|&x| PathElement::new(vec![(x, lo), (x, hi)], BLACK.mix(0.08)));
    chart.draw_series(grid)?;
    let labels = ticks.iter().map(|&x| {
        Text::new(
            axis.label(x),
            (x, lo),
            ("sans-serif", 13).into_font().color(&BLACK).pos(
                plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Top,
                ),
            ),
        )
    });
    chart.draw_series(labels)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_readable() {
        let steps = [1.0, 10.0, 200.0, 1000.0, 2000.0, 40000.0, 1.5e6];
        assert_eq!(
            steps.map(step_label),
            ["1", "10", "200", "1k", "2k", "40k", "1.5M"]
        );
        let values = [11.0, 7.5, 0.625, 1e-3, 2.5e-4, 12345.0, 0.0, 123.456];
        assert_eq!(
            values.map(tick_label),
            [
                "11", "7.5", "0.625", "1e-3", "2.5e-4", "12.3k", "0", "123.5"
            ]
        );
    }

    #[test]
    fn log_ticks_are_one_two_five_times_powers_of_ten() {
        let axis = StepAxis::new(1, 40_000, false);
        let labels: Vec<String> = axis.ticks().iter().map(|&x| axis.label(x)).collect();
        assert_eq!(
            labels,
            [
                "1", "2", "5", "10", "20", "50", "100", "200", "500", "1k", "2k", "5k", "10k",
                "20k", "40k"
            ]
        );
    }
}
