#!/usr/bin/env python3
"""Speed of the Python package on a real-sized build, against the numpy reader of
docs/FORMAT.md reading the same examples (interleaved rounds, best of each):

- `build.step(s)`: one optimizer step's 256 examples, padded, as numpy arrays (random
  steps, so blocks are decoded anew), and the same with `as_torch=True` where torch is
  installed;
- examples/s of `earlyberts.torch.TrainingOrder` over consecutive steps (torch tensors;
  skipped without torch), of `build.step` over the same steps (numpy), of
  `build.examples(start, stop)` a step's worth at a time (unpadded examples), and of the
  FORMAT.md reader (`read_shard`: unpadded examples, decoding whole shards from the start);
  each batch is dropped once made, as a training loop drops it.

    python3 scripts/bench_python.py [--mb 40] [--steps 200] [--rounds 3]

Needs `earlyberts` installed in this interpreter (`make python`), numpy and zstandard. The
corpus is generated as `scripts/bench_build.py` generates it and built once with the keyed
recipe into --work.
"""

import argparse
import os
import random
import re
import subprocess
import sys
import time

import earlyberts

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_build  # noqa: E402


def format_md_reader():
    """The numpy reader printed in docs/FORMAT.md, as a module."""
    doc = open(os.path.join(ROOT, "docs", "FORMAT.md"), encoding="utf-8").read()
    code = re.search(r"<!-- python-reader -->.*?```python\n(.*?)\n```", doc, re.S).group(1)
    namespace = {"__name__": "format_md"}
    exec(compile(code, "docs/FORMAT.md", "exec"), namespace)
    return namespace["read_shard"]


def make_build(work, mb, pipeline):
    out = os.path.join(work, f"build-{mb:g}mb")
    if not os.path.exists(os.path.join(out, "manifest.json")):
        wiki, books = bench_build.generate(os.path.join(work, f"corpus-{mb:g}mb"), mb, pipeline)
        subprocess.run([pipeline, "--quiet", "build", "--recipe",
                        os.path.join(ROOT, "manifests/recipes/earlyberts-keyed.toml"), "--seed", "1",
                        "--out", out, "--wiki", wiki, "--books", books], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def consume(items):
    """Iterates without keeping anything, as a training loop does."""
    return sum(1 for _ in items)


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=40, help="corpus size in MB of text")
    parser.add_argument("--steps", type=int, default=200, help="consecutive steps to stream")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "target/release/pipeline"))
    parser.add_argument("--work", default=os.path.join(ROOT, "target/bench/python"))
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
        from earlyberts.torch import TrainingOrder
    except ImportError:
        TrainingOrder = None
    read_shard = format_md_reader()
    path = make_build(args.work, args.mb, args.pipeline)
    build = earlyberts.Build(path)
    batch = build.batch_size
    steps = len(build) // batch
    count = args.steps * batch
    shards = [os.path.join(path, s["file"]) for s in build.manifest["shards"]]
    print(f"{path}: {len(build):,} examples in {len(shards)} shards, {steps:,} steps of {batch}; "
          f"Python {sys.version.split()[0]}, torch {'yes' if TrainingOrder else 'not installed'}")
    rng = random.Random(1)
    best = {}

    def note(name, seconds):
        best[name] = min(best.get(name, float("inf")), seconds)

    def read_with_format_md():
        n = 0
        for shard in shards:
            for _ in read_shard(shard):
                n += 1
                if n == count:
                    return n
        return n

    for _ in range(args.rounds):
        picks = [rng.randrange(1, steps + 1) for _ in range(20)]
        note("step (numpy)", timed(lambda: [build.step(s) for s in picks])[0] / len(picks))
        if TrainingOrder:
            seconds = timed(lambda: [build.step(s, as_torch=True) for s in picks])[0]
            note("step (torch)", seconds / len(picks))
            order = TrainingOrder(build, start_step=1, stop_step=args.steps + 1)
            note("TrainingOrder", timed(lambda: consume(order))[0])
        note("build.step loop", timed(lambda: consume(build.step(s) for s in range(1, args.steps + 1)))[0])
        chunks = (build.examples(k, k + batch) for k in range(0, count, batch))
        note("build.examples", timed(lambda: consume(chunks))[0])
        seconds, n = timed(read_with_format_md)
        assert n == count, f"the build has fewer than {count} examples"
        note("FORMAT.md reader", seconds)
    for name in ("step (numpy)", "step (torch)"):
        if name in best:
            print(f"build.step(s), {batch} examples, {name[6:-1]}: {best[name] * 1e3:.2f} ms")
    for name in ("TrainingOrder", "build.step loop", "build.examples", "FORMAT.md reader"):
        if name in best:
            print(f"{name:<18} {count / best[name]:>12,.0f} examples/s  ({count:,} examples, "
                  f"{best[name]:.3f} s, best of {args.rounds})")


if __name__ == "__main__":
    main()
