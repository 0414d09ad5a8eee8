#!/usr/bin/env python3
"""The PyTorch reference for `trainer bench`: full BertForPreTraining training steps
(forward, backward, AdamW) on the same shapes, on a GPU or on the CPU.

    python scripts/torch_bench.py --device cpu --threads 2 --seq 128 --batch-size 8 --micro-batch 8
    python scripts/torch_bench.py --seq 128 --micro-batch 64 --mode tf32
    python scripts/torch_bench.py --lengths lengths.txt --micro-batch 64 --mode compile-bf16

Modes: `eager` (f32, TF32 matmuls off), `tf32` (f32 with TF32 matmuls, PyTorch's usual GPU
speed setting), `compile-bf16` (torch.compile + bf16 autocast). Steps of `--batch-size`
sequences accumulated over micro-batches as the reference does; 15% of positions carry MLM
labels. `--mlm-head labelled` (default) runs the MLM head on labelled positions only, as the
trainer does, so both sides do the same work; `--mlm-head all` is transformers' own loss
(decoder over every position). Dropout is off on both sides. Prints one JSON line with the
fields of `trainer bench` (first step, every step, phases, last loss) plus peak memory.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForPreTraining


def batches(lengths, batch, micro, vocab, device):
    """Micro-batches of one step: padded to their longest sequence, 15% labelled."""
    g = torch.Generator().manual_seed(0)
    out = []
    for start in range(0, batch, micro):
        ls = lengths[start:start + micro]
        seq = max(ls)
        ids = torch.randint(1000, vocab, (len(ls), seq), generator=g)
        mask = torch.zeros((len(ls), seq), dtype=torch.long)
        types = torch.zeros((len(ls), seq), dtype=torch.long)
        labels = torch.full((len(ls), seq), -100, dtype=torch.long)
        for b, n in enumerate(ls):
            mask[b, :n] = 1
            types[b, n // 2:n] = 1
            pick = torch.rand(n, generator=g) < 0.15
            labels[b, :n][pick] = ids[b, :n][pick]
        nsp = torch.randint(0, 2, (len(ls),), generator=g)
        out.append([t.to(device) for t in (ids, mask, types, labels, nsp)])
    return out


def labelled_loss(model, ids, mask, types, labels, nsp):
    """MLM + NSP loss with the MLM head on labelled positions only (the trainer's work)."""
    out = model.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
    hidden, pooled = out.last_hidden_state, out.pooler_output
    rows = labels.view(-1) != -100
    mlm_logits = model.cls.predictions(hidden.view(-1, hidden.shape[-1])[rows])
    nsp_logits = model.cls.seq_relationship(pooled)
    return F.cross_entropy(mlm_logits, labels.view(-1)[rows]) + F.cross_entropy(nsp_logits, nsp)


def full_loss(model, ids, mask, types, labels, nsp):
    """transformers' own loss: the decoder over every position."""
    return model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels,
                 next_sentence_label=nsp).loss


def model_flops(config, lengths, micro):
    """The same model-FLOPs convention as `trainer bench` (MLM head on labelled positions)."""
    h, f, l, v = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.vocab_size
    flops = 0.0
    for s in range(0, len(lengths), micro):
        ls = lengths[s:s + micro]
        seq = max(ls)
        flops += seq * len(ls) * (6 * l * (4 * h * h + 2 * h * f) + 12 * seq * h * l)
        flops += 0.15 * sum(ls) * 6 * (h * h + h * v)
    return flops


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads)")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lengths", help="file with one sequence length per line (a real build's)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--micro-batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--mode", choices=["eager", "tf32", "compile-bf16"], default="eager")
    p.add_argument("--mlm-head", choices=["labelled", "all"], default="labelled")
    p.add_argument("--peak-tflops", type=float)
    a = p.parse_args()
    if a.batch_size % a.micro_batch or a.steps < 1:
        p.error("--micro-batch must divide --batch-size and --steps be at least 1")
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = a.mode != "eager"
    torch.backends.cudnn.allow_tf32 = a.mode != "eager"
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)
    config = BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForPreTraining(config).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.01)
    loss_of = labelled_loss if a.mlm_head == "labelled" else full_loss
    if a.mode == "compile-bf16":
        loss_of = torch.compile(loss_of)
    if a.lengths:
        all_lengths = [int(x) for x in open(a.lengths).read().split()]
        data = "lengths " + a.lengths
    else:
        all_lengths = [a.seq] * a.batch_size
        data = f"fixed {a.seq} tokens"
    n_micro = a.batch_size // a.micro_batch

    def step(k):
        start = (k * a.batch_size) % len(all_lengths)
        lengths = (all_lengths[start:] + all_lengths)[:a.batch_size]
        mbs = batches(lengths, a.batch_size, a.micro_batch, config.vocab_size, device)
        phases = dict(forward_s=0.0, backward_s=0.0, optimizer_s=0.0)
        sync()
        t0 = last = time.perf_counter()

        def mark(phase):
            nonlocal last
            sync()
            now = time.perf_counter()
            phases[phase] += now - last
            last = now

        total = 0.0
        for mb in mbs:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=a.mode == "compile-bf16"):
                loss = loss_of(model, *mb) / n_micro
            mark("forward_s")
            loss.backward()
            total += loss.detach()
            mark("backward_s")
        opt.step()
        opt.zero_grad(set_to_none=True)
        mark("optimizer_s")
        return time.perf_counter() - t0, sum(lengths), lengths, phases, float(total)

    runs = [step(k) for k in range(a.warmup + a.steps)]
    timed = runs[a.warmup:]
    step_s = statistics.median(t for t, *_ in timed)
    tokens = statistics.mean(n for _, n, *_ in timed)
    flops = statistics.mean(model_flops(config, ls, a.micro_batch) for _, _, ls, *_ in timed)
    achieved = flops / step_s / 1e12
    last_loss = runs[-1][4]
    if last_loss != last_loss or abs(last_loss) == float("inf"):
        raise SystemExit(f"torch_bench: the loss after {len(runs)} steps is {last_loss}")
    print(json.dumps(dict(
        framework=f"torch {torch.__version__} / transformers {__import__('transformers').__version__}",
        mode=a.mode, mlm_head=a.mlm_head,
        device=torch.cuda.get_device_name() if cuda else f"cpu ({torch.get_num_threads()} threads)",
        data=data, batch_size=a.batch_size, micro_batch=a.micro_batch, steps=a.steps,
        first_step_s=runs[0][0], step_s=step_s, step_times_s=[t for t, *_ in timed],
        phases={k: statistics.median(r[3][k] for r in timed) for k in timed[0][3]},
        last_loss=last_loss, sequences_per_s=a.batch_size / step_s, tokens_per_s=tokens / step_s,
        model_tflops_per_step=flops / 1e12, achieved_tflops=achieved,
        mfu=achieved / a.peak_tflops if a.peak_tflops else None,
        peak_memory_gib=torch.cuda.max_memory_allocated() / 2**30 if cuda else None)))


if __name__ == "__main__":
    main()
