#!/usr/bin/env python3
"""The trainer's CPU training step side by side with PyTorch's, interleaved (trainer, torch,
trainer, torch, …) so that both see the same machine state: BERT-base, the same batch and
micro-batch, dropout off, AdamW, the MLM head on labelled positions on both sides
(`torch_bench.py --mlm-head labelled`), all cores on both sides.

    make bench-cpu TORCH_PYTHON=/path/to/python-with-torch
    python3 scripts/cpu_bench.py --trainer target/release/trainer --python python3 [--rounds 3]

Prints each measurement as a JSON line, then a summary: median step time, tokens/s and phase
times per side, and the speed ratio (PyTorch's step time over the trainer's: ≥ 1 means the
trainer is at least as fast).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--trainer", default=os.path.join(ROOT, "target", "release", "trainer"))
    p.add_argument("--python", default=sys.executable, help="a Python with torch and transformers")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lengths", help="sequence lengths file instead of --seq")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--baseline", help="another trainer binary (e.g. an earlier commit's), measured in the same rounds")
    a = p.parse_args()
    data = ["--lengths", a.lengths] if a.lengths else ["--seq", str(a.seq)]
    shape = ["--batch-size", str(a.batch_size), "--micro-batch", str(a.micro_batch),
             "--steps", str(a.steps), "--warmup", "1"] + data
    sides = {
        "trainer": [a.trainer, "bench", "--device", "cpu", "--config", "base"] + shape,
        "torch": [a.python, os.path.join(ROOT, "scripts", "torch_bench.py"), "--device", "cpu",
                  "--threads", str(a.threads), "--mlm-head", "labelled"] + shape,
    }
    if a.baseline:
        sides["baseline"] = [a.baseline] + sides["trainer"][1:]
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    results = {side: [] for side in sides}
    for r in range(a.rounds):
        for side, cmd in sides.items():
            out = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"cpu_bench: {side} failed: {out.stderr.strip().splitlines()[-1:]}")
            report = json.loads(out.stdout.strip().splitlines()[-1])
            report.update(side=side, round=r + 1)
            results[side].append(report)
            print(json.dumps(report), flush=True)
    summary = {}
    for side, reports in results.items():
        # An older trainer reports only the median step and no phases.
        steps = [t for rep in reports for t in rep.get("step_times_s", [rep["step_s"]])]
        summary[side] = dict(
            step_s=statistics.median(steps), step_s_range=[min(steps), max(steps)],
            tokens_per_s=statistics.median(rep["tokens_per_s"] for rep in reports),
            phases={k: statistics.median(rep["phases"][k] for rep in reports)
                    for k in reports[0].get("phases", {})})
    ratio = summary["torch"]["step_s"] / summary["trainer"]["step_s"]
    print(f"\n{a.rounds} rounds × {a.steps} steps, BERT-base, batch {a.batch_size} × "
          f"{'lengths ' + a.lengths if a.lengths else str(a.seq) + ' tokens'}, "
          f"micro-batch {a.micro_batch}, {a.threads} threads")
    for side, s in summary.items():
        ph = ", ".join(f"{k[:-2]} {v:.2f}" for k, v in s["phases"].items())
        print(f"  {side:8} {s['step_s']:.2f} s/step (range {s['step_s_range'][0]:.2f}–"
              f"{s['step_s_range'][1]:.2f}), {s['tokens_per_s']:.0f} tokens/s; phases s: {ph}")
    print(f"  speed ratio (PyTorch step / trainer step): {ratio:.2f}×")
    if a.baseline:
        base = summary["baseline"]["step_s"]
        print(f"  baseline: {base / summary['trainer']['step_s']:.2f}× slower than the trainer, "
              f"{summary['torch']['step_s'] / base:.2f}× PyTorch")


if __name__ == "__main__":
    main()
