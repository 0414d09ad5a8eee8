//! A replay report for people (`text`: the ranked table, the thresholds, the farthest
//! tensors of the closest replay and the verdict) and for programs (`json_lines`: one object
//! per replay, closest first, serialised from the report's own structs). docs/REPLAY.md
//! describes both.

use serde::Serialize;

use super::{Replay, ReplayReport, Thresholds};

/// The ranked table, the thresholds, the worst tensors of the closest replay and the
/// verdict.
pub fn text(report: &ReplayReport) -> String {
    let weights: u64 = report
        .replays
        .first()
        .map_or(0, |r| r.comparison.overall.coordinates);
    let mut out = format!(
        "replayed {} steps of {} examples; compared {} tensors ({weights} weights) with the target\n",
        report.steps,
        report.batch_size,
        report.compared.len()
    );
    if !report.left_out.is_empty() {
        out += &format!(
            "left out ({} tensors the target does not have): {}\n",
            report.left_out.len(),
            report.left_out.join(", ")
        );
    }
    out += "\nrank  verdict   rel. error  1 - cosine  sign agr.  micro-batch  build\n";
    let ranked = report.ranked();
    for (rank, r) in ranked.iter().enumerate() {
        let s = &r.comparison.overall;
        out += &format!(
            "{:>4}  {:<8}  {:>10.2e}  {:>10.2e}  {:>9.4}  {:>11}  {}\n",
            rank + 1,
            r.verdict.label(),
            s.relative_error,
            1.0 - s.cosine,
            s.sign_agreement,
            r.micro_batch,
            r.build.display()
        );
    }
    let t = report.thresholds;
    out += &format!(
        "\nthresholds: exact if the relative error ‖Δr − Δt‖/‖Δt‖ ≤ {:e}, match if ≤ {:e}\n",
        t.exact, t.matched
    );
    if let Some(best) = ranked.first() {
        out += &worst_tensors(best);
    }
    out + &verdict_line(report) + "\n"
}

/// One JSON object per replay, closest first: its rank, the replay (build, micro-batch
/// size, verdict, the overall statistics, the losses, every tensor's statistics) and what
/// all replays share.
pub fn json_lines(report: &ReplayReport) -> String {
    report
        .ranked()
        .into_iter()
        .enumerate()
        .map(|(rank, replay)| {
            let line = RankedReplay {
                rank: rank + 1,
                replay,
                steps: report.steps,
                batch_size: report.batch_size,
                thresholds: report.thresholds,
                left_out: &report.left_out,
            };
            serde_json::to_string(&line).expect("a replay serialises") + "\n"
        })
        .collect()
}

/// A line of [`json_lines`].
#[derive(Serialize)]
struct RankedReplay<'a> {
    rank: usize,
    #[serde(flatten)]
    replay: &'a Replay,
    steps: u64,
    batch_size: u64,
    thresholds: Thresholds,
    left_out: &'a [String],
}

/// The tensors of `replay` farthest from the target, for a look at where it differs.
fn worst_tensors(replay: &Replay) -> String {
    let mut tensors: Vec<_> = replay.comparison.per_tensor.iter().collect();
    tensors.sort_by(|a, b| b.stats.relative_error.total_cmp(&a.stats.relative_error));
    let shown: Vec<String> = tensors
        .iter()
        .take(3)
        .map(|t| format!("{} {:.2e}", t.name, t.stats.relative_error))
        .collect();
    format!("farthest tensors of rank 1: {}\n", shown.join(", "))
}

fn verdict_line(report: &ReplayReport) -> String {
    let matching = report.matching_builds();
    match matching.as_slice() {
        [] => "verdict: no candidate build made the target".into(),
        [build] => {
            let ranked = report.ranked();
            let best = ranked
                .iter()
                .find(|r| r.build == *build)
                .expect("a matching build has replays");
            let error = best.comparison.overall.relative_error;
            let margin = match ranked.iter().find(|r| r.build != *build) {
                Some(next) => {
                    let next_error = next.comparison.overall.relative_error;
                    format!(
                        "; the closest other build, {}, is {next_error:.2e} away (×{:.0})",
                        next.build.display(),
                        next_error / error
                    )
                }
                None => String::new(),
            };
            format!(
                "verdict: {} made the target ({} at micro-batch {}, relative error {error:.2e}){margin}",
                build.display(),
                best.verdict.label(),
                best.micro_batch
            )
        }
        several => format!(
            "verdict: {} builds match the target, which these steps cannot tell apart: {}",
            several.len(),
            several
                .iter()
                .map(|b| b.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
