#!/usr/bin/env python3
"""The PyTorch reference for `trainer bench`: full BertForPreTraining training steps
(forward, backward, AdamW) on the same shapes, on one GPU.

    python scripts/torch_bench.py --seq 128 --micro-batch 64 --mode eager
    python scripts/torch_bench.py --lengths demo/lengths.txt --micro-batch 64 --mode compile-bf16

Modes: `eager` (f32, TF32 matmuls off), `tf32` (f32 with TF32 matmuls, PyTorch's usual
speed setting), `compile-bf16` (torch.compile + bf16 autocast). The batch is 256 sequences
per optimizer step, accumulated over micro-batches as the reference does; 15% of positions
carry MLM labels and the loss is computed the way transformers does (decoder over all
positions). Prints one JSON line with the same fields as `trainer bench`, plus peak memory.
"""

import argparse
import json
import statistics
import time

import torch
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--lengths", help="file with one sequence length per line (a real build's)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--micro-batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--mode", choices=["eager", "tf32", "compile-bf16"], default="eager")
    p.add_argument("--peak-tflops", type=float)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = a.mode != "eager"
    torch.backends.cudnn.allow_tf32 = a.mode != "eager"
    device = torch.device("cuda")
    config = BertConfig(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BertForPreTraining(config).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.01)
    step_model = torch.compile(model) if a.mode == "compile-bf16" else model
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
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for ids, mask, types, labels, nsp in mbs:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.mode == "compile-bf16"):
                out = step_model(input_ids=ids, attention_mask=mask, token_type_ids=types,
                                 labels=labels, next_sentence_label=nsp)
            (out.loss / n_micro).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        return time.perf_counter() - t0, sum(lengths)

    for k in range(a.warmup):
        step(k)
    torch.cuda.reset_peak_memory_stats()
    results = [step(a.warmup + k) for k in range(a.steps)]
    step_s = statistics.median(t for t, _ in results)
    tokens = statistics.mean(n for _, n in results)
    # The same model-FLOPs convention as `trainer bench` (MLM head on labelled positions).
    h, f, l, v = config.hidden_size, config.intermediate_size, config.num_hidden_layers, config.vocab_size
    flops = 0.0
    lengths = all_lengths[:a.batch_size] if len(all_lengths) >= a.batch_size else (all_lengths * a.batch_size)[:a.batch_size]
    for s in range(0, a.batch_size, a.micro_batch):
        ls = lengths[s:s + a.micro_batch]
        seq = max(ls)
        flops += seq * len(ls) * (6 * l * (4 * h * h + 2 * h * f) + 12 * seq * h * l)
        flops += 0.15 * sum(ls) * 6 * (h * h + h * v)
    achieved = flops / step_s / 1e12
    print(json.dumps(dict(
        framework=f"torch {torch.__version__} / transformers {__import__('transformers').__version__}",
        mode=a.mode, device=torch.cuda.get_device_name(), data=data, batch_size=a.batch_size,
        micro_batch=a.micro_batch, steps=a.steps, step_s=step_s,
        sequences_per_s=a.batch_size / step_s, tokens_per_s=tokens / step_s,
        model_tflops_per_step=flops / 1e12, achieved_tflops=achieved,
        mfu=achieved / a.peak_tflops if a.peak_tflops else None,
        peak_memory_gib=torch.cuda.max_memory_allocated() / 2**30)))


if __name__ == "__main__":
    main()
