"""Every call of `earlyberts.Build` against the `pipeline` binary's output on the same
build, for both recipe kinds; bad input raises an exception with the one-line message."""

import hashlib
import json

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


def test_the_manifest_and_its_fields(cli, builds, kind):
    build = earlyberts.Build(builds[kind])
    build.verify()
    manifest = build.manifest
    assert manifest == json.loads((builds[kind] / "manifest.json").read_text())
    everything = cli.jsonl("inspect", builds[kind], "--examples", f"0..{len(build)}",
                           "--format", "jsonl")
    assert len(build) == manifest["totals"]["examples"] == len(everything)
    assert [e["index"] for e in everything] == list(range(len(build)))
    assert build.seed == manifest["seed"] == 1
    name = {"keyed": "earlyberts-keyed", "reference": "earlyberts"}[kind]
    assert build.recipe == manifest["recipe"]["name"] == name
    assert build.batch_size == manifest["recipe"]["params"]["training"]["batch_size"] == 256
    assert repr(build) == f"Build('{builds[kind]}', recipe='{name}', seed=1, examples={len(build)})"


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
    # Without batch_size, a step is the recipe's batch (256): examples 0..256 for step 1.
    default, explicit = build.step(1), build.step(1, batch_size=256)
    assert build.batch_size == 256 and set(default) == set(explicit)
    for key, value in explicit.items():
        assert default[key].tolist() == value.tolist(), key


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


def cli_table(cli, build, *flags):
    """`pipeline exposure BUILD FLAGS… --format jsonl` as columns."""
    rows = cli.jsonl("exposure", build, *flags, "--format", "jsonl")
    return {key: [row[key] for row in rows] for key in rows[0]}


def test_exposure_is_the_clis(cli, builds, kind):
    build = earlyberts.Build(builds[kind])
    steps = [1, 3, len(build) // 8 + 1, 40]  # the last two wrap past the end
    flags = ["--steps", ",".join(map(str, steps)), "--batch-size", 8]
    ours = build.exposure(steps=steps, batch_size=8, as_frame=False)
    theirs = cli_table(cli, builds[kind], *flags)
    assert list(ours) == list(theirs)
    for column, values in theirs.items():
        assert ours[column].tolist() == values, column
    assert ours["seen"].dtype == np.uint64 and ours["token_id"].dtype == np.uint32
    terms = ["the", "lake", "the fictional province", "zyzzyva quixotic"]
    (builds["root"] / "terms.txt").write_text("\n".join(terms) + "\n")
    ours = build.exposure(steps=steps, terms=terms, batch_size=8, as_frame=False)
    theirs = cli_table(cli, builds[kind], *flags, "--terms", builds["root"] / "terms.txt")
    assert list(ours) == list(theirs)
    for column, values in theirs.items():
        expected = [-1 if v is None else v for v in values]
        assert ours[column].tolist() == expected, column
    assert ours["first_step"].tolist()[-1] == -1  # never seen


def test_exposure_is_a_dataframe_where_pandas_is(builds):
    pandas = pytest.importorskip("pandas")
    build = earlyberts.Build(builds["keyed"])
    frame = build.exposure(steps=[2, 5], terms=["the", "zyzzyva"], batch_size=8)
    assert isinstance(frame, pandas.DataFrame)
    arrays = build.exposure(steps=[2, 5], terms=["the", "zyzzyva"], batch_size=8, as_frame=False)
    assert list(frame.columns) == list(arrays)
    assert frame["seen"].tolist() == arrays["seen"].tolist()
    assert frame["first_step"].isna().tolist() == [False, True, False, True]
    tokens = build.exposure(steps=[2], batch_size=8)
    assert tokens.loc[tokens.token == "the", "seen"].item() > 0


def test_exposure_without_pandas_is_numpy(builds):
    import subprocess
    import sys
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import earlyberts\n"
        f"b = earlyberts.Build({str(builds['keyed'])!r})\n"
        "print(type(b.exposure(steps=[1], batch_size=8)).__name__)\n"
        "try:\n    b.exposure(steps=[1], as_frame=True)\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    kind, error = out.stdout.splitlines()
    assert kind == "dict"
    assert error.startswith("as_frame=True needs pandas (") and "pip install pandas" in error


def test_decode_is_inspects_text(cli, builds, kind):
    build = earlyberts.Build(builds[kind])
    text = cli.run("inspect", builds[kind], "--examples", f"0..{len(build)}").stdout
    # Two lines an example: the header, then the tokens with each label after its token.
    lines = text.splitlines()
    theirs = ["\n".join(lines[k:k + 2]) for k in range(0, len(lines), 2)]
    assert len(theirs) == len(build)
    assert [build.decode(index) for index in range(len(build))] == theirs
    assert build.decode(-1) == theirs[-1] and build.decode(-len(build)) == theirs[0]
    assert all(t.startswith(f"example {k}  nsp=") for k, t in enumerate(theirs))


def other_vocabulary(root):
    """The uncased BERT vocabulary with one token changed."""
    tokens = (REPO / "manifests/vocab/bert-base-uncased-vocab.txt").read_text().splitlines()
    tokens[2000] = "earlybertsonly"
    path = root / "other-vocab.txt"
    path.write_text("\n".join(tokens) + "\n")
    return path


N = 132  # examples in the keyed build of the sample corpus (test_the_manifest_and_its_fields)

BAD_CALLS = [
    # (what, call(build, builds), exception, its message (a function of builds where it
    # names a path))
    ("a missing build", lambda b, r: earlyberts.Build(r["root"] / "nowhere"), earlyberts.BuildError,
     lambda r: f"cannot open build '{r['root']}/nowhere': '{r['root']}/nowhere/manifest.json': "
     "No such file or directory (os error 2)"),
    ("step 0", lambda b, r: b.step(0), ValueError, "step(0): steps are numbered from 1"),
    ("batch size 0", lambda b, r: b.step(1, batch_size=0), ValueError,
     "step(1): batch size must be at least 1"),
    ("a micro-batch that does not divide", lambda b, r: b.step(1, batch_size=12, micro_batch=5),
     ValueError, "micro_batch=5 does not divide the batch size 12"),
    ("exposure at step 0", lambda b, r: b.exposure(steps=[0, 10]), ValueError,
     "exposure(): steps are numbered from 1"),
    ("exposure at batch size 0", lambda b, r: b.exposure(batch_size=0), ValueError,
     "exposure(batch_size=0): a step holds at least 1 example"),
    ("a term without tokens", lambda b, r: b.exposure(terms=["lake", "\x07"]), ValueError,
     'term "\\u{7}" has no tokens to count'),
    ("no terms", lambda b, r: b.exposure(terms=[]), ValueError,
     "terms=[]: give at least one term"),
    ("no steps", lambda b, r: b.exposure(steps=[]), ValueError,
     "steps=[]: give at least one step, or None for the checkpoint steps"),
    ("an example past the end", lambda b, r: b.example(len(b)), IndexError,
     f"example {N} is out of range: the build holds {N} examples"),
    ("an example before the start", lambda b, r: b.example(-len(b) - 1), IndexError,
     f"example -{N + 1} is out of range: the build holds {N} examples"),
    ("a range past the end", lambda b, r: b.examples(0, len(b) + 1), IndexError,
     f"examples(0, {N + 1}): the build holds examples 0..{N}"),
    ("a reversed range", lambda b, r: b.examples(5, 2), IndexError,
     f"examples(5, 2): the build holds examples 0..{N}"),
    ("a wrong type", lambda b, r: b.example("seven"), TypeError,
     "'str' object cannot be interpreted as an integer"),
    ("a negative step", lambda b, r: b.step(-1), OverflowError,
     "can't convert negative int to unsigned"),
    ("two queries", lambda b, r: b.where(text="a", sentence=1), ValueError,
     "where() takes exactly one of text=, sentence= or document="),
    ("no query", lambda b, r: b.where(), ValueError,
     "where() takes exactly one of text=, sentence= or document="),
    ("a text without tokens", lambda b, r: b.where(text="   "), ValueError,
     "'   ' has no tokens to search for"),
    ("until step 0", lambda b, r: b.where(sentence=1, until_step=0), ValueError,
     "until_step must be at least 1"),
    ("a vocabulary that is not the build's", lambda b, r: earlyberts.Build(
        r["keyed"], vocab=other_vocabulary(r["root"])).decode(0), earlyberts.BuildError,
     lambda r: f"'{r['root']}/other-vocab.txt' has sha256 {sha256(r)}, but the ids refer to "
     f"the vocabulary with sha256 {KEYED_VOCAB_SHA256}"),
    ("a missing vocabulary", lambda b, r: earlyberts.Build(
        r["keyed"], vocab=r["root"] / "missing-vocab.txt").decode(0), earlyberts.BuildError,
     lambda r: f"'{r['root']}/missing-vocab.txt': No such file or directory (os error 2)"),
]

KEYED_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"


def sha256(builds):
    return hashlib.sha256((builds["root"] / "other-vocab.txt").read_bytes()).hexdigest()


@pytest.mark.parametrize("what,call,error,message", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_with_one_line(builds, what, call, error, message):
    build = earlyberts.Build(builds["keyed"])
    assert len(build) == N
    with pytest.raises(error) as raised:
        call(build, builds)
    expected = message(builds) if callable(message) else message
    assert str(raised.value) == expected


def test_a_damaged_shard_is_named_as_verify_names_it(cli, damaged):
    build = earlyberts.Build(damaged)  # opening reads only the manifest
    with pytest.raises(earlyberts.BuildError) as raised:
        build.verify()
    out = cli.run("verify", damaged, check=False)
    assert out.returncode != 0
    problem = out.stdout.splitlines()[0]
    assert problem.startswith("shards/000000.ebs.zst: ")
    assert str(raised.value) == f"'{damaged}' does not verify: {problem}"


def test_a_build_without_its_index_says_how_to_make_it(cli, builds, tmp_path):
    import shutil
    copy = tmp_path / "noindex"
    shutil.copytree(builds["keyed"], copy)
    (copy / "provenance.json").unlink()
    with pytest.raises(earlyberts.BuildError) as raised:
        earlyberts.Build(copy).where(sentence=1)
    out = cli.run("where", copy, "--sentence", 1, check=False)
    assert out.returncode != 0 and out.stderr.startswith("pipeline: ")
    assert str(raised.value) == out.stderr[len("pipeline: "):].rstrip("\n")
    assert str(raised.value).startswith(f"'{copy}' has no provenance index")


def test_the_package_imports_and_works_without_torch(builds):
    import subprocess
    import sys
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import earlyberts, earlyberts.types\n"
        f"b = earlyberts.Build({str(builds['keyed'])!r})\n"
        "assert b.step(1)['input_ids'].shape == (256, 71)\n"
        "assert earlyberts.reference_training()['peak_lr'] == 1e-4\n"
        "try:\n    b.step(1, as_torch=True)\nexcept ImportError as e:\n    print(e)\n"
        "try:\n    import earlyberts.torch\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "as_torch=True needs PyTorch (ModuleNotFoundError: import of torch halted; None in "
        "sys.modules); install it with `pip install torch`, or leave as_torch out for numpy "
        "arrays",
        "import of torch halted; None in sys.modules",
    ]
