#!/usr/bin/env python3
"""Python training through `earlyberts.torch` replays `exact` against `trainer run`.

    python scripts/python_replay.py [--work DIR] [--steps 5] [--batch-size 16]
        [--micro-batch 4] [--lr 1e-3] [--warmup 2] [--pipeline PATH] [--trainer PATH]

Needs torch, transformers (with accelerate) and the package (`make python`, or `maturin
develop -m python/Cargo.toml`), and the debug binaries (`cargo build --workspace --features
earlyberts-trainer/wgpu`, as `make test-python` builds them). On the CPU:

1. the sample corpus built with the keyed recipe, seed 1 (as `make demo-build`);
2. an initial checkpoint: `BertForPreTraining` of the trainer's `tiny` shape (hidden 64,
   2 layers, 4 heads, feed-forward 128, the uncased vocabulary), seeded, `save_pretrained`;
3. STEPS steps of BATCH in micro-batches of MICRO from it, at peak rate LR with WARMUP
   warm-up steps, three ways: the README's snippet (`ReferenceTrainer`; `readme_snippet`
   below is its code), `trainer run`, and the README's former snippet (a plain
   `transformers.Trainer` with its defaults);
4. `trainer replay --format json` of each result against the same steps replayed by the
   trainer from the same initial weights: relative error and verdict.

Exits 1 unless the README snippet's weights replay `exact` (and `trainer run`'s too).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # the CPU, as `trainer run --device cpu`
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
import transformers  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def readme_snippet(build_dir, init, out, *, max_steps, batch_size, micro_batch, peak_lr,
                   warmup_steps):
    """README.md, "From Python": the snippet, with the paths and the short run's values as
    arguments (the README trains the reference's 40,000 steps of 256 at its rate and
    warm-up; `max_steps`, `batch_size`, `peak_lr` and `warmup_steps` shorten the run)."""
    import earlyberts
    from earlyberts.torch import ReferenceTrainer, TrainingOrder, reference_arguments
    from transformers import BertForPreTraining

    build = earlyberts.Build(build_dir)
    model = BertForPreTraining.from_pretrained(init)
    order = TrainingOrder(build, batch_size=batch_size, micro_batch=micro_batch,
                          override_batch_size=True)
    args = reference_arguments(out, order, max_steps=max_steps, peak_lr=peak_lr,
                               warmup_steps=warmup_steps)
    trainer = ReferenceTrainer(model=model, args=args, train_dataset=order)
    trainer.train()                                 # saves out/checkpoint-K at the last step
    return trainer


def former_readme_snippet(build_dir, init, out, *, max_steps, batch_size, micro_batch,
                          peak_lr, warmup_steps):
    """The README's snippet before `ReferenceTrainer`: `transformers.Trainer` with its own
    defaults (training mode, so dropout on; the loss under accumulation as this version
    scales it; clipping at 1.0; weight decay 0; a linear decay over `max_steps`)."""
    import earlyberts
    from earlyberts.torch import TrainingOrder
    from transformers import BertForPreTraining, Trainer, TrainingArguments

    build = earlyberts.Build(build_dir)
    model = BertForPreTraining.from_pretrained(init)
    order = TrainingOrder(build, batch_size=batch_size, micro_batch=micro_batch,
                          override_batch_size=True)
    args = TrainingArguments(out, per_device_train_batch_size=1,
                             gradient_accumulation_steps=batch_size // micro_batch,
                             max_steps=max_steps, learning_rate=peak_lr, report_to="none",
                             save_strategy="no")
    trainer = Trainer(model=model, args=args, train_dataset=order,
                      data_collator=TrainingOrder.collate)
    trainer.train()
    trainer.save_model(out / f"checkpoint-{max_steps}")
    return trainer


def run(*command):
    out = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} exited {out.returncode}:\n{out.stderr}")
    return out


def make_build(pipeline, work):
    build = work / "build"
    if not (build / "manifest.json").is_file():
        run(pipeline, "fixture", "--out", work / "inputs")
        run(pipeline, "build", "-q", "--recipe", REPO / "manifests/recipes/earlyberts-keyed.toml",
            "--seed", 1, "--out", build, "--wiki", work / "inputs/wikipedia/*.parquet",
            "--books", work / "inputs/bookcorpus/bookcorpus.tar.bz2")
    return build


def make_init(work):
    """The trainer's `tiny` shape, seeded; dropout as BERT's config has it (0.1: the trainer
    and `ReferenceTrainer` train with it off, as the reference)."""
    init = work / "init"
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=128)
    transformers.BertForPreTraining(config).save_pretrained(init)
    return init


def replay(trainer, init, target, build, a):
    """`trainer replay` of `target`: the trainer's own replay of the same steps from `init`."""
    out = subprocess.run(
        [str(trainer), "replay", "--init", str(init), "--target", str(target), "--steps",
         str(a.steps), "--build", str(build), "--batch-size", str(a.batch_size),
         "--override-batch-size", "--micro-batch", str(a.micro_batch), "--lr", str(a.lr),
         "--warmup", str(a.warmup), "--device", "cpu", "--format", "json"],
        capture_output=True, text=True)
    if out.returncode == 2 or not out.stdout.strip():
        sys.exit(f"trainer replay of {target} failed ({out.returncode}):\n{out.stderr}")
    [result] = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return result


def mean_loss(log_history):
    [end] = [entry for entry in log_history if "train_loss" in entry]
    return end["train_loss"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, help="working directory (default: a temporary one)")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--pipeline", type=Path, default=REPO / "target/debug/pipeline")
    p.add_argument("--trainer", type=Path, default=REPO / "target/debug/trainer")
    a = p.parse_args()
    for binary in (a.pipeline, a.trainer):
        if not binary.is_file():
            sys.exit(f"no {binary}: cargo build --workspace --features earlyberts-trainer/wgpu")
    with tempfile.TemporaryDirectory() as temporary:
        work = a.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        return compare(a, work.resolve())


def compare(a, work):
    build = make_build(a.pipeline, work)
    init = make_init(work)
    short = dict(max_steps=a.steps, batch_size=a.batch_size, micro_batch=a.micro_batch,
                 peak_lr=a.lr, warmup_steps=a.warmup)

    readme = readme_snippet(build, init, work / "python", **short)
    former = former_readme_snippet(build, init, work / "former", **short)
    run(a.trainer, "run", "--init", init, "--build", build, "--seed", 1, "--batch-size",
        a.batch_size, "--override-batch-size", "--micro-batch", a.micro_batch, "--lr", a.lr,
        "--warmup", a.warmup, "--max-steps", a.steps, "--checkpoints", a.steps, "--out",
        work / "rust", "--device", "cpu", "-q")
    rust_log = [json.loads(line) for line in (work / "rust/seed1/log.jsonl").read_text().split()]

    rows = [
        ("README snippet (ReferenceTrainer)", work / f"python/checkpoint-{a.steps}",
         mean_loss(readme.state.log_history)),
        ("trainer run", work / f"rust/seed1/step{a.steps}",
         sum(entry["loss"] for entry in rust_log) / len(rust_log)),
        ("former README snippet (Trainer's defaults)", work / f"former/checkpoint-{a.steps}",
         mean_loss(former.state.log_history)),
    ]
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, "
          f"Python {sys.version.split()[0]}; {a.steps} steps of {a.batch_size} in micro-batches "
          f"of {a.micro_batch}, peak rate {a.lr}, warm-up {a.warmup}, tiny BERT, CPU")
    print(f"{'trained by':44} {'mean loss':>9}  {'relative error':>14}  {'1 - cosine':>10}  "
          "verdict")
    verdicts = {}
    for name, target, loss in rows:
        result = replay(a.trainer, init, target, build, a)   # docs/REPLAY.md: the JSON line
        verdicts[name] = result["verdict"]
        print(f"{name:44} {loss:9.4f}  {result['relative_error']:14.3e}  "
              f"{1 - result['cosine']:10.2e}  {result['verdict']}")
    ok = verdicts["README snippet (ReferenceTrainer)"] == "exact" and \
        verdicts["trainer run"] == "exact"
    print("the README snippet replays exact against trainer run" if ok else
          "FAILED: the README snippet does not replay exact")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
