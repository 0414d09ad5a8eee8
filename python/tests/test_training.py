"""The reference's training settings as Python gets them, against the documented values and
against what `trainer run` trains with; `earlyberts.torch`'s optimizer, schedule and step
(with PyTorch) and `ReferenceTrainer` (with transformers), which skip cleanly without them.

scripts/python_replay.py is the end-to-end proof: a few steps through `ReferenceTrainer`
replay `exact` against `trainer run` from the same initial weights."""

import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import earlyberts
from conftest import REPO, built_binary

# README, "Training": what `trainer run --seed N` trains with.
DOCUMENTED = {
    "batch_size": 256, "steps": 40_000, "peak_lr": 1e-4, "warmup_steps": 10_000,
    "decay_steps": 2_000_000, "end_lr": 1e-7, "power": 1.0, "beta_1": 0.9, "beta_2": 0.999,
    "epsilon": 1e-8, "weight_decay": 0.01, "dropout": 0.0, "max_grad_norm": None,
}


def test_the_settings_are_the_documented_ones():
    settings = earlyberts.reference_training()
    assert settings == DOCUMENTED
    assert [type(settings[k]) for k in DOCUMENTED] == [type(v) for v in DOCUMENTED.values()]
    settings["peak_lr"] = 1.0  # a copy each call
    assert earlyberts.reference_training() == DOCUMENTED
    assert earlyberts.checkpoint_steps() == [10, *range(100, 1001, 100),
                                             *range(2000, 20_001, 1000), 40_000]


def trainer_binary():
    path, candidates = built_binary("trainer")
    if path is None:
        pytest.skip(f"no trainer binary at {candidates} (`cargo build --workspace` builds it)")
    return path


@pytest.fixture(scope="session")
def default_run(builds, tmp_path_factory):
    """`trainer run` for one step with every training setting left at its default; its
    trainer_state.json records what it trained with."""
    out = tmp_path_factory.mktemp("run")
    run = subprocess.run(
        [trainer_binary(), "run", "--init", "random", "--config", "tiny", "--build",
         builds["keyed"], "--seed", "1", "--max-steps", "1", "--out", out, "--device", "cpu",
         "-q"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    log = [json.loads(line) for line in (out / "seed1/log.jsonl").read_text().splitlines()]
    state = json.loads((out / "seed1/step1/trainer_state.json").read_text())
    return log, state


def test_trainer_run_trains_with_the_settings(default_run):
    log, state = default_run
    s = earlyberts.reference_training()
    train = state["train"]
    assert train["batch_size"] == s["batch_size"]
    assert train["schedule"] == {"peak": s["peak_lr"], "warmup": s["warmup_steps"],
                                 "total": s["decay_steps"], "end": s["end_lr"],
                                 "power": s["power"]}
    assert (train["beta_1"], train["beta_2"], train["epsilon"], train["weight_decay"]) == \
        (s["beta_1"], s["beta_2"], s["epsilon"], s["weight_decay"])
    assert state["model"]["dropout"] == s["dropout"]
    assert [entry["lr"] for entry in log] == [0.0]  # step 1 runs at rate 0
    help_text = subprocess.run([trainer_binary(), "run", "--help"], capture_output=True,
                               text=True).stdout
    assert re.search(r"--max-steps <MAX_STEPS>\s+Last optimizer step to run \[default: (\d+)\]",
                     help_text).group(1) == str(s["steps"])


# --- with PyTorch -------------------------------------------------------------------------

@pytest.fixture
def torch():
    if os.environ.get("EARLYBERTS_REQUIRE_TORCH") != "1":
        pytest.importorskip("torch")
    import torch
    return torch


class Tiny:
    """A model `reference_step` can train: embeddings, a linear map, a `.loss`."""

    @staticmethod
    def make(torch, seed=0):
        from types import SimpleNamespace

        class Model(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = torch.nn.Embedding(30522, 4)
                self.out = torch.nn.Linear(4, 2)
                self.drop = torch.nn.Dropout(0.5)

            def forward(self, input_ids, attention_mask, next_sentence_label, **rest):
                h = self.drop(self.embed(input_ids)) * attention_mask[..., None]
                logits = self.out(h.sum(1) / attention_mask.sum(1, keepdim=True))
                return SimpleNamespace(loss=torch.nn.functional.cross_entropy(
                    logits, next_sentence_label))

        torch.manual_seed(seed)
        return Model()


def test_the_optimizer_is_adamw_on_every_parameter(torch):
    from earlyberts.torch import reference_optimizer
    s = earlyberts.reference_training()
    model = Tiny.make(torch)
    optimizer = reference_optimizer(model)
    assert type(optimizer) is torch.optim.AdamW
    [group] = optimizer.param_groups
    assert group["params"] == list(model.parameters())
    assert (group["lr"], group["betas"], group["eps"], group["weight_decay"]) == \
        (s["peak_lr"], (s["beta_1"], s["beta_2"]), s["epsilon"], s["weight_decay"])
    assert reference_optimizer(model, peak_lr=1e-3).param_groups[0]["lr"] == 1e-3


def test_the_schedule_is_hugging_faces_and_starts_at_rate_0(torch):
    from earlyberts.torch import reference_optimizer, reference_schedule
    s = earlyberts.reference_training()
    optimizer = reference_optimizer(Tiny.make(torch))
    schedule = reference_schedule(optimizer)
    rates = []
    for _ in range(3):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates == [0.0, s["peak_lr"] / s["warmup_steps"], 2 * s["peak_lr"] / s["warmup_steps"]]
    factor = schedule.lr_lambdas[0]
    assert factor(s["warmup_steps"]) == 1.0
    assert factor(s["decay_steps"]) == pytest.approx(s["end_lr"] / s["peak_lr"], rel=1e-12)
    assert factor(s["decay_steps"] + 5) == s["end_lr"] / s["peak_lr"]
    if importlib.util.find_spec("transformers") is None:
        return
    from transformers import get_polynomial_decay_schedule_with_warmup
    for warmup in (None, 2, 0):
        ours = reference_schedule(reference_optimizer(Tiny.make(torch), peak_lr=1e-3), warmup)
        theirs = get_polynomial_decay_schedule_with_warmup(
            reference_optimizer(Tiny.make(torch), peak_lr=1e-3),
            s["warmup_steps"] if warmup is None else warmup, s["decay_steps"],
            lr_end=s["end_lr"], power=s["power"])
        for position in (0, 1, 2, 3, 9_999, 10_000, 10_001, 1_234_567, 1_999_999, 2_000_000,
                         2_000_001):
            assert ours.lr_lambdas[0](position) == theirs.lr_lambdas[0](position), position


def test_the_schedule_is_trainer_runs(torch, builds, tmp_path):
    from earlyberts.torch import reference_optimizer, reference_schedule
    run = subprocess.run(
        [trainer_binary(), "run", "--init", "random", "--config", "tiny", "--build",
         builds["keyed"], "--seed", "1", "--batch-size", "4", "--override-batch-size",
         "--micro-batch", "2", "--lr", "1e-3", "--warmup", "2", "--max-steps", "5",
         "--out", tmp_path, "--device", "cpu", "-q"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    log = [json.loads(line) for line in (tmp_path / "seed1/log.jsonl").read_text().splitlines()]
    optimizer = reference_optimizer(Tiny.make(torch), peak_lr=1e-3)
    schedule = reference_schedule(optimizer, warmup_steps=2)
    ours = []
    for _ in log:
        ours.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert ours == pytest.approx([entry["lr"] for entry in log], rel=1e-12, abs=0)
    assert ours[:3] == [0.0, 5e-4, 1e-3]


def test_a_step_averages_its_micro_batches_with_dropout_off(torch, builds):
    from earlyberts.torch import reference_optimizer, reference_schedule, reference_step
    build = earlyberts.Build(builds["keyed"])
    parts = build.step(2, batch_size=8, micro_batch=4, as_torch=True)

    model = Tiny.make(torch)
    optimizer = reference_optimizer(model, peak_lr=1e-2)
    schedule = reference_schedule(optimizer, warmup_steps=0)
    model.train()
    loss = reference_step(model, optimizer, schedule, parts)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert schedule.last_epoch == 1

    # By hand: dropout off, each micro-batch's loss / 2, one AdamW step.
    by_hand = Tiny.make(torch)
    by_hand.eval()
    hand_optimizer = torch.optim.AdamW(by_hand.parameters(), lr=1e-2, betas=(0.9, 0.999),
                                       eps=1e-8, weight_decay=0.01)
    losses = []
    for part in parts:
        part_loss = by_hand(**part).loss
        (part_loss / 2).backward()
        losses.append(part_loss.item())
    hand_optimizer.step()
    for ours, theirs in zip(model.parameters(), by_hand.parameters()):
        assert torch.equal(ours, theirs)
    assert loss == pytest.approx(sum(losses) / 2, rel=1e-6)

    # A whole batch and numpy arrays are taken too.
    numpy_batch = build.step(3, batch_size=8)
    assert isinstance(numpy_batch["input_ids"], np.ndarray)
    assert reference_step(model, optimizer, schedule, numpy_batch) > 0
    with pytest.raises(ValueError, match="no micro-batches"):
        reference_step(model, optimizer, schedule, [])


def test_a_plain_loop_needs_no_transformers(torch):
    code = (
        "import sys; sys.modules['transformers'] = None\n"
        "from earlyberts.torch import *\n"
        "import earlyberts.torch\n"
        "assert callable(reference_step) and 'ReferenceTrainer' not in dir()\n"
        "try:\n    from earlyberts.torch import ReferenceTrainer\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "earlyberts.torch.ReferenceTrainer needs transformers (import of transformers halted; "
        "None in sys.modules); install it with `pip install transformers`"]


# --- with transformers --------------------------------------------------------------------

@pytest.fixture
def transformers(torch):
    return pytest.importorskip("transformers")


def tiny_bert(transformers, torch):
    config = transformers.BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                     intermediate_size=8)
    torch.manual_seed(0)
    return transformers.BertForPreTraining(config)


def test_reference_trainer_is_the_plain_loop(transformers, torch, builds, tmp_path):
    """Three steps of 8 in micro-batches of 4 through `ReferenceTrainer` give the weights of
    three `reference_step`s, to the bit; checkpoints at the steps asked and the last one."""
    from earlyberts.torch import (ReferenceTrainer, TrainingOrder, reference_arguments,
                                  reference_optimizer, reference_schedule, reference_step)
    build = earlyberts.Build(builds["keyed"])

    model = tiny_bert(transformers, torch)
    order = TrainingOrder(build, batch_size=8, micro_batch=4, override_batch_size=True)
    args = reference_arguments(tmp_path, order, max_steps=3, peak_lr=1e-3, warmup_steps=2,
                               logging_steps=1, disable_tqdm=True)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps,
            args.max_grad_norm, args.learning_rate, args.warmup_steps) == (1, 2, 0.0, 1e-3, 2)
    trainer = ReferenceTrainer(model=model, args=args, train_dataset=order, checkpoints=[2])
    trainer.train()

    plain = tiny_bert(transformers, torch)
    optimizer = reference_optimizer(plain, peak_lr=1e-3)
    schedule = reference_schedule(optimizer, warmup_steps=2)
    losses = [reference_step(plain, optimizer, schedule,
                             build.step(step, 8, as_torch=True, micro_batch=4))
              for step in (1, 2, 3)]
    for (name, ours), theirs in zip(model.named_parameters(), plain.parameters()):
        assert torch.equal(ours, theirs), name
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["loss"] for entry in logged] == pytest.approx(losses, abs=1e-4)  # rounded
    assert [entry["learning_rate"] for entry in logged] == [0.0, 5e-4, 1e-3]
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-2",
                                                                     "checkpoint-3"]


REFUSED = [
    (dict(max_grad_norm=1.0), "max_grad_norm=1.0: the reference never clipped (0)"),
    (dict(weight_decay=0.0), "weight_decay=0.0, not 0.01"),
    (dict(adam_epsilon=1e-6), "adam_epsilon=1e-06, not 1e-08"),
    (dict(per_device_train_batch_size=2),
     "per_device_train_batch_size=2, not 1 (each item is a whole micro-batch)"),
    (dict(gradient_accumulation_steps=4),
     "gradient_accumulation_steps=4, but the order has 2 micro-batches a step"),
    (dict(warmup_steps=0.5), "warmup_steps=0.5: a number of steps, not a ratio"),
]


@pytest.mark.parametrize("change,problem", REFUSED, ids=[str(c) for c, _ in REFUSED])
def test_reference_trainer_refuses_what_would_train_otherwise(transformers, torch, builds,
                                                              tmp_path, change, problem):
    from earlyberts.torch import ReferenceTrainer, TrainingOrder, reference_arguments
    order = TrainingOrder(earlyberts.Build(builds["keyed"]), batch_size=8, micro_batch=4,
                          override_batch_size=True)
    args = reference_arguments(tmp_path, order, **change)
    with pytest.raises(ValueError) as raised:
        ReferenceTrainer(model=tiny_bert(transformers, torch), args=args, train_dataset=order)
    assert str(raised.value) == ("ReferenceTrainer would not train as the reference: "
                                 f"{problem} (reference_arguments() sets them)")
