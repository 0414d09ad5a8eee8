"""Every call of `earlyberts` as a user writes it, with the types the stubs promise.

`make test-python` type-checks this file with `mypy --strict` against the stubs
(earlyberts/_earlyberts.pyi, earlyberts/types.py): each `assert_type` fails there when a
stub's type changes. test_types.py runs it on a real build, and checks there that every dict
has exactly the keys and value types its TypedDict names, so a stub that promises what the
module does not do fails one or the other. Where torch is not installed, mypy sees its types
as Any (python/pyproject.toml), and the torch parts do not run.
"""

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, List, Literal, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

import earlyberts
from earlyberts import Build, BuildError, Occurrence
from earlyberts.types import (
    Batch,
    Example,
    Int64Array,
    InputFile,
    Manifest,
    OccurrenceDict,
    ShardEntry,
    TermExposure,
    TokenExposure,
    TorchBatch,
    TrainingSettings,
    UInt64Array,
)

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:
    def assert_type(value, _type):
        return value


def use_build(path: Path) -> Build:
    """Every call of `Build` and of the module's functions; returns the build."""
    build = earlyberts.Build(path)
    assert_type(earlyberts.Build(str(path), vocab=None), Build)
    assert_type(build.verify(), None)
    assert_type(len(build), int)
    assert_type(build.seed, int)
    assert_type(build.recipe, str)
    assert_type(build.batch_size, int)

    manifest = assert_type(build.manifest, Manifest)
    assert_type(manifest["format_version"], int)
    assert_type(manifest["recipe"]["name"], str)
    assert_type(manifest["recipe"]["params"]["training"], Any)
    assert_type(manifest["inputs"], List[InputFile])
    assert_type(manifest["inputs"][0]["bytes"], int)
    assert_type(manifest["vocab"]["size"], int)
    assert_type(manifest["layout"]["examples_per_shard"], int)
    assert_type(manifest["totals"]["nsp"]["random_next"], int)
    shard = assert_type(manifest["shards"][0], ShardEntry)
    assert_type(shard["hash"], str)
    assert_type(manifest["root_hash"], str)

    example = assert_type(build.example(0), Example)
    assert_type(example["input_ids"], npt.NDArray[np.int64])
    assert_type(example["mlm_labels"], Int64Array)
    assert_type(example["next_sentence_label"], int)
    assert_type(build.examples(0, 2), List[Example])

    batch = assert_type(build.step(1), Batch)
    assert_type(batch["labels"], Int64Array)
    assert_type(build.step(1, 8), Batch)
    assert_type(build.step(1, batch_size=8, as_torch=False), Batch)
    assert_type(build.step(1, 8, False), Batch)
    assert_type(build.step(1, batch_size=8, micro_batch=4), List[Batch])
    assert_type(build.step(1, 8, False, 4), List[Batch])
    flag: bool = False
    assert_type(build.step(1, 8, as_torch=flag),
                Union[Batch, TorchBatch, List[Batch], List[TorchBatch]])

    hits = assert_type(build.where(text="the", first=True, until_step=3, batch_size=4),
                       List[Occurrence])
    assert_type(build.where(sentence=1), List[Occurrence])
    assert_type(build.where(document=0), List[Occurrence])
    hit = hits[0]
    assert_type(hit.step, int)
    assert_type(hit.example, int)
    assert_type(hit.segment, Literal["A", "B"])
    assert_type(hit.sentence, int)
    assert_type(hit.document, int)
    assert_type(hit.positions, Tuple[int, int])
    assert_type(hit.masked, int)
    assert_type(hit.to_dict(), OccurrenceDict)
    assert_type(build.decode(0), str)
    tokens = assert_type(build.exposure(steps=[10, 100], batch_size=8, as_frame=False),
                         TokenExposure)
    assert_type(tokens["seen"], UInt64Array)
    assert_type(tokens["token"], npt.NDArray[np.object_])
    terms = assert_type(build.exposure(terms=["the lake"], as_frame=False), TermExposure)
    assert_type(terms["first_step"], npt.NDArray[np.int64])
    assert_type(build.exposure(), Any)

    settings = assert_type(earlyberts.reference_training(), TrainingSettings)
    assert_type(settings["peak_lr"], float)
    assert_type(settings["warmup_steps"], int)
    assert_type(settings["max_grad_norm"], Optional[float])
    assert_type(earlyberts.checkpoint_steps(), List[int])
    try:
        earlyberts.Build(path / "nowhere")
    except BuildError as e:
        assert_type(str(e), str)
    return build


def use_torch(path: Path) -> None:
    """The torch side: tensors from `Build.step`, `TrainingOrder`, the plain-loop pieces."""
    import torch

    from earlyberts.torch import (
        TrainingOrder,
        dropout_off,
        reference_optimizer,
        reference_schedule,
        reference_step,
    )

    build = earlyberts.Build(path)
    batch = assert_type(build.step(1, as_torch=True), TorchBatch)
    assert_type(batch["input_ids"], torch.Tensor)
    assert_type(build.step(1, 8, True), TorchBatch)
    assert_type(build.step(1, batch_size=8, as_torch=True, micro_batch=4), List[TorchBatch])
    assert_type(build.step(1, 8, True, 4), List[TorchBatch])

    order = TrainingOrder(build, start_step=2, batch_size=8, stop_step=4, micro_batch=4,
                          override_batch_size=True)
    assert_type(order.micro_batches_per_step, int)
    assert_type(len(order), int)
    first = assert_type(next(iter(order)), TorchBatch)
    assert_type(TrainingOrder.collate([first]), TorchBatch)

    class Tiny(torch.nn.Module):
        """What `reference_step` needs of a model: a forward taking the batch, with `.loss`."""

        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(30522, 2)

        def forward(self, input_ids: torch.Tensor, **rest: torch.Tensor) -> SimpleNamespace:
            return SimpleNamespace(loss=self.embed(input_ids).mean())

    model = Tiny()
    optimizer = assert_type(reference_optimizer(model, peak_lr=1e-3), torch.optim.AdamW)
    schedule = assert_type(reference_schedule(optimizer, warmup_steps=2),
                           torch.optim.lr_scheduler.LambdaLR)
    assert_type(dropout_off(model), None)
    assert_type(reference_step(model, optimizer, schedule, build.step(1, 8, True, 4)), float)
    assert_type(reference_step(model, optimizer, schedule, build.step(2, 8, True)), float)
    assert_type(reference_step(model, optimizer, schedule, build.step(3, 8)), float)


def use_trainer(path: Path, out: Path) -> None:
    """`ReferenceTrainer`, `reference_arguments`, `CheckpointSteps` (transformers)."""
    from transformers import BertConfig, BertForPreTraining, TrainingArguments

    from earlyberts.torch import (
        CheckpointSteps,
        ReferenceTrainer,
        TrainingOrder,
        reference_arguments,
    )

    build = earlyberts.Build(path)
    order = TrainingOrder(build, batch_size=8, micro_batch=4, override_batch_size=True)
    args = assert_type(reference_arguments(out, order, max_steps=1, peak_lr=1e-3, warmup_steps=2,
                                           logging_steps=1), TrainingArguments)
    model = BertForPreTraining(BertConfig(hidden_size=8, num_hidden_layers=1,
                                          num_attention_heads=1, intermediate_size=8))
    trainer = ReferenceTrainer(model=model, args=args, train_dataset=order, checkpoints=[])
    assert_type(trainer, ReferenceTrainer)
    assert_type(CheckpointSteps([10, 100]), CheckpointSteps)
