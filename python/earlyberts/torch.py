"""The exact training order as a PyTorch `IterableDataset`.

    from earlyberts.torch import TrainingOrder
    for batch in TrainingOrder(build, start_step=7001):   # resume after step 7,000
        loss = model(**batch).loss

Each item is the batch of one optimizer step (or, with `micro_batch`, one micro-batch of
it), as `Build.step` makes it: torch tensors under `BertForPreTraining`'s argument names.
An iterable dataset is never shuffled by a `DataLoader` or by `transformers.Trainer`; give
it to a `DataLoader` with `batch_size=None`, or to `transformers.Trainer` with
`per_device_train_batch_size=1` and `data_collator=TrainingOrder.collate`.
"""

from typing import Any, Dict, Iterator, List, Optional

import torch
from torch.utils.data import IterableDataset

from ._earlyberts import Build

__all__ = ["TrainingOrder"]


class TrainingOrder(IterableDataset):
    """The batches of optimizer steps `start_step`, `start_step + 1`, … (up to `stop_step`,
    excluded, or without end: the data wraps as the trainer wraps), each as
    `build.step(s, batch_size, as_torch=True)`. With `micro_batch`, every step's batch comes
    as its micro-batches, each padded on its own, as the reference accumulated them (use
    `gradient_accumulation_steps = batch_size // micro_batch`)."""

    def __init__(self, build: Build, start_step: int = 1, batch_size: Optional[int] = None,
                 stop_step: Optional[int] = None, micro_batch: Optional[int] = None):
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

    def __iter__(self) -> Iterator[Dict[str, torch.Tensor]]:
        step = self.start_step
        while self.stop_step is None or step < self.stop_step:
            batch = self.build.step(step, self.batch_size, as_torch=True,
                                    micro_batch=self.micro_batch)
            if self.micro_batch is None:
                yield batch
            else:
                yield from batch
            step += 1

    def __len__(self) -> int:
        if self.stop_step is None:
            raise TypeError("a TrainingOrder without stop_step has no length")
        per_step = 1 if self.micro_batch is None else self.batch_size // self.micro_batch
        return (self.stop_step - self.start_step) * per_step

    @staticmethod
    def collate(items: List[Dict[str, Any]]) -> Dict[str, Any]:
        """For `transformers.Trainer(per_device_train_batch_size=1,
        data_collator=TrainingOrder.collate)`: each item already is a batch."""
        if len(items) != 1:
            raise ValueError(f"{len(items)} batches at once: set per_device_train_batch_size=1")
        return items[0]
