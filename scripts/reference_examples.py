#!/usr/bin/env python3
"""The EarlyBERTs reference procedure run with the reference's own libraries, as a proof
of the `reference` recipe kind.

Written for this project from the published behaviour of the reference's preprocess.py
(personads/subspace-chronicles, scripts/multiberts/pretraining/) and
../shared/docs/reference-exact.md: the same library calls in the same order — `random`,
`numpy`, `torch` seeded together, `datasets` reading the Wikipedia sentences back from
their CSV file, the Hugging Face BookCorpus builder's row rule, `random.sample` for the NSP
pairs, `np.random.shuffle` for the order, the fast BERT tokenizer with `padding=True`, the
`transformers` `DataCollatorForLanguageModeling` on each batch of 256 pairs, the 80-label
cap from `random.sample`, the JSON lines — and the run histories of reference-exact.md §1:
`fresh`, `resumed` (a second run that found the saved pairs), `continued:C1,C2` (a fresh run
stopped after line C1, then `--continued` runs from each cursor). mlm.py's length rule is
applied to the lines when they are compared, as the trainer applies it.

    reference_examples.py run --sentences wiki-sentences.csv --books bookcorpus.tar.bz2 \\
        --seed 1 --history fresh --out books-wiki.json
    reference_examples.py compare books-wiki.json ours.jsonl   # ours: pipeline inspect --format jsonl
    reference_examples.py fixture --sentences … --books … --out FIXTURE.json [--seeds 0,1,2,3,4]
        [--histories fresh,resumed,continued:C1,C2]
    reference_examples.py synthetic --out DIR      # the edge-case corpus: wiki-sentences.csv + bookcorpus.tar.bz2
    reference_examples.py sentencize --wiki 'DIR/*.parquet' --out wiki-sentences.csv [--spacy-model NAME]
        # the reference's first stage: spaCy over every article (needs spacy and the model)

Needs: torch, transformers, tokenizers, numpy, datasets, pandas (the 2023 stack of the
reference: torch 2.1.0, transformers 4.34.1, tokenizers 0.14.1, numpy 1.26.1, datasets
2.14.6, pandas 2.1.1 on Python 3.11, from PyPI). The Rust tests read the committed fixtures
and need none of them.
"""

import argparse
import csv
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
VOCAB = os.path.join(ROOT, "manifests", "vocab", "bert-base-uncased-vocab.txt")
MAX_LENGTH = 512
BATCH = 256


# The number of chosen tokens of every example the cap applied to, as runs meet them (the
# fixtures record them, to show both branches of random.sample were taken).
CAPPED = []


def book_rows(archive):
    """The rows of the Hugging Face `bookcorpus` builder (plain_text): books_large_p1.txt,
    then books_large_p2.txt, read as UTF-8 text (universal newlines), each line stripped."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive, "r:bz2") as tar:
            tar.extractall(tmp)
        for name in ("books_large_p1.txt", "books_large_p2.txt"):
            found = [os.path.join(d, name) for d, _, fs in os.walk(tmp) if name in fs]
            with open(found[0], mode="r", encoding="utf-8") as f:
                for line in f:
                    rows.append(line.strip())
    return rows


def load_rows(sentences_csv, archive):
    """The script's `dataset`: the Wikipedia sentences read back by `datasets` from the
    CSV (pandas: NA strings become None, a field is cut at NUL), then BookCorpus."""
    from datasets import Dataset, concatenate_datasets, load_dataset

    wiki = load_dataset("csv", data_files={"train": sentences_csv})["train"]
    books = Dataset.from_dict({"text": book_rows(archive)})
    # Newer datasets read the CSV as large_string; the same texts either way.
    books = books.cast(wiki.features)
    return concatenate_datasets([wiki, books])


def generate_sentence_pairs(n_rows):
    """preprocess.py's pairs: (2i, 2i+1); n//4 of them, drawn by random.sample, get the
    second sentence of another drawn pair."""
    import numpy as np

    n = n_rows if n_rows % 2 == 0 else n_rows - 1
    pairs = np.stack((np.arange(0, n - 1, 2), np.arange(1, n, 2)), axis=-1)
    labels = np.zeros(n // 2, dtype=int)
    drawn = random.sample(range(n // 2), k=n // 4)
    pairs[sorted(drawn), 1] = pairs[drawn, 1]
    labels[sorted(drawn)] = 1
    return pairs, labels


def script_run(state, dataset, tokenizer, seed, continued, stop_after=None):
    """One run of preprocess.py's main loop in directory `state`."""
    import numpy as np
    import torch
    from transformers import DataCollatorForLanguageModeling

    random.seed(seed)
    np.random.seed(seed)
    torch.random.manual_seed(seed)
    pairs_path = os.path.join(state, "sentence-pairs.npy")
    labels_path = os.path.join(state, "sentence-pair-labels.npy")
    if os.path.exists(pairs_path) and os.path.exists(labels_path):
        pairs, labels = np.load(pairs_path), np.load(labels_path)
    else:
        pairs, labels = generate_sentence_pairs(dataset.num_rows)
        order = np.arange(pairs.shape[0])
        np.random.shuffle(order)
        # The quirk: only the saved files are shuffled; this run goes on in corpus order.
        np.save(pairs_path, pairs[order, :])
        np.save(labels_path, labels[order])
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm_probability=0.15)
    out_path = os.path.join(state, "books-wiki.json")
    cursor = 0
    if continued and os.path.exists(out_path):
        cursor = sum(1 for _ in open(out_path, "r"))
    with open(out_path, "a" if continued else "w", encoding="utf8") as out:
        while cursor < pairs.shape[0]:
            start, end = cursor, min(cursor + BATCH, pairs.shape[0])
            cursor = end
            idx = np.arange(start, end)
            batch = pairs[idx, :]
            first = [str(x["text"]) for x in dataset.select(batch[:, 0])]
            second = [str(x["text"]) for x in dataset.select(batch[:, 1])]
            enc = tokenizer([list(p) for p in zip(first, second)], padding=True)
            masked = collator(enc["input_ids"])
            ids_all, mlm_all = masked["input_ids"], masked["labels"]
            attention = torch.tensor(enc["attention_mask"], dtype=torch.bool)
            lines = []
            for i in range(idx.shape[0]):
                ids = ids_all[i, attention[i]]
                mlm = mlm_all[i, attention[i]]
                chosen = torch.where(mlm != -100)[0]
                count = torch.sum(mlm != -100)
                if count > 80:
                    CAPPED.append(int(count))
                    undo = random.sample(chosen.tolist(), k=(count - 80))
                    ids[undo] = torch.tensor(enc["input_ids"], dtype=torch.long)[i, undo]
                    mlm[undo] = -100
                lines.append(json.dumps({
                    "token_ids": ids.tolist(),
                    "mlm_labels": mlm.tolist(),
                    "nsp_label": int(labels[idx][i]),
                }))
            out.write("\n".join(lines))
            if cursor < pairs.shape[0]:
                out.write("\n")
            if stop_after is not None and cursor >= stop_after:
                break
    if stop_after is not None:
        keep_lines(out_path, stop_after)


def keep_lines(path, n):
    """The file as a kill after its first `n` lines left it."""
    with open(path, "r", encoding="utf8") as f:
        lines = f.read().split("\n")[:n]
    with open(path, "w", encoding="utf8") as f:
        f.write("\n".join(lines) + ("\n" if lines else ""))


def parse_history(text):
    if text in ("fresh", "resumed"):
        return text, []
    if text.startswith("continued:"):
        return "continued", [int(c) for c in text[len("continued:"):].split(",")]
    raise SystemExit(f"history '{text}' is not fresh, resumed or continued:C1,C2,…")


def run_history(dataset, tokenizer, seed, history):
    """The books-wiki.json lines a history leaves."""
    kind, cursors = parse_history(history)
    with tempfile.TemporaryDirectory() as state:
        if kind == "fresh":
            script_run(state, dataset, tokenizer, seed, continued=False)
        elif kind == "resumed":
            script_run(state, dataset, tokenizer, seed, continued=False, stop_after=0)
            script_run(state, dataset, tokenizer, seed, continued=False)
        else:
            bounds = cursors + [None]
            script_run(state, dataset, tokenizer, seed, continued=False, stop_after=bounds[0])
            for stop in bounds[1:]:
                script_run(state, dataset, tokenizer, seed, continued=True, stop_after=stop)
        with open(os.path.join(state, "books-wiki.json"), encoding="utf8") as f:
            return f.read().split("\n")


def tokenizer():
    """`AutoTokenizer.from_pretrained` of a directory shaped like the MultiBERTs checkpoints
    (`config.json` of a BERT, the uncased `vocab.txt`): the fast BERT tokenizer."""
    import shutil

    from transformers import AutoTokenizer

    directory = tempfile.mkdtemp(prefix="multiberts-tokenizer-")
    shutil.copy(VOCAB, os.path.join(directory, "vocab.txt"))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump({"model_type": "bert", "vocab_size": 30522}, f)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 512}, f)
    return AutoTokenizer.from_pretrained(directory)


def as_trained(line, sep_id=102):
    """A books-wiki.json line as mlm.py's prepare_model_inputs feeds it to the model,
    in the pipeline's JSON form (inspect --format jsonl)."""
    e = json.loads(line)
    ids, mlm, nsp = list(e["token_ids"]), list(e["mlm_labels"]), e["nsp_label"]
    seps = [i for i, (t, m) in enumerate(zip(ids, mlm)) if t == sep_id and m == -100]
    seg1_end = seps[0]
    if len(ids) > MAX_LENGTH:
        ids, mlm = ids[:MAX_LENGTH - 1], mlm[:MAX_LENGTH - 1]
        ids[-1], mlm[-1] = sep_id, -100
        if seg1_end >= len(ids) - 1:
            seg1_end, nsp = len(ids) - 1, 0
    positions = [i for i, m in enumerate(mlm) if m != -100]
    return {
        "token_ids": ids,
        "segment_ids": [int(i > seg1_end) for i in range(len(ids))],
        "mlm_positions": positions,
        "mlm_labels": [mlm[i] for i in positions],
        "nsp_label": nsp,
    }


def digest(example):
    """The first 16 hex digits of the sha256 of an example's canonical JSON (sorted keys,
    no spaces): what the fixtures record per example and the Rust tests recompute."""
    text = json.dumps(example, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def command_run(args):
    dataset = load_rows(args.sentences, args.books)
    lines = run_history(dataset, tokenizer(), args.seed, args.history)
    with open(args.out, "w", encoding="utf8") as f:
        f.write("\n".join(lines))


def command_compare(args):
    with open(args.reference, encoding="utf8") as f:
        reference = [as_trained(line) for line in f.read().split("\n") if line]
    with open(args.ours, encoding="utf8") as f:
        ours = [json.loads(line) for line in f if line.strip()]
    for k, (a, b) in enumerate(zip(reference, ours)):
        b = {key: b[key] for key in a}
        if a != b:
            print(f"example {k} differs:\n  reference {json.dumps(a)}\n  pipeline  {json.dumps(b)}")
            sys.exit(1)
    if len(reference) != len(ours):
        print(f"{len(reference)} reference examples, {len(ours)} pipeline examples")
        sys.exit(1)
    print(f"all {len(ours)} examples identical")


def command_fixture(args):
    import numpy
    import torch
    import transformers
    import datasets
    import pandas
    import tokenizers

    dataset = load_rows(args.sentences, args.books)
    tok = tokenizer()
    cases = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for history in args.histories.split(";"):
            CAPPED.clear()
            examples = [as_trained(l) for l in run_history(dataset, tok, seed, history) if l]
            capped = sum(1 for line in examples if len(line["mlm_positions"]) == 80)
            cases.append({
                "seed": seed,
                "history": history,
                "examples": len(examples),
                "examples_at_the_cap": capped,
                "cap_sizes": sorted(CAPPED),
                # 16 hex digits per example, concatenated in line order.
                "digests": "".join(digest(e) for e in examples),
                "whole": {str(k): examples[k] for k in sorted({0, len(examples) - 1}) if examples},
            })
    versions = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "numpy": numpy.__version__,
        "datasets": datasets.__version__,
        "pandas": pandas.__version__,
    }
    with open(args.out, "w", encoding="utf8") as f:
        # One line per case: compact, and a changed case shows as one changed line.
        head = {"made_by": "scripts/reference_examples.py fixture", "versions": versions,
                "rows": dataset.num_rows}
        f.write(json.dumps(head, sort_keys=True)[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c, sort_keys=True) for c in cases))
        f.write("\n]}\n")
    print(f"wrote {args.out}: {len(cases)} cases, {sum(c['examples'] for c in cases)} examples ({versions})")


def synthetic_sentences(rng):
    """Wikipedia-like sentences and every row edge the reference's reading has."""
    words = ("the of and to in is was for on as with by he at from his it an were are which "
             "this be or has had first one their its new after who they have her she two been "
             "other when there all during into school time may years more most only over city "
             "some world would where later up such used many can state about national out known "
             "university united then made").split()
    edges = ["NA", "null", "N/A", "NaN", "None", "nan", "#N/A", "<NA>", "NULL", "n/a",
             "-nan", "1.#IND", " NA", "na", "Nan", "none", "inf", "True", "2007.", "1e5",
             "ab\x00cd", "\x00x", "NA\x00x", "a line\nbreak", "a crlf\r\nbreak", "a lone\rcr",
             "a \"quoted\" word", "tab\tinside", "u+2028\u2028inside", "bom\ufeffinside",
             "#hash first", "literal [MASK] token", "literal [CLS] and [UNK] tokens",
             "a " + "x" * 120 + " long word", "accents: café naïve Ærøskøbing",
             "cjk 漢字 mixed", "emoji 👍🏽 here"]
    out = []
    sentence = lambda n: " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."
    for i in range(900):
        out.append(sentence(rng.choice([3, 8, 15, 25, 40, 60])))
        if i % 37 == 0:
            # Two long sentences in a row: pairs of 500-1300 tokens, over 512 and over the
            # cap in both branches of random.sample (81-101 and 102+ chosen tokens).
            out.extend(sentence(rng.choice([280, 350, 450, 600])) for _ in range(2))
        if i % 23 == 0:
            out.append(edges[(i // 23) % len(edges)])
    out.extend(edges)
    return out


def synthetic_book_lines(rng):
    """BookCorpus lines with every line-end and whitespace edge of text mode and strip()."""
    words = "she said he looked at the door and then away , . '' `` it was late".split()
    lines = []
    for i in range(700):
        n = rng.choice([0, 1, 5, 12, 30])
        if i % 61 == 0:
            n = 200
        lines.append(" ".join(rng.choice(words) for _ in range(n)))
    text = ""
    ends = ["\n", "\r\n", "\r", "\n"]
    pads = ["", " ", "\t", "\u00a0", "\u3000", "\u2028", "\x1c", "\x0b", "\x0c", "\u0085"]
    for i, line in enumerate(lines):
        text += pads[i % len(pads)] + line + pads[(i * 7) % len(pads)] + ends[i % len(ends)]
    return text


def command_sentencize(args):
    """The reference's first stage, as preprocess.py's Sentencizer and
    generate_sentencized_dataset do it: the whole model over each article's text, every
    non-empty stripped sentence, written with csv.writer(QUOTE_ALL, lineterminator='\\n')."""
    import glob

    import pyarrow.parquet as pq
    import spacy

    nlp = spacy.load(args.spacy_model)
    files = sorted(glob.glob(args.wiki))
    with open(args.out, "w", encoding="utf8", newline="") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["text"])
        for path in files:
            for text in pq.read_table(path, columns=["text"]).column("text").to_pylist():
                writer.writerows([[s.text.strip()] for s in nlp(text).sents if s.text.strip()])
    meta = nlp.meta
    print(f"wrote {args.out} with spaCy {spacy.__version__}, {meta['lang']}_{meta['name']} {meta['version']} ({', '.join(nlp.pipe_names)})")


def command_synthetic(args):
    rng = random.Random(20231201)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "wiki-sentences.csv"), "w", encoding="utf8", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["text"])
        for sentence in synthetic_sentences(rng):
            writer.writerow([sentence])
    text = synthetic_book_lines(rng)
    half = len(text) // 2
    with tarfile.open(os.path.join(args.out, "bookcorpus.tar.bz2"), "w:bz2") as tar:
        for name, part in (("books_large_p1.txt", text[:half]), ("books_large_p2.txt", text[half:])):
            data = part.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    print(f"wrote {args.out}/wiki-sentences.csv and {args.out}/bookcorpus.tar.bz2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    fixture = sub.add_parser("fixture")
    for p in (run, fixture):
        p.add_argument("--sentences", required=True)
        p.add_argument("--books", required=True)
        p.add_argument("--out", required=True)
    run.add_argument("--seed", type=int, required=True)
    run.add_argument("--history", default="fresh")
    fixture.add_argument("--seeds", default="0,1,2,3,4")
    fixture.add_argument("--histories", default="fresh;resumed")
    compare = sub.add_parser("compare")
    compare.add_argument("reference")
    compare.add_argument("ours")
    synthetic = sub.add_parser("synthetic")
    synthetic.add_argument("--out", required=True)
    sentencize = sub.add_parser("sentencize")
    sentencize.add_argument("--wiki", required=True)
    sentencize.add_argument("--out", required=True)
    sentencize.add_argument("--spacy-model", default="en_core_web_sm")
    args = parser.parse_args()
    {"run": command_run, "compare": command_compare, "fixture": command_fixture,
     "synthetic": command_synthetic, "sentencize": command_sentencize}[args.command](args)


if __name__ == "__main__":
    main()
