#!/usr/bin/env python3
"""Parity between earlyberts' trainer and Hugging Face `transformers`' BertForPreTraining.

    python scripts/parity.py make-fixture trainer/tests/fixtures/parity
        Creates a small BertForPreTraining with a fixed seed and writes, for fixed inputs:
        init/{config.json, pytorch_model.bin, model.safetensors}   the initial model
        inputs.json                                                 the examples
        expected.safetensors   logits of both heads at step 0, losses, gradient norms, and
                               every parameter after 3 AdamW steps under the reference
                               schedule (warm-up shortened to 2 steps so the rate is non-zero)
        expected.json          the scalars, readable

    python scripts/parity.py check-export CHECKPOINT_DIR
        Loads a checkpoint written by the trainer with `from_pretrained`, refuses missing or
        unexpected keys, runs the examples of inputs.json through it and, when the directory
        holds `outputs.json` (the trainer's own logits, written by the Rust parity test),
        compares them (max abs difference <= 1e-4).

Needs torch and transformers (pip install torch transformers safetensors). The Rust tests in
trainer/tests/parity.rs read the committed fixture; they do not need Python.
"""

import json
import math
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForPreTraining
from transformers.optimization import get_polynomial_decay_schedule_with_warmup

SEED = 1234
CONFIG = dict(
    vocab_size=512,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    max_position_embeddings=64,
    type_vocab_size=2,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-12,
    initializer_range=0.02,
    hidden_act="gelu",
)
# The reference optimiser and schedule, with warm-up 2 and total 10 so 3 steps move.
OPTIM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
SCHEDULE = dict(num_warmup_steps=2, num_training_steps=10, lr_end=1e-7, power=1.0)
STEPS = 3


def examples():
    """Three examples of different lengths: [CLS] A [SEP] B [SEP], some positions masked."""
    g = torch.Generator().manual_seed(SEED)
    out = []
    for length, a_len, nsp in [(14, 6, 0), (9, 4, 1), (12, 7, 1)]:
        ids = torch.randint(5, 512, (length,), generator=g).tolist()
        ids[0] = 1  # stands in for [CLS]
        ids[a_len - 1] = 2  # [SEP]
        ids[length - 1] = 2
        positions = [p for p in range(1, length - 1) if p != a_len - 1 and (p * 5 + length) % 4 == 0]
        labels = [ids[p] for p in positions]
        for p in positions:
            ids[p] = 3  # stands in for [MASK]
        out.append(dict(token_ids=ids, segment_a_len=a_len, mlm_positions=positions,
                        mlm_labels=labels, nsp_label=nsp))
    return out


def tensors(batch):
    """Padded tensors as the trainer collates them (pad id 0, segment 1 from segment_a_len)."""
    seq = max(len(e["token_ids"]) for e in batch)
    n = len(batch)
    input_ids = torch.zeros((n, seq), dtype=torch.long)
    token_type_ids = torch.zeros((n, seq), dtype=torch.long)
    attention_mask = torch.zeros((n, seq), dtype=torch.long)
    labels = torch.full((n, seq), -100, dtype=torch.long)
    for b, e in enumerate(batch):
        length = len(e["token_ids"])
        input_ids[b, :length] = torch.tensor(e["token_ids"])
        token_type_ids[b, e["segment_a_len"]:length] = 1
        attention_mask[b, :length] = 1
        for p, l in zip(e["mlm_positions"], e["mlm_labels"]):
            labels[b, p] = l
    nsp = torch.tensor([e["nsp_label"] for e in batch])
    return input_ids, token_type_ids, attention_mask, labels, nsp


def losses(model, batch):
    input_ids, token_type_ids, attention_mask, labels, nsp = tensors(batch)
    out = model(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
    v = model.config.vocab_size
    mlm = torch.nn.functional.cross_entropy(out.prediction_logits.view(-1, v), labels.view(-1),
                                            ignore_index=-100)
    nsp_loss = torch.nn.functional.cross_entropy(out.seq_relationship_logits, nsp)
    mask = labels != -100
    return out, mlm, nsp_loss, mask


def make_fixture(out_dir: Path):
    torch.manual_seed(SEED)
    model = BertForPreTraining(BertConfig(**CONFIG)).float()
    model.eval()  # dropout is 0 anyway
    init = out_dir / "init"
    init.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(init, safe_serialization=True)
    # the PyTorch zip format, with the `bert.` prefix and the tied decoder stored twice
    torch.save(model.state_dict(), init / "pytorch_model.bin")
    batch = examples()
    (out_dir / "inputs.json").write_text(json.dumps(batch, indent=1) + "\n")

    expected = {}
    scalars = {}
    out, mlm, nsp_loss, mask = losses(model, batch)
    expected["mlm_logits"] = out.prediction_logits[mask].detach().contiguous()
    expected["nsp_logits"] = out.seq_relationship_logits.detach().contiguous()
    scalars["mlm_loss"] = mlm.item()
    scalars["nsp_loss"] = nsp_loss.item()
    scalars["loss"] = (mlm + nsp_loss).item()

    opt = torch.optim.AdamW(model.parameters(), **OPTIM)
    sched = get_polynomial_decay_schedule_with_warmup(opt, **SCHEDULE)
    scalars["steps"] = []
    for step in range(1, STEPS + 1):
        opt.zero_grad()
        _, mlm, nsp_loss, _ = losses(model, batch)
        loss = mlm + nsp_loss
        loss.backward()
        norm = math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in model.parameters()
                             if p.grad is not None))
        scalars["steps"].append(dict(step=step, lr=opt.param_groups[0]["lr"], loss=loss.item(),
                                     grad_norm=norm))
        opt.step()
        sched.step()
    for name, p in model.state_dict().items():
        if name.endswith("position_ids") or name.startswith("cls.predictions.decoder"):
            continue
        expected["after." + name] = p.detach().contiguous()
    save_file(expected, out_dir / "expected.safetensors", metadata={"format": "pt"})
    (out_dir / "expected.json").write_text(json.dumps(dict(
        seed=SEED, config=CONFIG, optimizer=dict(OPTIM, betas=list(OPTIM["betas"])),
        schedule=SCHEDULE, torch=torch.__version__,
        transformers=__import__("transformers").__version__, **scalars), indent=1) + "\n")
    print(f"wrote {out_dir}: loss {scalars['loss']:.6f}, "
          f"lr per step {[s['lr'] for s in scalars['steps']]}")


def check_export(checkpoint: Path):
    model, info = BertForPreTraining.from_pretrained(checkpoint, output_loading_info=True)
    missing = [k for k in info["missing_keys"] if "position_ids" not in k]
    if missing or info["unexpected_keys"] or info["mismatched_keys"]:
        sys.exit(f"{checkpoint}: loading info {info}")
    tied = model.cls.predictions.decoder.weight.data_ptr() == \
        model.bert.embeddings.word_embeddings.weight.data_ptr()
    model.eval()
    outputs = checkpoint / "outputs.json"
    fixture = Path(__file__).resolve().parent.parent / "trainer/tests/fixtures/parity/inputs.json"
    inputs = json.loads((checkpoint / "inputs.json").read_text()) if (checkpoint / "inputs.json").exists() \
        else json.loads(fixture.read_text())
    with torch.no_grad():
        out, mlm, nsp_loss, mask = losses(model, inputs)
    print(f"{checkpoint}: loaded by transformers {__import__('transformers').__version__} "
          f"(decoder tied: {tied}), loss on the fixture inputs {(mlm + nsp_loss).item():.6f}")
    if outputs.exists():
        ours = json.loads(outputs.read_text())
        theirs_mlm, theirs_nsp = out.prediction_logits[mask], out.seq_relationship_logits
        d_mlm = (theirs_mlm - torch.tensor(ours["mlm_logits"]).view_as(theirs_mlm)).abs().max().item()
        d_nsp = (theirs_nsp - torch.tensor(ours["nsp_logits"]).view_as(theirs_nsp)).abs().max().item()
        print(f"max |difference| vs the trainer: MLM logits {d_mlm:.2e}, NSP logits {d_nsp:.2e}")
        if max(d_mlm, d_nsp) > 1e-4:
            sys.exit("the outputs differ")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make-fixture", "check-export"):
        sys.exit(__doc__)
    if sys.argv[1] == "make-fixture":
        make_fixture(Path(sys.argv[2]))
    else:
        check_export(Path(sys.argv[2]))
