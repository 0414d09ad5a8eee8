#!/usr/bin/env python3
"""Whole-command benchmark of `pipeline build`: parquet and tar.bz2 inputs to verified,
audited shards, timed as a process, as a user runs it.

The corpus is generated (not committed) in the published shapes: Wikipedia-like articles
(a title, sections with headings, paragraphs of several sentences, lists; numbers,
abbreviations and brackets inside sentences) as the Hugging Face `wikipedia` parquet, and
BookCorpus-like rows (lower-cased, tokens separated by spaces) as the original `.tar.bz2`,
about 80% / 20% of `--mb` MB of text. `pipeline fixture` writes the files; the corpus is kept
in `--work` for the next run. Each size is built with the keyed recipe (or `--recipe`) from
scratch (a new store) with 1 and 2 threads. Per build it prints: wall and CPU seconds, MB of
input text per second per core (wall time × threads) and per CPU second, examples/s, peak
RSS (GNU time), and the share of each stage (as `pipeline build` prints them).

    make bench-build                       # 1,024 MB: python3 scripts/bench_build.py --mb 1024
    python3 scripts/bench_build.py --mb 256 --mb 1024 --threads 2   # memory at two sizes

Words are drawn from ../shared/data/bench/pg5200.txt (a public-domain novel) with their
frequencies, or from a short built-in list where it is absent.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
ABBREVIATIONS = ["Dr.", "St.", "Mt.", "Capt.", "e.g.", "i.e.", "c.", "approx.", "No."]


def vocabulary():
    novel = os.path.join(ROOT, "..", "shared", "data", "bench", "pg5200.txt")
    if os.path.exists(novel):
        return re.findall(r"[A-Za-z']+", open(novel, encoding="utf-8").read())
    return "the of and to in a is was he for it with as his on be at by".split()


def sentence(rng, words, mean):
    """A Wikipedia-like sentence: words, and now and then a number, an abbreviation, a
    bracket or a comma."""
    n = max(3, int(rng.expovariate(1 / mean)) + 3)
    out = []
    for i in range(n):
        r = rng.random()
        if r < 0.03:
            out.append(f"{rng.randint(1, 9)},{rng.randint(100, 999)}")
        elif r < 0.05:
            out.append(f"{rng.randint(1, 99)}.{rng.randint(0, 9)} km")
        elif r < 0.06 and i > 0:
            out.append(rng.choice(ABBREVIATIONS) + " " + rng.choice(words).capitalize())
        elif r < 0.07:
            out.append(f"({rng.choice(words)} {rng.randint(1700, 2020)})")
        else:
            out.append(rng.choice(words) + ("," if rng.random() < 0.06 else ""))
    text = " ".join(out)
    return text[0].upper() + text[1:] + rng.choice(".......?!")


def article(rng, words, pool):
    title = " ".join(rng.choice(words).capitalize() for _ in range(rng.randint(1, 3)))
    parts = []
    for section in range(rng.randint(1, 6)):
        if section > 0:
            parts.append(rng.choice(words).capitalize() + (" " + rng.choice(words) if rng.random() < 0.5 else ""))
        for _ in range(rng.randint(1, 3)):
            parts.append(" ".join(rng.choice(pool) for _ in range(rng.randint(2, 8))))
            parts.append("")
        if rng.random() < 0.2:
            parts.extend(f"* {rng.choice(words)} {rng.choice(words)}" for _ in range(rng.randint(2, 5)))
            parts.append("")
    return title, "\n".join(parts).strip()


def generate(directory, mb, pipeline, wiki_files=1):
    """The corpus of about `mb` MB of text, written as parquet (Wikipedia's articles cut
    into `wiki_files` files) and tar.bz2 under `directory/in`; returns the inputs (a glob
    for Wikipedia)."""
    inputs = os.path.join(directory, "in")
    wiki = os.path.join(inputs, "wikipedia", "*.parquet")
    books = os.path.join(inputs, "bookcorpus", "bookcorpus.tar.bz2")
    if os.path.exists(os.path.join(inputs, "done")):
        return wiki, books
    rng = random.Random(17)
    words = vocabulary()
    pool = [sentence(rng, words, 20) for _ in range(50_000)]
    text_dir = os.path.join(directory, "text")
    os.makedirs(text_dir, exist_ok=True)
    with open(os.path.join(text_dir, "wikipedia.txt"), "w", encoding="utf-8") as f:
        size, n = 0, 0
        while size < mb * 0.8e6:
            title, text = article(rng, words, pool)
            f.write(f"### {n} {title}\n{text}\n")
            size += len(text) + 1
            n += 1
    lower = [w.lower() for w in words]
    rows = [" ".join(rng.choice(lower) for _ in range(max(2, int(rng.expovariate(1 / 12)) + 2))) + " ."
            for _ in range(50_000)]
    with open(os.path.join(text_dir, "bookcorpus.txt"), "w", encoding="utf-8") as f:
        size = 0
        while size < mb * 0.2e6:
            row = rng.choice(rows)
            f.write(row + "\n")
            size += len(row) + 1
    subprocess.run([pipeline, "--quiet", "fixture", "--corpus", text_dir, "--out", inputs], check=True)
    os.remove(os.path.join(inputs, "bookcorpus", "train-00000-of-00001.parquet"))
    if wiki_files > 1:
        cut_articles(os.path.join(text_dir, "wikipedia.txt"), wiki_files, inputs, pipeline)
    shutil.rmtree(text_dir)
    open(os.path.join(inputs, "done"), "w").close()
    return wiki, books


def cut_articles(text, files, inputs, pipeline):
    """Replaces the one Wikipedia parquet file by `files` files of consecutive articles
    (the same articles in the same order)."""
    articles = re.split(r"(?m)^(?=### )", open(text, encoding="utf-8").read())
    articles = [a for a in articles if a]
    os.remove(os.path.join(inputs, "wikipedia", "train-00000-of-00001.parquet"))
    per = -(-len(articles) // files)
    for k in range(files):
        part = os.path.join(inputs, "part")
        os.makedirs(part, exist_ok=True)
        with open(os.path.join(part, "wikipedia.txt"), "w", encoding="utf-8") as f:
            f.write("".join(articles[k * per:(k + 1) * per]))
        with open(os.path.join(part, "bookcorpus.txt"), "w", encoding="utf-8") as f:
            f.write("a row .\n")
        out = os.path.join(inputs, "part-out")
        subprocess.run([pipeline, "--quiet", "fixture", "--corpus", part, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        os.replace(os.path.join(out, "wikipedia", "train-00000-of-00001.parquet"),
                   os.path.join(inputs, "wikipedia", f"train-{k:05}-of-{files:05}.parquet"))
        shutil.rmtree(out)
        shutil.rmtree(part)


def watch_memory(child):
    """The peaks of the `pipeline` process's RssAnon and RssFile (kB) while `child` (GNU
    time, whose child it is) runs."""
    import threading
    import time
    peaks = {"RssAnon": 0, "RssFile": 0}

    def poll():
        while child.poll() is None:
            try:
                kids = open(f"/proc/{child.pid}/task/{child.pid}/children").read().split()
                for line in open(f"/proc/{kids[0]}/status") if kids else []:
                    key, _, value = line.partition(":")
                    if key in peaks:
                        peaks[key] = max(peaks[key], int(value.split()[0]))
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return peaks, thread


def build(pipeline, recipe, wiki, books, out, threads):
    """One `pipeline build` from scratch: its figures."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", pipeline, "--quiet", "build", "--recipe", recipe,
           "--seed", "1", "--out", out, "--wiki", wiki, "--books", books]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks, watcher = watch_memory(child)
    stderr = child.stderr.read()
    watcher.join()
    if child.wait() != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{stderr}")
    lines = stderr.strip().splitlines()
    wall, user, system, rss_kb = lines[-1].split()
    stages = next(l for l in lines if l.startswith("build finished"))
    store = json.load(open(os.path.join(out, "store", "store.json")))["totals"]
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    return {
        "threads": threads,
        "text_mb": store["text_bytes"] / 1e6,
        "wall_s": float(wall),
        "cpu_s": float(user) + float(system),
        "peak_rss_mb": int(rss_kb) / 1024,
        # Sampled every 50 ms: anonymous memory (the process's own) and file-backed pages
        # (the memory-mapped sentence store, which the kernel can drop at will).
        "peak_anon_mb": peaks["RssAnon"] / 1024,
        "peak_file_mb": peaks["RssFile"] / 1024,
        "examples": manifest["totals"]["examples"],
        # (builds before stage times were printed show none)
        "stages": stages[stages.index("(") + 1:-1] if "(" in stages else "not printed",
        "root_hash": manifest["root_hash"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, action="append", help="corpus size(s) in MB of text [1024]")
    parser.add_argument("--threads", type=int, action="append", help="thread counts [1, 2]")
    parser.add_argument("--recipe", default=os.path.join(ROOT, "manifests/recipes/earlyberts-keyed.toml"))
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "target/release/pipeline"))
    parser.add_argument("--work", default=os.path.join(ROOT, "target/bench/build"))
    parser.add_argument("--json", help="also append one JSON line per build to this file")
    parser.add_argument("--wiki-files", type=int, default=1,
                        help="cut Wikipedia's articles into this many parquet files [1]")
    args = parser.parse_args()
    for mb in args.mb or [1024]:
        cut = f"-{args.wiki_files}files" if args.wiki_files > 1 else ""
        directory = os.path.join(args.work, f"corpus-{mb:g}mb{cut}")
        wiki, books = generate(directory, mb, args.pipeline, args.wiki_files)
        hashes = set()
        for threads in args.threads or [1, 2]:
            r = build(args.pipeline, args.recipe, wiki, books, os.path.join(directory, "build"), threads)
            hashes.add(r["root_hash"])
            print(f"{r['text_mb']:.0f} MB, {threads} thread(s): wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, "
                  f"{r['text_mb'] / r['wall_s'] / threads:.1f} MB/s per core "
                  f"({r['text_mb'] / r['cpu_s']:.1f} per CPU second), {r['examples'] / r['wall_s']:,.0f} examples/s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB (sampled: {r['peak_anon_mb']:.0f} MB anonymous, "
                  f"{r['peak_file_mb']:.0f} MB mapped files)\n    stages: {r['stages']}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(dict(r, recipe=os.path.basename(args.recipe))) + "\n")
        print(f"    builds identical across thread counts: {'yes' if len(hashes) == 1 else 'NO'}")


if __name__ == "__main__":
    main()
