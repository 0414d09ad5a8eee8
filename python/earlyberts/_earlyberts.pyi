"""Type stubs of the extension module (python/src/)."""

from os import PathLike
from typing import Any, Dict, List, Literal, Optional, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

_Int64Array = npt.NDArray[np.int64]

class BuildError(Exception):
    """A build that cannot be read, does not verify or lacks what was asked of it; the
    message names the file and what to do."""

class Occurrence:
    """Where the model saw what `Build.where` looked for."""

    step: int
    example: int
    segment: Literal["A", "B"]
    sentence: int
    document: int
    positions: Tuple[int, int]
    masked: int
    def to_dict(self) -> Dict[str, Any]:
        """The fields as a dict, the keys of `pipeline where --format jsonl`."""

class Build:
    """A build directory: its examples in training order, the batch each optimizer step
    trains on, and where the model saw a sentence, a document or a piece of text."""

    def __init__(self, path: Union[str, "PathLike[str]"], vocab: Optional[Union[str, "PathLike[str]"]] = None) -> None:
        """Opens the build in `path` (reads `manifest.json`); `vocab`: the vocab.txt its ids
        refer to when it is not the built-in uncased BERT vocabulary."""
    def verify(self) -> None:
        """Checks every shard's hash and counts against the manifest; raises `BuildError`
        naming the first shard that differs."""
    def __len__(self) -> int: ...
    @property
    def manifest(self) -> Dict[str, Any]:
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
    def example(self, index: int) -> Dict[str, Any]:
        """Example `index` (negative from the end): `input_ids`, `token_type_ids`,
        `mlm_positions`, `mlm_labels` (int64 arrays), `next_sentence_label` (int)."""
    def examples(self, start: int, stop: int) -> List[Dict[str, Any]]:
        """Examples `start` to `stop` (excluded), as `example()` dicts."""
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, as_torch: bool = False,
             micro_batch: None = None) -> Dict[str, Any]:
        """The batch of optimizer step `step` (from 1), padded as BertForPreTraining takes
        it: `input_ids`, `token_type_ids`, `attention_mask`, `labels` ([B, seq], -100 where
        unlabelled), `next_sentence_label` ([B]); torch tensors with `as_torch=True`."""
    @overload
    def step(self, step: int, batch_size: Optional[int] = None, as_torch: bool = False,
             micro_batch: int = ...) -> List[Dict[str, Any]]:
        """The same batch as its micro-batches of `micro_batch` examples, each padded on its
        own."""
    def where(self, text: Optional[str] = None, sentence: Optional[int] = None,
              document: Optional[int] = None, first: bool = False,
              until_step: Optional[int] = None, batch_size: Optional[int] = None) -> List[Occurrence]:
        """Where the model saw `text`, store sentence `sentence` or document `document`
        (exactly one), by step, as `pipeline where` prints it."""
    def decode(self, index: int) -> str:
        """Example `index` as `pipeline inspect` prints it."""
