"""The types the stubs promise against what the module returns.

`make test-python` checks the stubs statically (stubtest against the module, `mypy --strict`
over typed_usage.py); here every dict the module returns is checked against its TypedDict
(exactly its keys, each value of the named type, nested), and typed_usage.py runs."""

import hashlib
import importlib.util
import subprocess
import sys
import typing
from typing import Any, List, Literal, Optional, Tuple, Union

import numpy as np
import pytest

import earlyberts
import earlyberts.types as t
import typed_usage
from conftest import REPO


def is_typeddict(tp):
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__total__")


def conforms(value, tp, where="value", localns=None):
    """Asserts that `value` is of type `tp`: TypedDicts key for key, lists, dicts, tuples,
    unions, literals, int64 arrays and plain types (an int is not a float, a bool not an
    int)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return
    if is_typeddict(tp):
        hints = typing.get_type_hints(tp, localns=localns)
        assert isinstance(value, dict), f"{where}: {type(value).__name__}, not a dict"
        assert sorted(value) == sorted(hints), f"{where}: keys {sorted(value)}, not {sorted(hints)}"
        for key, hint in hints.items():
            conforms(value[key], hint, f"{where}[{key!r}]", localns)
    elif origin is Union:
        failures = []
        for option in args:
            try:
                return conforms(value, option, where, localns)
            except AssertionError as e:
                failures.append(str(e))
        raise AssertionError(" and ".join(failures))
    elif origin is Literal:
        assert value in args, f"{where}: {value!r} is none of {args}"
    elif origin is list:
        assert isinstance(value, list), f"{where}: {type(value).__name__}, not a list"
        for k, item in enumerate(value):
            conforms(item, args[0], f"{where}[{k}]", localns)
    elif origin is tuple:
        assert isinstance(value, tuple) and len(value) == len(args), f"{where}: {value!r}"
        for k, (item, hint) in enumerate(zip(value, args)):
            conforms(item, hint, f"{where}[{k}]", localns)
    elif origin is dict:
        assert isinstance(value, dict), f"{where}: {type(value).__name__}, not a dict"
        for key, item in value.items():
            conforms(key, args[0], f"{where} key", localns)
            conforms(item, args[1], f"{where}[{key!r}]", localns)
    elif origin is np.ndarray:
        dtype = typing.get_args(args[1])[0]
        assert isinstance(value, np.ndarray), f"{where}: {type(value).__name__}, not an array"
        assert value.dtype == dtype, f"{where}: {value.dtype}, not {dtype}"
    elif tp is type(None):
        assert value is None, f"{where}: {value!r}, not None"
    else:
        assert type(value) is tp, f"{where}: {type(value).__name__} {value!r}, not {tp.__name__}"


def test_the_checker_refuses_what_does_not_conform():
    conforms({"is_next": 1, "random_next": 2}, t.NspCounts)
    for wrong in ({"is_next": 1}, {"is_next": 1, "random_next": 2, "more": 3},
                  {"is_next": 1, "random_next": 2.0}, {"is_next": True, "random_next": 2}):
        with pytest.raises(AssertionError):
            conforms(wrong, t.NspCounts)
    with pytest.raises(AssertionError):
        conforms(np.zeros(3, np.int32), t.Int64Array)
    with pytest.raises(AssertionError):
        conforms("C", Literal["A", "B"])
    conforms(None, Optional[float])
    conforms((1, 2), Tuple[int, int])


def test_every_dict_is_its_typeddict(builds, kind):
    build = earlyberts.Build(builds[kind])
    conforms(build.manifest, t.Manifest, "manifest")
    for index in (0, len(build) - 1):
        conforms(build.example(index), t.Example, f"example({index})")
    conforms(build.examples(0, 3), List[t.Example], "examples(0, 3)")
    conforms(build.step(2, batch_size=8), t.Batch, "step(2)")
    conforms(build.step(2, batch_size=8, micro_batch=4), List[t.Batch], "step(2, micro_batch=4)")
    hits = build.where(text="the", first=True)
    assert hits
    conforms(hits[0].to_dict(), t.OccurrenceDict, "to_dict()")
    for hit in hits:
        conforms((hit.step, hit.example, hit.segment, hit.sentence, hit.document,
                  hit.positions, hit.masked),
                 Tuple[int, int, Literal["A", "B"], int, int, Tuple[int, int], int], repr(hit))
    conforms(earlyberts.reference_training(), t.TrainingSettings, "reference_training()")
    conforms(earlyberts.checkpoint_steps(), List[int], "checkpoint_steps()")
    conforms(build.exposure(steps=[1, 40], batch_size=8, as_frame=False), t.TokenExposure,
             "exposure()")
    conforms(build.exposure(steps=[1, 40], terms=["the", "zyzzyva"], batch_size=8,
                            as_frame=False), t.TermExposure, "exposure(terms=…)")


def test_torch_batches_are_their_typeddict(builds):
    torch = pytest.importorskip("torch")
    build = earlyberts.Build(builds["keyed"])
    ns = {"torch": torch}
    for batch in [build.step(1, 8, as_torch=True), *build.step(1, 8, as_torch=True, micro_batch=4)]:
        hints = typing.get_type_hints(t.TorchBatch, localns=ns)
        assert sorted(batch) == sorted(hints)
        for key, value in batch.items():
            assert isinstance(value, torch.Tensor) and value.dtype == torch.int64, key


def test_the_typed_usage_runs(builds, tmp_path):
    typed_usage.use_build(builds["keyed"])
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed: the torch part is type-checked only")
    typed_usage.use_torch(builds["keyed"])
    if importlib.util.find_spec("transformers") is None:
        pytest.skip("transformers is not installed: the Trainer part is type-checked only")
    typed_usage.use_trainer(builds["keyed"], tmp_path / "trainer")


def test_mypy_sees_the_stubs(tmp_path):
    """The static checks are not vacuous: a wrong expectation fails with the stubs' type (and
    would not if mypy saw the module as Any)."""
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (make test-python installs it)")
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from typing_extensions import assert_type\n"
        "import earlyberts\n"
        "build = earlyberts.Build('x')\n"
        "assert_type(build.seed, str)\n"
        "assert_type(build.manifest['totals']['examples'], str)\n"
        "assert_type(earlyberts.reference_training()['max_grad_norm'], float)\n")
    # A cache per Python environment (torch's types take mypy a while to read the first time).
    cache = REPO / "target/mypy-cache" / hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                          str(REPO / "python/pyproject.toml"), "--cache-dir", str(cache),
                          str(wrong)], capture_output=True, text=True)
    assert out.returncode == 1, out.stdout + out.stderr
    # (Where mypy found the file varies: its cache may keep an earlier run's path.)
    assert [line.rpartition("wrong.py:")[2] for line in out.stdout.splitlines()] == [
        '4: error: Expression is of type "int", not "str"  [assert-type]',
        '5: error: Expression is of type "int", not "str"  [assert-type]',
        '6: error: Expression is of type "float | None", not "float"  [assert-type]',
        "Found 3 errors in 1 file (checked 1 source file)",
    ]
