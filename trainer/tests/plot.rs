//! `trainer plot` on a synthetic 40,000-step log of two runs: the early steps take a legible
//! share of the log axis (checked in the PNG's pixels), both runs are drawn in their own
//! colours, tick labels are short, checkpoints are marked; and the demo-sized run.

use std::{fs, path::Path, process::Command};

use earlyberts_format::training::checkpoint_steps;
use earlyberts_trainer::train::StepLog;

/// The first two run colours of the chart (`plot::COLOURS`).
const GREEN: [u8; 3] = [27, 158, 119];
const ORANGE: [u8; 3] = [217, 95, 2];

/// A run of `steps` steps whose loss is a staircase: 11 before step 100, 9 until step
/// 1,000, then 7 (`offset` moves it), with the EarlyBERTs checkpoint directories.
fn synthetic_run(dir: &Path, steps: u64, offset: f64) {
    fs::create_dir_all(dir).unwrap();
    let mut log = String::new();
    for step in 1..=steps {
        let loss = offset
            + match step {
                s if s < 100 => 11.0,
                s if s < 1000 => 9.0,
                _ => 7.0,
            };
        let entry = StepLog {
            step,
            lr: 1e-4 * (step as f64 / 10_000.0).min(1.0),
            loss,
            mlm_loss: loss - 0.7,
            nsp_loss: 0.7,
            mlm_accuracy: 0.1,
            nsp_accuracy: 0.5,
            grad_norm: 2.0,
            first_example: 0,
            last_example: 255,
            tokens: 15_000,
            examples_per_s: 100.0,
            tokens_per_s: 6_000.0,
            elapsed_s: step as f64,
        };
        log += &serde_json::to_string(&entry).unwrap();
        log.push('\n');
    }
    fs::write(dir.join("log.jsonl"), log).unwrap();
    for step in checkpoint_steps().into_iter().filter(|&s| s <= steps) {
        let checkpoint = dir.join(format!("step{step}"));
        fs::create_dir_all(&checkpoint).unwrap();
        fs::write(checkpoint.join("model.safetensors"), b"").unwrap();
    }
}

fn plot(args: &[&Path], extra: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .arg("plot")
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The PNG as rows of RGB pixels.
fn pixels(path: &Path) -> (usize, usize, Vec<u8>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    (info.width as usize, info.height as usize, buf)
}

/// For the top-left panel (the total loss): the columns holding the run's colour, grouped by
/// the curve's level; returns the share of those columns at the middle level (steps
/// 100–999 of the staircase).
fn middle_level_share(path: &Path, colour: [u8; 3]) -> f64 {
    let (w, h, rgb) = pixels(path);
    let (panel_w, panel_h) = (w / 2, h / 4);
    // Per column, the lowest row of the colour (the curve; the legend sits in the top rows).
    let mut rows_by_column = Vec::new();
    for x in 0..panel_w {
        let rows: Vec<usize> = (panel_h / 5..panel_h)
            .filter(|&y| rgb[(y * w + x) * 3..][..3] == colour)
            .collect();
        if let Some(&row) = rows.iter().max() {
            rows_by_column.push(row);
        }
    }
    assert!(!rows_by_column.is_empty(), "no curve in {}", path.display());
    let (top, bottom) = (
        *rows_by_column.iter().min().unwrap(),
        *rows_by_column.iter().max().unwrap(),
    );
    let middle = (top + bottom) / 2;
    let at_middle = rows_by_column
        .iter()
        .filter(|&&r| r.abs_diff(middle) <= 3)
        .count();
    at_middle as f64 / rows_by_column.len() as f64
}

#[test]
fn a_40000_step_log_shows_its_early_steps_on_the_log_axis() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("seed0"), dir.path().join("seed1"));
    synthetic_run(&a, 40_000, 0.0);
    synthetic_run(&b, 40_000, 0.5);
    let (log_png, linear_png, svg) = (
        dir.path().join("log.png"),
        dir.path().join("linear.png"),
        dir.path().join("curves.svg"),
    );
    plot(&[&a, &b], &["--out", log_png.to_str().unwrap()]);
    plot(
        &[&a],
        &[
            "--linear",
            "--format",
            "png",
            "--out",
            linear_png.to_str().unwrap(),
        ],
    );
    plot(&[&a, &b], &["--out", svg.to_str().unwrap()]);
    // Steps 100–999 are log10(10)/log10(40000) = 22% of a log axis, 2.3% of a linear one.
    let log_share = middle_level_share(&log_png, GREEN);
    let linear_share = middle_level_share(&linear_png, GREEN);
    assert!(log_share > 0.15, "log axis: {log_share}");
    assert!(linear_share < 0.06, "linear axis: {linear_share}");
    // Both runs are drawn, each in its colour.
    assert!(middle_level_share(&log_png, ORANGE) > 0.15);
    let text = fs::read_to_string(&svg).unwrap();
    // plotters writes each text on a line of its own.
    for label in [
        "seed0",
        "seed1",
        "10",
        "100",
        "1k",
        "10k",
        "40k",
        "1e-4",
        "MLM accuracy",
    ] {
        let line = format!(">\n{label}\n</text>");
        assert!(text.contains(&line), "{label} missing from the SVG");
    }
    for unreadable in ["1.000e", "e1\n", "e0\n"] {
        assert!(!text.contains(unreadable), "{unreadable:?} in the SVG");
    }
    // 31 checkpoints × 8 panels × 2 runs, each a dashed line of several segments.
    let dashes = text.matches("<polyline").count();
    assert!(dashes > 31 * 8 * 2, "{dashes} polylines");
}

#[test]
fn the_default_picture_goes_beside_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("seed1");
    synthetic_run(&run, 40, 0.0);
    plot(&[&run], &["--format", "png"]);
    let (w, h, rgb) = pixels(&run.join("curves.png"));
    assert_eq!((w, h), (1200, 1400));
    assert!(rgb.chunks(3).any(|p| p == GREEN));
    plot(&[&run], &[]);
    assert!(
        fs::read_to_string(run.join("curves.svg"))
            .unwrap()
            .starts_with("<svg")
    );
}
