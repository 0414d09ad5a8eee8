"""Every call of `earlyberts.Build` against the `pipeline` binary's output on the same
build, for both recipe kinds; bad input raises an exception with the one-line message."""

import numpy as np
import pytest

import earlyberts
from conftest import REPO


def cli_example(cli, build, index):
    [e] = cli.jsonl("inspect", build, "--examples", index, "--format", "jsonl")
    return e


def assert_same_example(ours, theirs):
    assert ours["input_ids"].dtype == np.int64
    assert ours["input_ids"].tolist() == theirs["token_ids"]
    assert ours["token_type_ids"].tolist() == theirs["segment_ids"]
    assert ours["mlm_positions"].tolist() == theirs["mlm_positions"]
    assert ours["mlm_labels"].tolist() == theirs["mlm_labels"]
    assert ours["next_sentence_label"] == theirs["nsp_label"]


def test_the_manifest_and_its_fields(builds, kind):
    build = earlyberts.Build(builds[kind])
    build.verify()
    manifest = build.manifest
    assert len(build) == manifest["totals"]["examples"] > 100
    assert build.seed == manifest["seed"] == 1
    assert build.recipe == manifest["recipe"]["name"]
    assert build.recipe == {"keyed": "earlyberts-keyed", "reference": "earlyberts"}[kind]
    assert build.batch_size == manifest["recipe"]["params"]["training"]["batch_size"] == 256
    assert str(builds[kind]) in repr(build)


def test_examples_are_the_clis(cli, builds, kind):
    build = earlyberts.Build(builds[kind])
    everything = cli.jsonl("inspect", builds[kind], "--examples", f"0..{len(build)}",
                           "--format", "jsonl")
    ours = build.examples(0, len(build))
    assert len(ours) == len(everything) == len(build)
    for mine, theirs in zip(ours, everything):
        assert_same_example(mine, theirs)
    for index in (0, 17, len(build) - 1):
        assert_same_example(build.example(index), everything[index])
    assert_same_example(build.example(-1), everything[-1])
    assert build.examples(5, 5) == []


def padded(examples):
    """What BertForPreTraining takes, written out from the CLI's examples independently."""
    seq = max(len(e["token_ids"]) for e in examples)
    out = {k: np.zeros((len(examples), seq), np.int64)
           for k in ("input_ids", "token_type_ids", "attention_mask")}
    out["labels"] = np.full((len(examples), seq), -100, np.int64)
    for row, e in enumerate(examples):
        n = len(e["token_ids"])
        out["input_ids"][row, :n] = e["token_ids"]
        out["token_type_ids"][row, :n] = e["segment_ids"]
        out["attention_mask"][row, :n] = 1
        out["labels"][row, e["mlm_positions"]] = e["mlm_labels"]
    out["next_sentence_label"] = np.array([e["nsp_label"] for e in examples], np.int64)
    return out


@pytest.mark.parametrize("batch_size", [1, 7, 32, 256])
def test_steps_are_the_clis_and_wrap_as_the_trainer(cli, builds, kind, batch_size):
    build = earlyberts.Build(builds[kind])
    total = len(build)
    last = -(-total // batch_size) + 1  # one step into the second pass
    for step in sorted({1, 2, last - 1, last}):
        theirs = cli.jsonl("inspect", builds[kind], "--step", step, "--batch-size", batch_size,
                           "--format", "jsonl")
        indices = [(batch_size * (step - 1) + k) % total for k in range(batch_size)]
        assert [e["index"] for e in theirs] == indices
        ours = build.step(step, batch_size=batch_size)
        expected = padded(theirs)
        assert set(ours) == set(expected)
        for key, value in expected.items():
            assert ours[key].dtype == np.int64 and ours[key].tolist() == value.tolist(), key
    # Step 1 is examples 0..B (the recipe's batch size by default).
    first = build.step(1)
    assert first["input_ids"].shape[0] == 256
    assert first["input_ids"][0].tolist()[: len(build.example(0)["input_ids"])] == \
        build.example(0)["input_ids"].tolist()


def test_micro_batches_are_the_steps_batch_padded_piecewise(builds, kind):
    build = earlyberts.Build(builds[kind])
    whole = build.step(3, batch_size=12)
    parts = build.step(3, batch_size=12, micro_batch=4)
    assert len(parts) == 3
    for k, part in enumerate(parts):
        seq = part["input_ids"].shape[1]
        assert seq == part["attention_mask"].sum(axis=1).max()
        for key in ("input_ids", "token_type_ids", "attention_mask", "labels"):
            assert part[key].tolist() == whole[key][4 * k:4 * k + 4, :seq].tolist()
        assert (whole["attention_mask"][4 * k:4 * k + 4, seq:] == 0).all()


def test_where_is_the_clis(cli, builds, kind):
    build = earlyberts.Build(builds[kind])
    queries = [
        (dict(text="the fictional province"), ["--text", "the fictional province"]),
        (dict(sentence=3), ["--sentence", 3]),
        (dict(document=1), ["--document", 1]),
        (dict(document=0, first=True), ["--document", 0, "--first"]),
        (dict(sentence=2, until_step=40, batch_size=8),
         ["--sentence", 2, "--until-step", 40, "--batch-size", 8]),
        (dict(text="the", first=True, batch_size=4), ["--text", "the", "--first", "--batch-size", 4]),
    ]
    for kwargs, flags in queries:
        theirs = cli.jsonl("where", builds[kind], *flags, "--format", "jsonl")
        ours = build.where(**kwargs)
        assert theirs, flags
        assert [o.to_dict() for o in ours] == theirs, flags
        first = ours[0]
        assert (first.step, first.example, first.segment, first.positions) == (
            theirs[0]["step"], theirs[0]["example"], theirs[0]["segment"],
            tuple(theirs[0]["positions"]))
    assert build.where(text="zyzzyva quixotic xylophone") == []


def test_decode_is_inspects_text(cli, builds, kind):
    build = earlyberts.Build(builds[kind])
    for index in (0, 9, len(build) - 1):
        theirs = cli.run("inspect", builds[kind], "--examples", index).stdout.rstrip("\n")
        assert build.decode(index) == theirs
    assert "[MASK](" in build.decode(0) or "(" in build.decode(1)


def other_vocabulary(root):
    """The uncased BERT vocabulary with one token changed."""
    tokens = (REPO / "manifests/vocab/bert-base-uncased-vocab.txt").read_text().splitlines()
    tokens[2000] = "earlybertsonly"
    path = root / "other-vocab.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path


BAD_CALLS = [
    # (what, call(build, builds), exception, part of the message)
    ("a missing build", lambda b, r: earlyberts.Build(r["root"] / "nowhere"), earlyberts.BuildError,
     "cannot open build"),
    ("step 0", lambda b, r: b.step(0), ValueError, "steps are numbered from 1"),
    ("batch size 0", lambda b, r: b.step(1, batch_size=0), ValueError, "batch size"),
    ("a micro-batch that does not divide", lambda b, r: b.step(1, batch_size=12, micro_batch=5),
     ValueError, "does not divide"),
    ("an example past the end", lambda b, r: b.example(len(b)), IndexError, "out of range"),
    ("an example before the start", lambda b, r: b.example(-len(b) - 1), IndexError,
     "out of range"),
    ("a range past the end", lambda b, r: b.examples(0, len(b) + 1), IndexError, "holds examples"),
    ("a reversed range", lambda b, r: b.examples(5, 2), IndexError, "holds examples"),
    ("a wrong type", lambda b, r: b.example("seven"), TypeError, ""),
    ("a negative step", lambda b, r: b.step(-1), OverflowError, ""),
    ("two queries", lambda b, r: b.where(text="a", sentence=1), ValueError, "exactly one"),
    ("no query", lambda b, r: b.where(), ValueError, "exactly one"),
    ("a text without tokens", lambda b, r: b.where(text="   "), ValueError, "no tokens"),
    ("until step 0", lambda b, r: b.where(sentence=1, until_step=0), ValueError, "until_step"),
    ("a vocabulary that is not the build's", lambda b, r: earlyberts.Build(
        r["keyed"], vocab=other_vocabulary(r["root"])).decode(0), earlyberts.BuildError,
     "sha256"),
]


@pytest.mark.parametrize("what,call,error,message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_with_one_line(builds, what, call, error, message):
    build = earlyberts.Build(builds["keyed"])
    with pytest.raises(error) as raised:
        call(build, builds)
    text = str(raised.value)
    assert message in text, text
    assert "\n" not in text.strip(), text


def test_a_damaged_shard_is_named(damaged):
    build = earlyberts.Build(damaged)  # opening reads only the manifest
    with pytest.raises(earlyberts.BuildError) as raised:
        build.verify()
    assert "000000.ebs.zst" in str(raised.value) and "\n" not in str(raised.value)


def test_a_build_without_its_index_says_how_to_make_it(builds, tmp_path):
    import shutil
    copy = tmp_path / "noindex"
    shutil.copytree(builds["keyed"], copy)
    (copy / "provenance.json").unlink()
    with pytest.raises(earlyberts.BuildError) as raised:
        earlyberts.Build(copy).where(sentence=1)
    assert "has no provenance index" in str(raised.value)
    assert "pipeline build" in str(raised.value)


def test_the_package_imports_and_works_without_torch(builds):
    import subprocess
    import sys
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import earlyberts\n"
        f"b = earlyberts.Build({str(builds['keyed'])!r})\n"
        "assert b.step(1)['input_ids'].shape[0] == 256\n"
        "try:\n    b.step(1, as_torch=True)\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pip install torch" in out.stdout
