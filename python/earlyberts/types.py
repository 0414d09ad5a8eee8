"""The shapes of the dicts `earlyberts` returns, as `TypedDict`s for type checkers.

    from earlyberts.types import Batch, Manifest
    batch: Batch = build.step(7000)                 # batch["labels"]: an int64 array
    manifest: Manifest = build.manifest             # manifest["totals"]["examples"]: int

At run time these are plain dicts; the classes only describe them (python/tests/test_types.py
checks every key and value type against what the module returns). `TorchBatch` names torch
tensors without importing torch: `earlyberts` needs only numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Literal, Optional, TypedDict

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import torch

__all__ = [
    "Int64Array", "Example", "Batch", "TorchBatch", "OccurrenceDict", "Manifest", "RecipeInfo",
    "InputFile", "VocabInfo", "Layout", "NspCounts", "Totals", "ShardEntry", "TrainingSettings",
    "UInt64Array", "TokenExposure", "TermExposure",
]

Int64Array = npt.NDArray[np.int64]
"""A numpy array of int64: token ids, segment ids, positions, labels."""


class Example(TypedDict):
    """One example as stored (`Build.example`): its tokens and what masking chose."""

    input_ids: Int64Array
    """The token ids, `[CLS] A [SEP] B [SEP]` (length n)."""
    token_type_ids: Int64Array
    """0 up to the first `[SEP]`, 1 after (length n)."""
    mlm_positions: Int64Array
    """The positions labelled for MLM, ascending."""
    mlm_labels: Int64Array
    """The original token id at each of `mlm_positions`."""
    next_sentence_label: int
    """0: B follows A; 1: B is a random sentence."""


class Batch(TypedDict):
    """A padded batch under `BertForPreTraining`'s argument names (`Build.step`), numpy."""

    input_ids: Int64Array
    """[batch, seq], padded with the vocabulary's `[PAD]` id."""
    token_type_ids: Int64Array
    """[batch, seq], 0 where padded."""
    attention_mask: Int64Array
    """[batch, seq], 1 on tokens, 0 on padding."""
    labels: Int64Array
    """[batch, seq], the original id at each MLM position, -100 elsewhere."""
    next_sentence_label: Int64Array
    """[batch]."""


class TorchBatch(TypedDict):
    """`Batch` as torch tensors (`Build.step(..., as_torch=True)`, `TrainingOrder`), sharing
    the arrays' memory."""

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor
    next_sentence_label: torch.Tensor


UInt64Array = npt.NDArray[np.uint64]
"""A numpy array of uint64: steps and counts."""


class TokenExposure(TypedDict):
    """`Build.exposure(as_frame=False)`: the long table of `pipeline exposure`, one row per
    step and token id (steps ascending, then ids 0…vocab size − 1), counts cumulative up to
    the step."""

    step: UInt64Array
    token_id: npt.NDArray[np.uint32]
    token: npt.NDArray[np.object_]
    """The token's text in the vocabulary (`##`-prefixed for a word piece)."""
    seen: UInt64Array
    """Positions holding the token in the examples' text, before masking."""
    target: UInt64Array
    """MLM targets whose label is the token."""
    masked: UInt64Array
    """Of those targets, the ones shown as `[MASK]`."""
    kept: UInt64Array
    """… shown as the token itself."""
    replaced: UInt64Array
    """… shown as another token."""


class TermExposure(TypedDict):
    """`Build.exposure(terms=…, as_frame=False)`: one row per step and term (steps
    ascending, then the terms in the order given), counts cumulative up to the step."""

    step: UInt64Array
    term: npt.NDArray[np.object_]
    tokens: npt.NDArray[np.object_]
    """The term's WordPiece tokens, space-separated."""
    seen: UInt64Array
    """Occurrences of its token sequence in the examples' text, before masking."""
    fully_masked: UInt64Array
    """Occurrences whose every token was an MLM target."""
    partly_masked: UInt64Array
    """Occurrences with some but not all of their tokens MLM targets."""
    first_step: npt.NDArray[np.int64]
    """The first step whose examples hold the term; -1 where none of the build's do (a
    DataFrame holds `<NA>` there)."""


class OccurrenceDict(TypedDict):
    """`Occurrence.to_dict()`: a line of `pipeline where --format jsonl`."""

    step: int
    example: int
    segment: Literal["A", "B"]
    sentence: int
    document: int
    positions: List[int]
    """[start, end), end excluded."""
    masked: int


class RecipeInfo(TypedDict):
    name: str
    hash: str
    """sha256 (hex) of the canonical JSON of {"name", "params"}."""
    params: Dict[str, Any]
    """Every parameter of the recipe as resolved for the build."""


class InputFile(TypedDict):
    path: str
    bytes: int
    sha256: str


class VocabInfo(TypedDict):
    sha256: str
    size: int


class Layout(TypedDict):
    examples_per_shard: int
    examples_per_block: int
    zstd_level: int


class NspCounts(TypedDict):
    is_next: int
    random_next: int


class Totals(TypedDict):
    examples: int
    tokens: int
    masked_tokens: int
    nsp: NspCounts
    payload_bytes: int


class ShardEntry(TypedDict):
    file: str
    """`shards/000000.ebs.zst`."""
    first_example: int
    examples: int
    tokens: int
    masked_tokens: int
    nsp: NspCounts
    payload_bytes: int
    hash: str
    """xxh3-128 of the uncompressed payload, 32 hex digits."""


class Manifest(TypedDict):
    """A build's `manifest.json` (`Build.manifest`; docs/FORMAT.md, "Manifest")."""

    format_version: int
    recipe: RecipeInfo
    seed: int
    inputs: List[InputFile]
    vocab: VocabInfo
    layout: Layout
    stages: Dict[str, Any]
    """What each pipeline stage reported; informative."""
    totals: Totals
    shards: List[ShardEntry]
    root_hash: str


class TrainingSettings(TypedDict):
    """How the reference trained (`earlyberts.reference_training()`), the values `trainer run`
    trains with: AdamW (PyTorch's, weight decay on every parameter), Hugging Face's
    polynomial schedule with warm-up advanced after each optimizer step (step 1 runs at rate
    0), each micro-batch's loss divided by their number, dropout off, no clipping."""

    batch_size: int
    steps: int
    peak_lr: float
    warmup_steps: int
    decay_steps: int
    """The schedule's length: the rate reaches `end_lr` here."""
    end_lr: float
    power: float
    beta_1: float
    beta_2: float
    epsilon: float
    weight_decay: float
    dropout: float
    max_grad_norm: Optional[float]
    """None: never clipped."""
