#!/usr/bin/env python3
"""The ground truth for `trainer replay`: a small BERT trained as the reference trains.

    python scripts/replay_reference.py make-fixture OUT --build BUILD [--pipeline PATH]
        [--steps 10] [--batch-size 12] [--micro-batch 4] [--seed 1234] [--hidden-size 16]

Writes, under OUT:
    init/      config.json + pytorch_model.bin: a small BertForPreTraining (vocabulary
               30,522, hidden 16 (--hidden-size), 2 layers, 2 heads, feed-forward 4 × hidden)
               made by PyTorch, in the layout of the MultiBERTs step-0 checkpoints
    target/    config.json + model.safetensors: that model after STEPS optimizer steps on
               the first STEPS x BATCH examples of BUILD, trained as the reference's
               training script (subspace-chronicles `scripts/multiberts/pretraining/mlm.py`)
               trains: loaded with `from_pretrained` (evaluation mode: dropout off), every
               micro-batch padded to its longest sequence (cut at 512 tokens as the script
               cuts), mean MLM cross-entropy over labelled tokens plus mean NSP
               cross-entropy, divided by the number of micro-batches; AdamW(lr 1e-4, betas
               0.9/0.999, eps 1e-8, weight decay 0.01 on every parameter) and the polynomial
               schedule with 10,000 warm-up steps of 2,000,000, stepped after each update
               (so step 1 runs at rate 0). The reference's own rate and warm-up: after 10
               steps each weight has moved by well under a micro-unit.
    reference.json  the settings, the build's root hash, the library versions, and each
               step's rate and losses
    init.safetensors  init's tensors as safetensors (the tied decoder copies left out), so
               that tests without torch can compute with the initial weights (the fake
               Hub's suite of revisions in tests/pipeline/replay.rs)

    python scripts/replay_reference.py init-safetensors OUT

writes OUT/init.safetensors from an existing OUT/init.

The examples come from `pipeline inspect BUILD --examples 0..N --format jsonl`, turned into
the records the reference's preprocessing writes (`token_ids`, `mlm_labels` with -100 where
unlabelled, `nsp_label`).

Needs torch, transformers and safetensors (the reference's stack: torch 2.1.0,
transformers 4.34.1). The Rust tests (trainer/tests/replay.rs) read the committed fixture in
trainer/tests/fixtures/replay; they do not need Python.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
import transformers
from transformers import BertConfig, BertForPreTraining, get_polynomial_decay_schedule_with_warmup

CONFIG = dict(
    vocab_size=30522,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    initializer_range=0.02,
    hidden_act="gelu",
)
PAD_ID, SEP_ID = 0, 102


def read_examples(pipeline, build, count):
    """The build's first `count` examples as the reference's preprocessing writes them."""
    out = subprocess.run(
        [pipeline, "inspect", str(build), "--examples", f"0..{count}", "--format", "jsonl"],
        check=True, capture_output=True, text=True).stdout
    records = []
    for line in out.splitlines():
        e = json.loads(line)
        labels = [-100] * len(e["token_ids"])
        for position, label in zip(e["mlm_positions"], e["mlm_labels"]):
            labels[position] = label
        records.append(dict(token_ids=e["token_ids"], mlm_labels=labels, nsp_label=e["nsp_label"]))
    if len(records) != count:
        sys.exit(f"{build}: {len(records)} examples, {count} needed")
    return records


def model_inputs(records, max_length):
    """One micro-batch as the reference's training script pads it: to its longest sequence,
    a sequence over `max_length` cut to max_length - 1 tokens ending in [SEP], segment 1
    after the first [SEP] that carries no label (a random replacement by id 102 does)."""
    n = len(records)
    longest = min(max(len(r["token_ids"]) for r in records), max_length)
    inputs = dict(
        input_ids=torch.full((n, longest), PAD_ID, dtype=torch.long),
        attention_mask=torch.zeros((n, longest), dtype=torch.double),
        token_type_ids=torch.zeros((n, longest), dtype=torch.long))
    labels = torch.full((n, longest), -100, dtype=torch.long)
    nsp = torch.tensor([r["nsp_label"] for r in records], dtype=torch.long)
    for row, r in enumerate(records):
        ids, mlm = torch.tensor(r["token_ids"]), torch.tensor(r["mlm_labels"])
        boundaries = torch.where((ids == SEP_ID) & (mlm == -100))[0]
        first_sep = int(boundaries[0])
        if len(ids) > max_length:
            ids, mlm = ids[:max_length - 1].clone(), mlm[:max_length - 1].clone()
            ids[-1], mlm[-1] = SEP_ID, -100
            if first_sep >= len(ids) - 1:
                first_sep = len(ids) - 1
                nsp[row] = 0
        length = len(ids)
        inputs["input_ids"][row, :length] = ids
        inputs["attention_mask"][row, :length] = 1
        inputs["token_type_ids"][row, first_sep + 1:length] = 1
        labels[row, :length] = mlm
    return inputs, labels, nsp


def train(init, records, steps, batch_size, micro_batch):
    """The reference's training loop over `records`; returns the model and a log per step."""
    model = BertForPreTraining.from_pretrained(init)  # evaluation mode: dropout off
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999),
                                  weight_decay=1e-2)
    schedule = get_polynomial_decay_schedule_with_warmup(
        optimizer, num_warmup_steps=int(1e4), num_training_steps=int(2e6))
    criterion = torch.nn.CrossEntropyLoss(ignore_index=-100)
    accumulation = batch_size // micro_batch
    vocab = model.config.vocab_size
    log, cursor = [], 0
    for step in range(1, steps + 1):
        rate = optimizer.param_groups[0]["lr"]
        total = mlm_total = nsp_total = 0.0
        for _ in range(accumulation):
            inputs, labels, nsp = model_inputs(records[cursor:cursor + micro_batch],
                                               model.config.max_position_embeddings)
            cursor += micro_batch
            out = model(**inputs)
            mlm_loss = criterion(out.prediction_logits.view(-1, vocab), labels.view(-1))
            nsp_loss = criterion(out.seq_relationship_logits.view(-1, 2), nsp.view(-1))
            loss = (mlm_loss + nsp_loss) / accumulation
            loss.backward()
            total += float(loss.detach())
            mlm_total += float(mlm_loss.detach()) / accumulation
            nsp_total += float(nsp_loss.detach()) / accumulation
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        log.append(dict(step=step, lr=rate, loss=total, mlm_loss=mlm_total, nsp_loss=nsp_total))
    return model, log


def make_fixture(args):
    out = Path(args.out)
    config = dict(CONFIG, hidden_size=args.hidden_size, intermediate_size=4 * args.hidden_size)
    torch.manual_seed(args.seed)
    model = BertForPreTraining(BertConfig(**config))
    init = out / "init"
    # MultiBERTs' layout: config.json and a torch.save'd state dict.
    model.save_pretrained(init, safe_serialization=False)
    records = read_examples(args.pipeline, args.build, args.steps * args.batch_size)
    trained, log = train(init, records, args.steps, args.batch_size, args.micro_batch)
    trained.save_pretrained(out / "target", safe_serialization=True)
    init_safetensors(argparse.Namespace(out=out))
    manifest = json.loads((Path(args.build) / "manifest.json").read_text())
    (out / "reference.json").write_text(json.dumps(dict(
        made_by="scripts/replay_reference.py make-fixture",
        build=dict(recipe=manifest["recipe"]["name"], seed=manifest["seed"],
                   root_hash=manifest["root_hash"], history=args.history),
        steps=args.steps, batch_size=args.batch_size, micro_batch=args.micro_batch,
        init_seed=args.seed, config=config,
        versions=dict(python=sys.version.split()[0], torch=torch.__version__,
                      transformers=transformers.__version__),
        log=log), indent=1) + "\n")
    print(f"wrote {out}: {args.steps} steps of {args.batch_size} "
          f"(micro-batch {args.micro_batch}), rates {[s['lr'] for s in log]}, "
          f"final loss {log[-1]['loss']:.6f}")


def init_safetensors(args):
    from safetensors.torch import save_file
    out = Path(args.out)
    state = torch.load(out / "init" / "pytorch_model.bin", map_location="cpu")
    # The decoder shares the word embeddings' storage, which safetensors refuses.
    tensors = {name: t.clone().contiguous() for name, t in state.items()
               if not name.startswith("cls.predictions.decoder.")}
    save_file(tensors, str(out / "init.safetensors"))
    print(f"wrote {out / 'init.safetensors'}: {len(tensors)} tensors")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fixture = sub.add_parser("make-fixture")
    fixture.add_argument("out")
    fixture.add_argument("--build", required=True)
    fixture.add_argument("--history", default="fresh",
                         help="the build's run history, recorded in reference.json")
    fixture.add_argument("--pipeline", default="target/release/pipeline")
    fixture.add_argument("--steps", type=int, default=10)
    fixture.add_argument("--batch-size", type=int, default=12)
    fixture.add_argument("--micro-batch", type=int, default=4)
    fixture.add_argument("--seed", type=int, default=1234)
    fixture.add_argument("--hidden-size", type=int, default=16)
    converted = sub.add_parser("init-safetensors")
    converted.add_argument("out")
    args = parser.parse_args()
    if args.command == "init-safetensors":
        return init_safetensors(args)
    if args.batch_size % args.micro_batch:
        sys.exit("--micro-batch must divide --batch-size")
    make_fixture(args)


if __name__ == "__main__":
    main()
