//! `trainer plot RUN_DIR`: the loss, learning-rate and throughput curves of a run, read from
//! its step log (`RUN_DIR/log.jsonl`), as one SVG.

use std::{fs, ops::Range, path::Path};

use plotters::prelude::*;

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
                "{:>8}  {:>10.3e}  {:>8.4}  {:>8.4}  {:>8.4}\n",
                l.step, l.lr, l.loss, l.mlm_loss, l.nsp_loss
            );
        }
    }
    out
}

/// One panel: named series of (step, value) over a shared step axis.
struct Panel<'a> {
    title: &'a str,
    series: Vec<(&'a str, Vec<(f64, f64)>)>,
}

/// Renders `logs` to an SVG file at `out`.
pub fn plot(logs: &[StepLog], out: &Path) -> Result<()> {
    if logs.is_empty() {
        return Err(Error::EmptyLog);
    }
    let series = |f: fn(&StepLog) -> f64| -> Vec<(f64, f64)> {
        logs.iter().map(|l| (l.step as f64, f(l))).collect()
    };
    let panels = [
        Panel {
            title: "loss",
            series: vec![
                ("total", series(|l| l.loss)),
                ("MLM", series(|l| l.mlm_loss)),
                ("NSP", series(|l| l.nsp_loss)),
            ],
        },
        Panel {
            title: "learning rate",
            series: vec![("lr", series(|l| l.lr))],
        },
        Panel {
            title: "throughput (tokens/s)",
            series: vec![("tokens/s", series(|l| l.tokens_per_s))],
        },
    ];
    let steps = logs[0].step as f64..logs[logs.len() - 1].step.max(logs[0].step + 1) as f64;
    let mut svg = String::new();
    {
        let failed = |e: &dyn std::fmt::Display| Error::Plot {
            path: out.to_path_buf(),
            reason: e.to_string(),
        };
        let root = SVGBackend::with_string(&mut svg, (900, 960)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        for (area, panel) in root.split_evenly((3, 1)).iter().zip(&panels) {
            draw_panel(area, panel, steps.clone()).map_err(|e| failed(&e))?;
        }
        root.present().map_err(|e| failed(&e))?;
    }
    earlyberts_format::write_atomic(out, svg.as_bytes())?;
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    steps: Range<f64>,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let values = panel.series.iter().flat_map(|(_, s)| s.iter().map(|p| p.1));
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 1e-6).max(1e-12);
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(80)
        .build_cartesian_2d(steps, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_label_formatter(&|v| format!("{v:.3e}"))
        .draw()?;
    let colours = [BLUE, RED, GREEN];
    for ((name, points), colour) in panel.series.iter().zip(colours) {
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
    }
    if panel.series.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    Ok(())
}
