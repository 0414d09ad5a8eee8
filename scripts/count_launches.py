#!/usr/bin/env python3
"""What one training step costs the host on a cubecl backend: kernel launches and waits.

cubecl (under burn's CUDA and wgpu backends) logs every kernel it launches when its
profiling logger is at level "minimal", set in a `cubecl.toml` in the working directory
or above. This writes one in a scratch directory, with the caches of the repository's
(`target/cubecl`, so kernels are not tuned again), and runs `trainer bench` there with 1
and with 2 micro-batches per step (`--micro-batches`). The log is written by a thread of
its own, which the process does not wait for at exit, so its tail is lost; but once
settled, every step launches the same kernels in the same order, so the log is periodic
from then on, and its period is the number of launches per step (the smallest period
that holds over more than one whole step of the log's second half; the script refuses to
answer when too little of the log survived). With m micro-batches a step launches
`per_micro_batch · m + fixed` kernels (forward and backward per micro-batch; the
statistics read and AdamW once), which the two sizes solve for, so the count at any
batch and micro-batch size follows. Steps run with `--no-phases`, as `trainer run` runs
them (a sync between phases would cut fusion's batches short). The bench's own report
gives the host reads and syncs per step.

    python3 scripts/count_launches.py --trainer target/release/trainer --device wgpu

The trainer must be built with the backend (`--features wgpu` or `cuda`).
"""
import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


TIMED_STEPS = 4


def period(kernels, least=8):
    """The number of launches per step: the smallest p (≥ least) such that the second half
    of the log repeats with period p over more than p launches. (The first steps differ:
    autotune tries candidate kernels and fusion explores, the first time each shape and
    sequence of operations is seen.)"""
    start = len(kernels) // 2
    for p in range(least, (len(kernels) - start) // 2 + 1):
        if all(kernels[i] == kernels[i + p] for i in range(start, len(kernels) - p)):
            return p
    sys.exit(f"count_launches: no period in the second half of {len(kernels)} logged "
             "launches; too much of the log was lost at exit, or the steps have not settled "
             "(try more --warmup)")


def run_bench(args, scratch: Path, micro_batches: int):
    """Runs `trainer bench` in `scratch`; returns its report and the kernels it launched."""
    log = scratch / f"launches-{micro_batches}.log"
    (scratch / "cubecl.toml").write_text(
        "[profiling.logger]\n"
        'level = "minimal"\n'
        f"file = {json.dumps(str(log))}\n"
        "append = false\n"
        "[compilation]\n"
        f"cache = {{ file = {json.dumps(str(ROOT / 'target' / 'cubecl'))} }}\n"
        "[autotune]\n"
        f"cache = {{ file = {json.dumps(str(ROOT / 'target' / 'cubecl'))} }}\n")
    command = [str(Path(args.trainer).resolve()), "bench", "--device", args.device,
               "--config", args.config, "--seq", str(args.seq),
               "--batch-size", str(args.micro_batch * micro_batches),
               "--micro-batch", str(args.micro_batch), "--pad-multiple", "1",
               "--warmup", str(args.warmup), "--steps", str(TIMED_STEPS), "--no-phases"]
    done = subprocess.run(command, cwd=scratch, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"count_launches: {' '.join(command)} failed:\n{done.stderr.strip()}")
    if not log.exists():
        sys.exit(f"count_launches: cubecl wrote no log at {log}: is the trainer built with "
                 f"the {args.device} backend?")
    kernels = [line.split("Executing ", 1)[1].strip()
               for line in log.read_text().splitlines() if "Executing " in line]
    return json.loads(done.stdout), kernels


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainer", default=str(ROOT / "target/release/trainer"))
    parser.add_argument("--device", default="wgpu")
    parser.add_argument("--config", default="base")
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument("--micro-batch", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--micro-batches", default="1,2",
                        help="micro-batches per step to count at: two sizes split a step's "
                             "launches into per-micro-batch and fixed (default 1,2)")
    parser.add_argument("--out", help="also write the counts here (JSON)")
    args = parser.parse_args()
    sizes = sorted({int(m) for m in args.micro_batches.split(",")})

    with tempfile.TemporaryDirectory(prefix="earlyberts-launches-") as scratch:
        scratch = Path(scratch)
        runs = {m: run_bench(args, scratch, m) for m in sizes}
    per_step = {m: period(runs[m][1]) for m in sizes}
    split = {}
    if len(sizes) >= 2:
        (a, b) = sizes[:2]
        per_micro_batch = (per_step[b] - per_step[a]) / (b - a)
        fixed = per_step[a] - per_micro_batch * a
        split = dict(launches_per_micro_batch=per_micro_batch, launches_fixed_per_step=fixed,
                     launches_at_256_by_8=per_micro_batch * 32 + fixed)
    # The kernels of one step at the largest size, by kind.
    largest = sizes[-1]
    kernels = runs[largest][1]
    start = len(kernels) // 2
    step_kernels = collections.Counter(
        " | ".join(k.split(" | ")[:2]) for k in kernels[start:start + per_step[largest]])
    report = runs[largest][0]
    counts = dict(
        config=args.config, device=args.device, seq=args.seq, micro_batch=args.micro_batch,
        launches_per_step={f"{m} micro-batches": per_step[m] for m in sizes},
        launches_logged={f"{m} micro-batches": len(runs[m][1]) for m in sizes},
        **split,
        host_reads_per_step=report["host_reads_per_step"],
        syncs_per_step=report["syncs_per_step"],
        step_s=report["step_s"],
        kernel_kinds=len(step_kernels),
        most_launched=step_kernels.most_common(12),
    )
    print(json.dumps(counts))  # one line: scripts/gpu-bench.sh records it as a measurement
    if args.out:
        Path(args.out).write_text(json.dumps(counts, indent=1) + "\n")


if __name__ == "__main__":
    main()
