"""earlyberts builds from Python: the examples of a build in training order, the batch each
optimizer step trains on, where the model saw a sentence, a document or a piece of text, and
how the reference trained on them.

    import earlyberts
    build = earlyberts.Build("data/builds/wikibooks-earlyberts-seed1")
    batch = build.step(7000)                     # what step 7,000 trained on, padded
    build.where(text="first surveyed in 1848", first=True)
    print(build.decode(0))
    earlyberts.reference_training()["peak_lr"]   # 1e-4, as `trainer run` trains

Everything is read by the Rust libraries the `pipeline` binary uses (the bindings are in
`earlyberts._earlyberts`); `earlyberts.torch` trains on it from PyTorch or
`transformers.Trainer` in the exact order and with the reference's settings;
`earlyberts.types` describes the dicts for type checkers.
"""

from ._earlyberts import Build, BuildError, Occurrence, checkpoint_steps, reference_training
from .types import Batch, Example, Manifest, OccurrenceDict, TorchBatch, TrainingSettings

__all__ = [
    "Build", "BuildError", "Occurrence", "reference_training", "checkpoint_steps",
    "Batch", "Example", "Manifest", "OccurrenceDict", "TorchBatch", "TrainingSettings",
]
