"""`transformers.Trainer` as `trainer run` trains (`earlyberts.torch` loads this module on first
use of these names: only here is transformers needed).

Checked by scripts/python_replay.py: a few steps through `ReferenceTrainer` replay `exact`
against `trainer run` from the same initial weights (`trainer replay`). Not for mixed
precision (fp16/bf16), DeepSpeed or several devices: the reference trained in float32 on one.
"""

import os
from typing import Any, Iterable, Optional, Union

import torch
from transformers import Trainer, TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ._earlyberts import checkpoint_steps, reference_training
from .torch import TrainingOrder, dropout_off, reference_optimizer, reference_schedule

__all__ = ["ReferenceTrainer", "reference_arguments", "CheckpointSteps"]


def reference_arguments(output_dir: Union[str, "os.PathLike[str]"], order: TrainingOrder, *,
                        max_steps: Optional[int] = None, peak_lr: Optional[float] = None,
                        warmup_steps: Optional[int] = None, **more: Any) -> TrainingArguments:
    """`TrainingArguments` for `ReferenceTrainer` on `order`: one item (a whole micro-batch)
    per device batch, `gradient_accumulation_steps` = the order's micro-batches per step,
    the reference's steps, peak rate and warm-up (`max_steps`, `peak_lr`, `warmup_steps`
    override them, e.g. for a short run), its AdamW betas, epsilon and weight decay, no
    clipping (`max_grad_norm=0`), no reporting to services, no saving by Trainer's own
    strategy (`ReferenceTrainer` saves at the EarlyBERTs checkpoint steps). `more`: any
    other `TrainingArguments` field (logging_steps, dataloader options, …)."""
    s = reference_training()
    values: dict[str, Any] = dict(
        output_dir=os.fspath(output_dir),
        per_device_train_batch_size=1,
        gradient_accumulation_steps=order.micro_batches_per_step,
        max_steps=s["steps"] if max_steps is None else max_steps,
        learning_rate=s["peak_lr"] if peak_lr is None else peak_lr,
        warmup_steps=s["warmup_steps"] if warmup_steps is None else warmup_steps,
        adam_beta1=s["beta_1"],
        adam_beta2=s["beta_2"],
        adam_epsilon=s["epsilon"],
        weight_decay=s["weight_decay"],
        # 0, not None: Trainer compares it with 0.
        max_grad_norm=0.0 if s["max_grad_norm"] is None else s["max_grad_norm"],
        save_strategy="no",
        report_to="none",
    )
    values.update(more)
    return TrainingArguments(**values)


class CheckpointSteps(TrainerCallback):
    """Saves a checkpoint (Trainer's `OUTPUT_DIR/checkpoint-K`) after each step of `steps`
    (default the EarlyBERTs steps, `earlyberts.checkpoint_steps()`) and after the last step,
    as `trainer run --checkpoints` does."""

    def __init__(self, steps: Optional[Iterable[int]] = None):
        self.steps = frozenset(checkpoint_steps() if steps is None else steps)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> TrainerControl:
        if state.global_step in self.steps or state.global_step == state.max_steps:
            control.should_save = True
        return control


class ReferenceTrainer(Trainer):
    """`transformers.Trainer` training as the reference did (`trainer run`): each micro-batch
    in evaluation mode (dropout off), its loss divided by `gradient_accumulation_steps` and
    back-propagated as it is, whatever this transformers version does with a loss under
    accumulation (some leave it unscaled for a model whose forward takes `**kwargs`, summing
    the micro-batches' gradients); AdamW on every parameter and the reference's schedule,
    from the arguments' rate, warm-up, betas, epsilon and weight decay
    (`reference_arguments`), decaying over the reference's decay steps; no clipping.
    `data_collator` defaults to `TrainingOrder.collate`; `checkpoints`: the steps to save at
    (default the EarlyBERTs ones; the last step is always saved). Arguments that would train
    otherwise (clipping, other AdamW values, mixed precision, DeepSpeed, several devices, a
    device batch of more than one item, an accumulation that is not the order's) are refused
    before training."""

    optimizer: Optional[torch.optim.Optimizer]
    lr_scheduler: Optional[torch.optim.lr_scheduler.LRScheduler]

    def __init__(self, *args: Any, checkpoints: Optional[Iterable[int]] = None, **kwargs: Any):
        if len(args) < 3 and kwargs.get("data_collator") is None:
            kwargs["data_collator"] = TrainingOrder.collate
        super().__init__(*args, **kwargs)
        problems = self._unlike_the_reference()
        if problems:
            raise ValueError("ReferenceTrainer would not train as the reference: "
                             + "; ".join(problems) + " (reference_arguments() sets them)")
        self.add_callback(CheckpointSteps(checkpoints))

    def _unlike_the_reference(self) -> list[str]:
        a, s = self.args, reference_training()
        problems = []
        if a.per_device_train_batch_size != 1:
            problems.append(f"per_device_train_batch_size={a.per_device_train_batch_size}, not 1 "
                            "(each item is a whole micro-batch)")
        for name, value in (("weight_decay", s["weight_decay"]), ("adam_beta1", s["beta_1"]),
                            ("adam_beta2", s["beta_2"]), ("adam_epsilon", s["epsilon"])):
            if getattr(a, name) != value:
                problems.append(f"{name}={getattr(a, name)}, not {value}")
        if s["max_grad_norm"] is None and a.max_grad_norm:
            problems.append(f"max_grad_norm={a.max_grad_norm}: the reference never clipped (0)")
        if a.warmup_steps != int(a.warmup_steps):
            problems.append(f"warmup_steps={a.warmup_steps}: a number of steps, not a ratio")
        if a.fp16 or a.bf16:
            problems.append("mixed precision (fp16/bf16): the reference trained in float32")
        if getattr(a, "deepspeed", None):
            problems.append("DeepSpeed")
        if a.world_size > 1 or a.n_gpu > 1:
            problems.append(f"{max(a.world_size, a.n_gpu)} devices: the reference trained on one")
        order = self.train_dataset
        if isinstance(order, TrainingOrder) and \
                a.gradient_accumulation_steps != order.micro_batches_per_step:
            problems.append(f"gradient_accumulation_steps={a.gradient_accumulation_steps}, but the "
                            f"order has {order.micro_batches_per_step} micro-batches a step")
        return problems

    def create_optimizer(self, model: Optional[torch.nn.Module] = None) -> torch.optim.Optimizer:
        if self.optimizer is None:
            self.optimizer = reference_optimizer(self.model if model is None else model,
                                                 peak_lr=self.args.learning_rate)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int,
                         optimizer: Optional[torch.optim.Optimizer] = None
                         ) -> torch.optim.lr_scheduler.LRScheduler:
        if self.lr_scheduler is None:
            optimizer = self.optimizer if optimizer is None else optimizer
            if optimizer is None:
                raise RuntimeError("create_scheduler before create_optimizer")
            self.lr_scheduler = reference_schedule(optimizer,
                                                   warmup_steps=int(self.args.warmup_steps))
            self._created_lr_scheduler = True
        return self.lr_scheduler

    def training_step(self, model: torch.nn.Module, inputs: Any,
                      num_items_in_batch: Any = None) -> torch.Tensor:
        dropout_off(model)  # Trainer sets training mode before every step
        inputs = self._prepare_inputs(inputs)
        loss = model(**inputs).loss / self.args.gradient_accumulation_steps
        # Not accelerator.backward: some transformers versions divide by the accumulation
        # there again (4.34, 4.46.0–4.46.1).
        loss.backward()
        detached: torch.Tensor = loss.detach()
        return detached
