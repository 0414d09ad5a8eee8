"""Training from PyTorch as `trainer run` trains: the exact order, and the reference's settings.

    from earlyberts.torch import TrainingOrder
    for batch in TrainingOrder(build, start_step=7001):   # resume after step 7,000
        loss = model(**batch).loss

Each item of a `TrainingOrder` is the batch of one optimizer step (or, with `micro_batch`,
one micro-batch of it), as `Build.step` makes it: torch tensors under `BertForPreTraining`'s
argument names. An iterable dataset is never shuffled by a `DataLoader` or by
`transformers.Trainer`; give it to a `DataLoader` with `batch_size=None`, or to
`ReferenceTrainer`.

The reference's training settings (`earlyberts.reference_training()`, the values `trainer
run` trains with; none is repeated here) for a plain loop:

    optimizer = reference_optimizer(model)          # AdamW, weight decay on every parameter
    schedule = reference_schedule(optimizer)        # warm-up and polynomial decay; step 1 at rate 0
    for step in range(1, 40_001):
        reference_step(model, optimizer, schedule, build.step(step, micro_batch=32, as_torch=True))

and for `transformers.Trainer` (transformers is imported on first use of these):

    order = TrainingOrder(build, micro_batch=64)
    ReferenceTrainer(model=model, args=reference_arguments("runs/hf", order),
                     train_dataset=order).train()

What differs from a plain `Trainer`: dropout off (the model in evaluation mode, as the
reference loaded it), each micro-batch's loss divided by the number of micro-batches before
`backward` (whatever a transformers version does with the loss under gradient accumulation),
no gradient clipping, AdamW with weight decay on every parameter (biases and LayerNorm too),
and the schedule's decay over the reference's 2,000,000 steps, not over `max_steps`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Iterator, List, Mapping, Optional, Sequence, Union

import torch
from torch.utils.data import IterableDataset

from ._earlyberts import Build, reference_training
from .types import TorchBatch

# ReferenceTrainer, reference_arguments and CheckpointSteps are defined in
# earlyberts/_trainer.py, which imports transformers: loaded on first use (`__getattr__`), so
# that a plain PyTorch loop needs no transformers (and `import *` leaves them out).
if TYPE_CHECKING:
    from ._trainer import CheckpointSteps as CheckpointSteps
    from ._trainer import ReferenceTrainer as ReferenceTrainer
    from ._trainer import reference_arguments as reference_arguments

__all__ = [
    "TrainingOrder", "reference_optimizer", "reference_schedule", "reference_step", "dropout_off",
]

_NEED_TRANSFORMERS = ("ReferenceTrainer", "reference_arguments", "CheckpointSteps")


def __getattr__(name: str) -> Any:
    if name in _NEED_TRANSFORMERS:
        try:
            from . import _trainer
        except ImportError as e:
            raise ImportError(f"earlyberts.torch.{name} needs transformers ({e}); "
                              "install it with `pip install transformers`") from e
        return getattr(_trainer, name)
    raise AttributeError(f"module 'earlyberts.torch' has no attribute '{name}'")


class TrainingOrder(IterableDataset[TorchBatch]):
    """The batches of optimizer steps `start_step`, `start_step + 1`, … (up to `stop_step`,
    excluded, or without end: the data wraps as the trainer wraps), each as
    `build.step(s, batch_size, as_torch=True)`. With `micro_batch`, every step's batch comes
    as its micro-batches, each padded on its own, as the reference accumulated them (use
    `gradient_accumulation_steps = batch_size // micro_batch`, as `reference_arguments`
    does). `batch_size` defaults to the build's (its recipe's `training.batch_size`); another
    is refused unless `override_batch_size` (then step `s` is not the recipe's step `s`), as
    `trainer run --batch-size N --override-batch-size`."""

    def __init__(self, build: Build, start_step: int = 1, batch_size: Optional[int] = None,
                 stop_step: Optional[int] = None, micro_batch: Optional[int] = None,
                 override_batch_size: bool = False):
        if batch_size is not None and batch_size != build.batch_size and not override_batch_size:
            raise ValueError(f"batch_size={batch_size} differs from the {build.batch_size} examples "
                             "a step that the build was made for (its recipe's "
                             "training.batch_size): drop it, or pass override_batch_size=True")
        if start_step < 1:
            raise ValueError(f"start_step={start_step}: steps are numbered from 1")
        if stop_step is not None and stop_step < start_step:
            raise ValueError(f"stop_step={stop_step} is before start_step={start_step}")
        self.build = build
        self.start_step = start_step
        self.stop_step = stop_step
        self.batch_size = build.batch_size if batch_size is None else batch_size
        self.micro_batch = micro_batch
        # Fail here, not in the middle of a run, on a bad batch or micro-batch size.
        build.step(start_step, self.batch_size, micro_batch=micro_batch)

    @property
    def micro_batches_per_step(self) -> int:
        """How many items make one optimizer step: `gradient_accumulation_steps`."""
        return 1 if self.micro_batch is None else self.batch_size // self.micro_batch

    def __iter__(self) -> Iterator[TorchBatch]:
        step = self.start_step
        while self.stop_step is None or step < self.stop_step:
            if self.micro_batch is None:
                yield self.build.step(step, self.batch_size, as_torch=True)
            else:
                yield from self.build.step(step, self.batch_size, as_torch=True,
                                           micro_batch=self.micro_batch)
            step += 1

    def __len__(self) -> int:
        if self.stop_step is None:
            raise TypeError("a TrainingOrder without stop_step has no length")
        return (self.stop_step - self.start_step) * self.micro_batches_per_step

    @staticmethod
    def collate(items: List[TorchBatch]) -> TorchBatch:
        """For `transformers.Trainer(per_device_train_batch_size=1,
        data_collator=TrainingOrder.collate)`: each item already is a batch."""
        if len(items) != 1:
            raise ValueError(f"{len(items)} batches at once: set per_device_train_batch_size=1")
        return items[0]


def reference_optimizer(model: torch.nn.Module,
                        peak_lr: Optional[float] = None) -> torch.optim.AdamW:
    """PyTorch's AdamW with the reference's betas, epsilon and weight decay, on every
    parameter of `model` (biases and LayerNorm included, as the reference); its rate is the
    schedule's peak (`peak_lr`, default the reference's). Make it after `model.to(device)`."""
    s = reference_training()
    return torch.optim.AdamW(model.parameters(), lr=s["peak_lr"] if peak_lr is None else peak_lr,
                             betas=(s["beta_1"], s["beta_2"]), eps=s["epsilon"],
                             weight_decay=s["weight_decay"])


def _polynomial_rate(step: int, *, warmup_steps: int, decay_steps: int, end_lr: float,
                     power: float, peak_lr: float) -> float:
    """The factor of the peak rate at schedule position `step`: Hugging Face's
    `get_polynomial_decay_schedule_with_warmup`, operation for operation (the same floats)."""
    if step < warmup_steps:
        return float(step) / float(max(1, warmup_steps))
    if step > decay_steps:
        return end_lr / peak_lr
    remaining = 1 - (step - warmup_steps) / (decay_steps - warmup_steps)
    decayed: float = (peak_lr - end_lr) * remaining**power + end_lr
    return decayed / peak_lr


def reference_schedule(optimizer: torch.optim.Optimizer,
                       warmup_steps: Optional[int] = None) -> torch.optim.lr_scheduler.LambdaLR:
    """The reference's schedule on `optimizer` (whose rate is the peak): linear warm-up over
    `warmup_steps` (default the reference's), then polynomial decay to the reference's end
    rate at its decay steps, as Hugging Face's `get_polynomial_decay_schedule_with_warmup`
    computes it. Call `step()` after each optimizer step: optimizer step 1 runs at rate 0."""
    s = reference_training()
    peak = optimizer.defaults["lr"]
    if not peak > s["end_lr"]:
        raise ValueError(f"the peak rate ({peak}) must be above the end rate ({s['end_lr']})")
    rate = functools.partial(
        _polynomial_rate, warmup_steps=s["warmup_steps"] if warmup_steps is None else warmup_steps,
        decay_steps=s["decay_steps"], end_lr=s["end_lr"], power=s["power"], peak_lr=peak)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, rate)


def dropout_off(model: torch.nn.Module) -> None:
    """The reference's training mode: it trained the model as `from_pretrained` loads it, in
    evaluation mode (dropout off, `reference_training()["dropout"] == 0`)."""
    dropout = reference_training()["dropout"]
    if dropout != 0.0:
        raise NotImplementedError(f"reference dropout {dropout}: only 0 (evaluation mode) is done")
    model.eval()


_Batch = Mapping[str, Any]


def reference_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   schedule: torch.optim.lr_scheduler.LRScheduler,
                   micro_batches: Union[_Batch, Sequence[_Batch]]) -> float:
    """One optimizer step as the reference's: dropout off, each micro-batch's loss divided by
    the number of micro-batches before `backward` (so the gradient is their mean), no
    clipping, `optimizer.step()`, `schedule.step()`, gradients cleared. `micro_batches`: the
    step's micro-batches (`build.step(s, micro_batch=m, as_torch=True)`) or its whole batch
    (`build.step(s, as_torch=True)`); numpy arrays or tensors, moved to the model's device.
    Returns the step's loss (the mean of the micro-batches' losses)."""
    batches = [micro_batches] if isinstance(micro_batches, Mapping) else list(micro_batches)
    if not batches:
        raise ValueError("a step of no micro-batches")
    dropout_off(model)
    device = next(model.parameters()).device
    optimizer.zero_grad(set_to_none=True)
    total = torch.zeros((), device=device)
    for batch in batches:
        inputs = {name: torch.as_tensor(value, device=device) for name, value in batch.items()}
        loss = model(**inputs).loss / len(batches)
        loss.backward()
        total += loss.detach()
    optimizer.step()
    schedule.step()
    optimizer.zero_grad(set_to_none=True)
    return float(total.item())
