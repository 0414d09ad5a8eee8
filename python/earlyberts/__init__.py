"""earlyberts builds from Python: the examples of a build in training order, the batch each
optimizer step trains on, and where the model saw a sentence, a document or a piece of text.

    import earlyberts
    build = earlyberts.Build("data/builds/wikibooks-earlyberts-seed1")
    batch = build.step(7000)                     # what step 7,000 trained on, padded
    build.where(text="first surveyed in 1848", first=True)
    print(build.decode(0))

Everything is read by the Rust libraries the `pipeline` binary uses (the bindings are in
`earlyberts._earlyberts`); `earlyberts.torch.TrainingOrder` feeds a PyTorch loop in the
exact training order.
"""

from ._earlyberts import Build, BuildError, Occurrence

__all__ = ["Build", "BuildError", "Occurrence"]
