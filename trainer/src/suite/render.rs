//! An audit for people (`text`: one row per revision, then the findings and the verdict)
//! and for programs (`json`: the report's own structs).

use super::{Finding, SuiteReport};

/// One row per revision, the findings, the verdict.
pub fn text(report: &SuiteReport) -> String {
    let o = &report.optimizer;
    let mut out = format!(
        "{} revisions; initial weights: {}; update bound from the schedule of {} (peak {:e}, warm-up {}), AdamW betas ({}, {}), weight decay {}\n\n",
        report.revisions.len(),
        report
            .init
            .as_ref()
            .map_or("none (no distance from them)".into(), |p| format!(
                "'{}'",
                p.display()
            )),
        o.source,
        o.schedule.peak,
        o.schedule.warmup,
        o.beta_1 as f32,
        o.beta_2 as f32,
        o.weight_decay as f32
    );
    out += "    step  sha256        tensors       from init (rel.)  from previous  largest change  allowed\n";
    let number = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.3e}"));
    for r in &report.revisions {
        out += &format!(
            "{:>8}  {:<12}  {:<12}  {:>16}  {:>13}  {:>14}  {:>9}\n",
            r.step,
            &r.sha256[..12],
            &r.tensors[..12],
            number(r.from_init.map(|d| d.relative)),
            number(r.from_previous.map(|d| d.l2)),
            number(r.from_previous.map(|d| d.largest)),
            number(r.allowed),
        );
    }
    out += "\n";
    for finding in &report.findings {
        out += &format!("finding: {}\n", describe(finding));
    }
    out += &match report.findings.len() {
        0 => "verdict: no findings: the revisions differ, move away from the initial weights as the step grows and by no more than the learning rates allow\n".to_string(),
        n => format!("verdict: {n} finding{}\n", if n == 1 { "" } else { "s" }),
    };
    out
}

/// The report as one JSON object.
pub fn json(report: &SuiteReport) -> String {
    serde_json::to_string_pretty(report).expect("the report serialises") + "\n"
}

/// A finding in one sentence.
pub fn describe(finding: &Finding) -> String {
    let name = |step: u64| match step {
        0 => "the initial weights".to_string(),
        s => format!("step{s}"),
    };
    match *finding {
        Finding::Identical {
            step,
            same_as,
            bitwise,
        } => format!(
            "step{step} holds the same weights as {}{}",
            name(same_as),
            match bitwise {
                true => " (the same file, bit for bit)",
                false => " (the same tensors in another file)",
            }
        ),
        Finding::NotGrowing { step, earlier } => format!(
            "step{step} is no farther from the initial weights than step{earlier}: a label out of order, or another revision's weights"
        ),
        Finding::TooLargeUpdate {
            step,
            previous,
            largest,
            allowed,
        } => format!(
            "step{step} moved a weight by {largest:.3e} since {}, more than the {allowed:.3e} AdamW allows at the learning rates of steps {}–{step}: it holds weights of a later step",
            name(previous),
            previous + 1
        ),
    }
}
