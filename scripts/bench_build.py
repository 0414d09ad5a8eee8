#!/usr/bin/env python3
"""Whole-command benchmark of `pipeline build` from sentence rows to verified, audited
shards, as a user runs it: a generated corpus of realistic shape — the reference's
`wiki-sentences.csv` (Wikipedia-like sentences, ~25 words) and a BookCorpus-like
`.tar.bz2` (lines of ~12 words) — of about `--mb` MB of text, built with 1 and 2 threads.
Prints, per thread count: wall and CPU seconds, MB of input text per second of CPU (per
core) and of wall time, examples/s, and peak RSS (GNU time).

    make bench-build  # or: python3 scripts/bench_build.py --mb 100 [--recipe manifests/recipes/earlyberts.toml]

Nothing it generates is committed; words are drawn from ../shared/data/bench/pg5200.txt
(a public-domain novel) with their frequencies, or from a built-in list without it.
"""

import argparse
import csv
import io
import json
import os
import random
import re
import subprocess
import tarfile
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def vocabulary():
    novel = os.path.join(ROOT, "..", "shared", "data", "bench", "pg5200.txt")
    if os.path.exists(novel):
        return re.findall(r"[A-Za-z']+|[.,;:!?]", open(novel, encoding="utf-8").read())
    return "the of and to in a is was he for it with as his on be at by".split()


def sentences(rng, words, mean, total_bytes):
    out, size = [], 0
    while size < total_bytes:
        n = max(2, int(rng.expovariate(1 / mean)) + 2)
        s = " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."
        out.append(s)
        size += len(s) + 1
    return out


def generate(directory, mb):
    rng = random.Random(17)
    words = vocabulary()
    wiki = sentences(rng, words, 25, int(mb * 0.8e6))
    books = sentences(rng, [w.lower() for w in words], 12, int(mb * 0.2e6))
    csv_path = os.path.join(directory, "wiki-sentences.csv")
    with open(csv_path, "w", encoding="utf8", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["text"])
        for s in wiki:
            writer.writerow([s])
    text = "\n".join(books) + "\n"
    half = len(text) // 2
    books_path = os.path.join(directory, "bookcorpus.tar.bz2")
    with tarfile.open(books_path, "w:bz2") as tar:
        for name, part in (("books_large_p1.txt", text[:half]), ("books_large_p2.txt", text[half:])):
            data = part.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    text_bytes = sum(len(s.encode()) for s in wiki) + len(text.encode())
    return csv_path, books_path, text_bytes


def build(pipeline, recipe, csv_path, books, out, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", pipeline, "--quiet", "build", "--recipe", recipe,
           "--seed", "1", "--out", out, "--sentences", csv_path, "--books", books]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall, user, system, rss_kb = done.stderr.strip().splitlines()[-1].split()
    examples = json.load(open(os.path.join(out, "manifest.json")))["totals"]["examples"]
    return float(wall), float(user) + float(system), int(rss_kb), examples


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=100)
    parser.add_argument("--recipe", default=os.path.join(ROOT, "manifests/recipes/earlyberts.toml"))
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "target/release/pipeline"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, books, text_bytes = generate(tmp, args.mb)
        print(f"corpus: {text_bytes / 1e6:.1f} MB of text "
              f"({os.path.getsize(csv_path) / 1e6:.1f} MB CSV, {os.path.getsize(books) / 1e6:.1f} MB tar.bz2)")
        manifests = []
        for threads in (1, 2):
            out = os.path.join(tmp, f"build-{threads}")
            wall, cpu, rss, examples = build(args.pipeline, args.recipe, csv_path, books, out, threads)
            print(f"{threads} thread(s): wall {wall:.1f} s, CPU {cpu:.1f} s, "
                  f"{text_bytes / 1e6 / cpu:.1f} MB/s per core, {text_bytes / 1e6 / wall:.1f} MB/s wall, "
                  f"{examples / wall:,.0f} examples/s, peak RSS {rss / 1024:.0f} MB")
            manifests.append(open(os.path.join(out, "manifest.json"), "rb").read())
        same = "identical" if manifests[0] == manifests[1] else "DIFFERENT"
        print(f"manifests of the 1- and 2-thread builds: {same}")


if __name__ == "__main__":
    main()
