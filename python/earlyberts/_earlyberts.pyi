"""Type stubs of the extension module (python/src/). `make test-python` checks them against
the built module (`python -m mypy.stubtest earlyberts._earlyberts`) and type-checks
python/tests/typed_usage.py against them (`mypy --strict`); python/tests/test_types.py
checks the dicts' keys and value types against what the module returns."""

from os import PathLike
from typing import Any, ClassVar, List, Literal, Optional, Sequence, Tuple, Union, final, overload

from typing_extensions import Self

from .types import (
    Batch,
    Example,
    Manifest,
    OccurrenceDict,
    TermExposure,
    TokenExposure,
    TorchBatch,
    TrainingSettings,
)

__all__ = ["BuildError", "Build", "Occurrence", "reference_training", "checkpoint_steps"]

_Path = Union[str, PathLike[str]]

class BuildError(Exception):
    """A build that cannot be read, does not verify or lacks what was asked of it; the
    message names the file and what to do."""

@final
class Occurrence:
    """Where the model saw what `Build.where` looked for."""

    @property
    def step(self) -> int: ...
    @property
    def example(self) -> int: ...
    @property
    def segment(self) -> Literal["A", "B"]: ...
    @property
    def sentence(self) -> int: ...
    @property
    def document(self) -> int: ...
    @property
    def positions(self) -> Tuple[int, int]: ...
    @property
    def masked(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
    def to_dict(self) -> OccurrenceDict:
        """The fields as a dict, the keys of `pipeline where --format jsonl`."""

@final
class Build:
    """A build directory: its examples in training order, the batch each optimizer step
    trains on, and where the model saw a sentence, a document or a piece of text."""

    def __new__(cls, path: _Path, vocab: Optional[_Path] = None) -> Self:
        """Opens the build in `path` (reads `manifest.json`); `vocab`: the vocab.txt its ids
        refer to when it is not the built-in uncased BERT vocabulary."""
    def verify(self) -> None:
        """Checks every shard's hash and counts against the manifest; raises `BuildError`
        naming the first shard that differs."""
    def __len__(self) -> int: ...
    @property
    def manifest(self) -> Manifest:
        """The build's manifest.json."""
    @property
    def seed(self) -> int:
        """The seed the build was made for."""
    @property
    def recipe(self) -> str:
        """The recipe's name."""
    @property
    def batch_size(self) -> int:
        """Examples per optimizer step: the recipe's training.batch_size, else 256."""
    def example(self, index: int) -> Example:
        """Example `index` (negative from the end): `input_ids`, `token_type_ids`,
        `mlm_positions`, `mlm_labels` (int64 arrays), `next_sentence_label` (int)."""
    def examples(self, start: int, stop: int) -> List[Example]:
        """Examples `start` to `stop` (excluded), as `example()` dicts."""
    # The batch of optimizer step `step` (from 1), padded as BertForPreTraining takes it:
    # `input_ids`, `token_type_ids`, `attention_mask`, `labels` ([B, seq], -100 where
    # unlabelled), `next_sentence_label` ([B]); numpy arrays, torch tensors with
    # `as_torch=True`; with `micro_batch`, a list of the batch's micro-batches, each padded
    # on its own.
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, as_torch: Literal[False] = False,
             micro_batch: None = None) -> Batch: ...
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, *, as_torch: Literal[True],
             micro_batch: None = None) -> TorchBatch: ...
    @overload
    def step(self, step: int, batch_size: Optional[int], as_torch: Literal[True],
             micro_batch: None = None) -> TorchBatch: ...
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, as_torch: Literal[False] = False,
             *, micro_batch: int) -> List[Batch]: ...
    @overload
    def step(self, step: int, batch_size: Optional[int], as_torch: Literal[False],
             micro_batch: int) -> List[Batch]: ...
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, *, as_torch: Literal[True],
             micro_batch: int) -> List[TorchBatch]: ...
    @overload
    def step(self, step: int, batch_size: Optional[int], as_torch: Literal[True],
             micro_batch: int) -> List[TorchBatch]: ...
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, as_torch: bool = False,
             micro_batch: Optional[int] = None
             ) -> Union[Batch, TorchBatch, List[Batch], List[TorchBatch]]: ...
    def where(self, text: Optional[str] = None, sentence: Optional[int] = None,
              document: Optional[int] = None, first: bool = False,
              until_step: Optional[int] = None,
              batch_size: Optional[int] = None) -> List[Occurrence]:
        """Where the model saw `text`, store sentence `sentence` or document `document`
        (exactly one), by step, as `pipeline where` prints it."""
    @overload
    def exposure(self, steps: Optional[Sequence[int]] = None, terms: None = None,
                 batch_size: Optional[int] = None, *,
                 as_frame: Literal[False]) -> TokenExposure: ...
    @overload
    def exposure(self, steps: Optional[Sequence[int]] = None, *, terms: Sequence[str],
                 batch_size: Optional[int] = None, as_frame: Literal[False]) -> TermExposure: ...
    @overload
    def exposure(self, steps: Optional[Sequence[int]] = None,
                 terms: Optional[Sequence[str]] = None, batch_size: Optional[int] = None,
                 as_frame: Optional[bool] = None) -> Any:
        """How often each token (or each of `terms`) had been seen and been an MLM target
        by each step (default: the EarlyBERTs checkpoint steps), as `pipeline exposure`
        counts it: a `pandas.DataFrame` when pandas is installed (or `as_frame=True`), else
        (or with `as_frame=False`) a dict of numpy arrays, `TokenExposure` or
        `TermExposure`."""
    def decode(self, index: int) -> str:
        """Example `index` as `pipeline inspect` prints it."""

def reference_training() -> TrainingSettings:
    """The reference's training settings, the values `trainer run` trains with."""

def checkpoint_steps() -> List[int]:
    """The EarlyBERTs checkpoint steps: 10, 100–1,000 by 100, 2,000–20,000 by 1,000, 40,000."""
