#!/usr/bin/env python3
"""`make rehearse`: `make data` at the real size on this machine, before anything is
downloaded, with what each stage costs.

A corpus of the real sources' shape is generated (`pipeline fixture --synthetic SCALE`: 41
Wikipedia parquet files and the BookCorpus archive; for the reference recipe, Wikipedia as
the reference's `wiki-sentences.csv`, as given rows, since spaCy's core-hours are not what
is rehearsed), then the commands a user runs are run on it, each watched from outside:

  build of seed A (store, examples, provenance, audit), as `make data` runs it; a second
  seed on the shared store; `pipeline verify`; `where --text` over the whole build and with
  `--first`; `inspect --step 40000`; the Python package's `Build.step(40000)` and
  `TrainingOrder` over 1,000 steps; the trainer's data feed (`trainer bench --feed-only`).

For each it prints wall time, CPU time, parallelism, peak anonymous and peak file-mapped
memory (sampled from /proc every 50 ms) and bytes written, then totals and the disk each
output takes. Any command that fails, or a stage that does not show, fails the rehearsal.
The work directory is removed at the end (--keep keeps it; a kept corpus is used again).
With --faults, the first seed's build is then killed (SIGKILL) halfway through its examples
stage, and a new store halfway through its stage; each rerun must resume to the
uninterrupted bytes (root hash, store shard hashes).

    python3 scripts/rehearse.py --scale 1 [--recipe manifests/recipes/earlyberts.toml]
        [--limit 10240000] [--seeds 1 2] [--work DIR] [--json FILE] [--keep] [--faults]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BENCH_TEXTS = os.path.join(ROOT, "..", "shared", "data", "bench")
TICKS = os.sysconf("SC_CLK_TCK")
# The stages of `pipeline build`, each ended by the line it prints.
BUILD_STAGES = [
    ("store", re.compile(r"^store: (up to date|\d+ sentences)")),
    ("examples", re.compile(r"^examples: (up to date|\d+ in \d+ shards)")),
    ("provenance", re.compile(r"^provenance: (up to date|\d+ examples indexed)")),
    ("audit", None),
]
# Disk a rehearsal needs per byte of generated text (measured at SCALE=1: corpus, store, two
# seeds' shards and provenance, with some room).
DISK_PER_TEXT_BYTE = 2.2
REAL_TEXT_BYTES = 25.15e9
PHRASE = "Lake Varrow"


def usage(pid):
    """(cpu seconds, anonymous bytes, file-mapped bytes, bytes written) of a live process,
    or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/io") as f:
            io = dict(line.split(":", 1) for line in f)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    kb = lambda key: int(status.get(key, "0 kB").split()[0]) * 1024  # noqa: E731
    cpu = (int(fields[11]) + int(fields[12])) / TICKS
    return cpu, kb("RssAnon"), kb("RssFile") + kb("RssShmem"), int(io["write_bytes"])


def importable(python, module):
    """Whether `python` runs and imports `module`."""
    try:
        return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0
    except OSError:
        return False


class Segment:
    def __init__(self, name, start, at_start):
        self.name, self.start, self.at_start = name, start, at_start
        self.anon = self.mapped = 0
        self.end = self.at_end = None

    def row(self):
        cpu = self.at_end[0] - self.at_start[0]
        wall = self.end - self.start
        return {"stage": self.name, "wall_s": wall, "cpu_s": cpu,
                "parallelism": cpu / wall if wall > 0 else 0.0,
                "anon_mb": self.anon / 1e6, "mapped_mb": self.mapped / 1e6,
                "written_mb": (self.at_end[3] - self.at_start[3]) / 1e6}


def watch(names, argv, out=subprocess.DEVNULL, boundaries=(), echo=False, kill_at=None):
    """Runs `argv`, sampling it; returns one row per stage that ran (a stage ends at the line
    its boundary regex matches on stderr; the last at exit) and the peak RSS. `kill_at =
    (stage, seconds)`: SIGKILL that many seconds into that stage (it then ends there)."""
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, text=True)
    zero = (0.0, 0, 0, 0)
    segments = [Segment(names[0], started, zero)]
    lock, lines = threading.Lock(), []

    def read_stderr():
        for line in proc.stderr:
            lines.append(line)
            if echo:
                sys.stderr.write("    " + line)
            n = len(segments)
            if n <= len(boundaries) and boundaries[n - 1].search(line):
                now, snap = time.monotonic(), usage(proc.pid)
                with lock:
                    seg = segments[-1]
                    seg.end, seg.at_end = now, snap or seg.at_start
                    segments.append(Segment(names[n], now, seg.at_end))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    last = zero
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if kill_at and len(segments) - 1 == kill_at[0]:
            if time.monotonic() - segments[-1].start >= kill_at[1]:
                proc.kill()
        snap = usage(proc.pid)
        if snap:
            last = snap
            with lock:
                seg = segments[-1]
                seg.anon, seg.mapped = max(seg.anon, snap[1]), max(seg.mapped, snap[2])
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    seg = segments[-1]
    cpu = rusage.ru_utime + rusage.ru_stime
    seg.end, seg.at_end = time.monotonic(), (max(cpu, last[0]), 0, 0, last[3])
    if kill_at:
        if proc.returncode != -9:
            sys.exit(f"rehearse: {' '.join(argv)} ended (exit {proc.returncode}) before it was killed")
        return [s.row() for s in segments], rusage.ru_maxrss * 1024
    if proc.returncode != 0:
        tail = "".join(lines[-15:])
        sys.exit(f"rehearse: {' '.join(argv)} failed (exit {proc.returncode}):\n{tail}")
    if len(segments) != len(names):
        sys.exit(f"rehearse: {' '.join(argv)} showed {len(segments)} of its stages "
                 f"{names}; its stderr:\n{''.join(lines[-15:])}")
    return [s.row() for s in segments], rusage.ru_maxrss * 1024


class Rehearsal:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.builds = []
        self.work = os.path.abspath(args.work)
        self.sources = os.path.join(self.work, "sources")
        self.store = os.path.join(self.work, "store")
        with open(args.recipe) as f:
            self.reference = re.search(r'(?m)^kind\s*=\s*"reference"', f.read()) is not None

    def run(self, name, argv, **kw):
        names = [name] if isinstance(name, str) else name
        label = names[0].split(":")[0]
        print(f"== {label}", file=sys.stderr, flush=True)
        rows, _ = watch(names, argv, echo=self.args.verbose, **kw)
        self.rows.extend(rows)
        return rows

    def generate(self):
        done = os.path.join(self.sources, "complete")
        if os.path.exists(done):
            self.rows.append({"stage": "generate corpus", "note": f"reused: {self.sources}"})
            return
        argv = [self.args.pipeline, "fixture", "--synthetic", str(self.args.scale),
                "--out", self.sources]
        if self.reference:
            argv.append("--sentences")
        if os.path.isdir(BENCH_TEXTS):
            for name in sorted(os.listdir(BENCH_TEXTS)):
                argv += ["--text", os.path.join(BENCH_TEXTS, name)]
        self.run("generate corpus", argv)
        open(done, "w").close()

    def build(self, seed, name=None, store=None, kill_at=None):
        limit = f"-first{self.args.limit}" if self.args.limit else ""
        out = os.path.join(self.work, "builds", name or f"seed{seed}{limit}")
        argv = [self.args.pipeline, "build", "--recipe", self.args.recipe, "--seed", str(seed),
                "--out", out, "--store", store or self.store,
                "--books", os.path.join(self.sources, "bookcorpus", "bookcorpus.tar.bz2")]
        if self.reference:
            argv += ["--sentences", os.path.join(self.sources, "wikipedia", "wiki-sentences.csv")]
        else:
            argv += ["--wiki", os.path.join(self.sources, "wikipedia", "20220301.en", "*.parquet")]
        if self.args.limit:
            argv += ["--limit-examples", str(self.args.limit)]
        label = f"seed {seed}" + (f" ({name})" if name else "")
        names = [f"{label}: {stage}" for stage, _ in BUILD_STAGES]
        self.run(names, argv, boundaries=[b for _, b in BUILD_STAGES if b], kill_at=kill_at)
        return out

    def faults(self, seed, store_s, examples_s):
        """kill -9 halfway through the examples stage of seed `seed`, then halfway through a
        new store's stage, each run again to the end: the root hash and the store must be
        the uninterrupted ones'. The second seed's build is removed first to make room."""
        for build in self.builds[1:]:
            shutil.rmtree(build)
        first = self.builds[0]
        expected = json.load(open(os.path.join(first, "manifest.json")))["root_hash"]
        store_json = json.load(open(os.path.join(self.store, "store.json")))
        for name, kill_at, store in [("examples killed", (1, examples_s / 2), None),
                                     ("store killed", (0, store_s / 2), os.path.join(self.work, "store-killed"))]:
            if store:
                shutil.rmtree(first)
            out = self.build(seed, name=name.replace(" ", "-"), store=store, kill_at=kill_at)
            self.rows[-1]["note"] = "kill -9"
            self.build(seed, name=name.replace(" ", "-"), store=store)
            got = json.load(open(os.path.join(out, "manifest.json")))["root_hash"]
            same = got == expected
            if store:
                made = json.load(open(os.path.join(store, "store.json")))
                same &= made["shards"] == store_json["shards"] and made["totals"] == store_json["totals"]
            self.rows[-1]["note"] = f"resumed: {'the uninterrupted bytes' if same else 'DIFFERENT'}"
            if not same:
                sys.exit(f"rehearse: after kill -9 ({name}) the build differs: root hash {got}, "
                         f"uninterrupted {expected}")
            shutil.rmtree(out)
            if store:
                shutil.rmtree(store)

    def queries(self, build):
        p = self.args.pipeline
        self.run("verify", [p, "verify", build])
        with open(os.path.join(self.work, "where.jsonl"), "w") as out:
            self.run(f"where --text '{PHRASE}'", [p, "where", build, "--text", PHRASE,
                                                  "--format", "jsonl"], out=out)
        found = sum(1 for _ in open(os.path.join(self.work, "where.jsonl")))
        self.rows[-1]["note"] = f"{found} lines"
        self.run(f"where --text '{PHRASE}' --first",
                 [p, "where", build, "--text", PHRASE, "--first"])
        self.run("inspect --step 40000", [p, "inspect", build, "--step", "40000"])

    def python(self, build):
        py = self.args.python
        if not importable(py, "earlyberts"):
            self.rows.append({"stage": "python", "note": "skipped: earlyberts is not installed "
                              f"in {py} (make python)"})
            return
        step = ("import earlyberts, sys, time; b = earlyberts.Build(sys.argv[1]); "
                "t = time.perf_counter(); b.step(40000); "
                "print(f'{(time.perf_counter() - t) * 1e3:.1f} ms')")
        self.python_row("python Build.step(40000)", [py, "-c", step, build])
        order = ("import sys, time; import earlyberts; from earlyberts.torch import TrainingOrder; "
                 "b = earlyberts.Build(sys.argv[1]); t = time.perf_counter(); "
                 "n = sum(x['input_ids'].shape[0] for x in TrainingOrder(b, stop_step=1001)); "
                 "print(f'{n / (time.perf_counter() - t):,.0f} examples/s')")
        if importable(py, "torch"):
            self.python_row("python TrainingOrder, 1000 steps", [py, "-c", order, build])
        else:
            self.rows.append({"stage": "python TrainingOrder", "note": "skipped: no torch"})

    def python_row(self, name, argv):
        with open(os.path.join(self.work, "python.out"), "w") as out:
            self.run(name, argv, out=out)
        self.rows[-1]["note"] = open(os.path.join(self.work, "python.out")).read().strip()

    def feed(self, build):
        with open(os.path.join(self.work, "feed.json"), "w") as out:
            self.run("trainer data feed, 1000 steps",
                     [self.args.trainer, "bench", "--build", build, "--feed-only", "--steps", "1000",
                      "--device", "cpu"], out=out)
        report = json.load(open(os.path.join(self.work, "feed.json")))
        self.rows[-1]["note"] = f"{report['examples_per_s']:,.0f} examples/s"

    def disk(self):
        sizes = {}
        for path in [self.sources, self.store] + self.builds:
            name = os.path.relpath(path, self.work)
            if os.path.exists(path):
                du = subprocess.run(["du", "-sb", path], capture_output=True, text=True)
                sizes[name] = int(du.stdout.split()[0])
        return sizes


def table(rows, sizes):
    out = [f"{'stage':<36} {'wall s':>8} {'CPU s':>8} {'par.':>5} {'anon MB':>8} "
           f"{'mapped MB':>9} {'written MB':>10}  note"]
    for r in rows:
        if "wall_s" not in r:
            out.append(f"{r['stage']:<36} {'':>8} {'':>8} {'':>5} {'':>8} {'':>9} {'':>10}  "
                       f"{r['note']}")
            continue
        out.append(f"{r['stage']:<36} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} "
                   f"{r['parallelism']:>5.2f} {r['anon_mb']:>8.0f} {r['mapped_mb']:>9.0f} "
                   f"{r['written_mb']:>10.0f}  {r.get('note', '')}")
    timed = [r for r in rows if "wall_s" in r]
    wall, cpu = sum(r["wall_s"] for r in timed), sum(r["cpu_s"] for r in timed)
    out.append(f"{'total':<36} {wall:>8.1f} {cpu:>8.1f} {cpu / wall:>5.2f} "
               f"{max(r['anon_mb'] for r in timed):>8.0f} {max(r['mapped_mb'] for r in timed):>9.0f} "
               f"{sum(r['written_mb'] for r in timed):>10.0f}")
    out.append("disk: " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in sizes.items()))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="1: the real size")
    ap.add_argument("--recipe", default=os.path.join(ROOT, "manifests/recipes/earlyberts-keyed.toml"))
    ap.add_argument("--limit", type=int, help="build only the first N examples (--limit-examples)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2],
                    help="the seeds built on one store (the first is queried)")
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "rehearse"))
    ap.add_argument("--pipeline", default=os.path.join(ROOT, "target", "release", "pipeline"))
    ap.add_argument("--trainer", default=os.path.join(ROOT, "target", "release", "trainer"))
    ap.add_argument("--python", default=sys.executable, help="a Python with `earlyberts`")
    ap.add_argument("--json", help="also write the rows and disk sizes here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--verbose", action="store_true", help="echo each command's stderr")
    ap.add_argument("--faults", action="store_true",
                    help="then kill -9 the first seed's build halfway through its examples, and "
                         "a new store halfway, and check each rerun resumes to the same bytes")
    ap.add_argument("--kill-at", type=float, nargs=2, metavar=("STORE_S", "EXAMPLES_S"),
                    help="with --faults: how long the stages take (default: as measured here; "
                         "give them when the builds were made before)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    # What a kept work directory holds already counts toward it.
    held = int(subprocess.run(["du", "-sb", args.work], capture_output=True, text=True).stdout.split()[0])
    need = DISK_PER_TEXT_BYTE * REAL_TEXT_BYTES * args.scale * len(args.seeds) / 2 - held
    if args.limit:
        need = min(need, 0.3 * REAL_TEXT_BYTES * args.scale)
    free = shutil.disk_usage(args.work).free
    if free < need:
        sys.exit(f"rehearse: '{args.work}' has {free / 1e9:.1f} GB free; SCALE={args.scale:g} "
                 f"needs about {need / 1e9:.1f} GB (--work elsewhere, or a smaller --scale)")
    r = Rehearsal(args)
    try:
        r.generate()
        r.builds = [r.build(seed) for seed in args.seeds]
        build = r.builds[0]
        sizes = r.disk()
        r.queries(build)
        r.python(build)
        r.feed(build)
        if args.faults:
            stage = lambda name: next(x["wall_s"] for x in r.rows if x["stage"] == name)  # noqa: E731
            a = args.seeds[0]
            store_s, examples_s = args.kill_at or (stage(f"seed {a}: store"), stage(f"seed {a}: examples"))
            r.faults(a, store_s, examples_s)
    finally:
        if not args.keep:
            shutil.rmtree(r.work, ignore_errors=True)
    print(f"rehearsal: SCALE={args.scale:g}, recipe {os.path.basename(args.recipe)}"
          f"{f', first {args.limit} examples' if args.limit else ''}, {os.cpu_count()} cores")
    print(table(r.rows, sizes))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scale": args.scale, "recipe": args.recipe, "limit": args.limit,
                       "cores": os.cpu_count(), "rows": r.rows, "disk": sizes}, f, indent=1)


if __name__ == "__main__":
    main()
