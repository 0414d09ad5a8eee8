"""`earlyberts.torch.TrainingOrder` yields `Build.step(s)`, `step(s + 1)`, … as tensors.

With PyTorch installed these run against it; without (CI does not install it: its wheel is
gigabytes), against a stand-in `torch` module that has what `TrainingOrder` uses — a generic
`IterableDataset` base and `from_numpy` — so the order, the micro-batches, the wrapping and
the refusals are tested either way. EARLYBERTS_REQUIRE_TORCH=1 makes a missing torch a
failure."""

import importlib
import os
import sys
import types
import typing

import numpy as np
import pytest

import earlyberts


class StandInTensor:
    """What the tests read of a tensor: its values, dtype and shape."""

    def __init__(self, array):
        self.array = array
        self.dtype = array.dtype
        self.shape = array.shape

    def tolist(self):
        return self.array.tolist()


def stand_in_torch():
    torch = types.ModuleType("torch")
    torch.int64 = np.dtype(np.int64)
    torch.Tensor = StandInTensor
    torch.from_numpy = StandInTensor
    data = types.ModuleType("torch.utils.data")
    item = typing.TypeVar("item")
    data.IterableDataset = types.new_class("IterableDataset", (typing.Generic[item],))
    torch.utils = types.SimpleNamespace(data=data)
    return torch


@pytest.fixture
def torch(monkeypatch):
    try:
        import torch as real
        real_torch = real
    except ImportError:
        if os.environ.get("EARLYBERTS_REQUIRE_TORCH") == "1":
            raise
        real_torch = None
        stand_in = stand_in_torch()
        monkeypatch.setitem(sys.modules, "torch", stand_in)
        monkeypatch.setitem(sys.modules, "torch.utils", stand_in.utils)
        monkeypatch.setitem(sys.modules, "torch.utils.data", stand_in.utils.data)
    module = importlib.reload(importlib.import_module("earlyberts.torch"))
    yield (real_torch or sys.modules["torch"]), module
    sys.modules.pop("earlyberts.torch", None)


def test_training_order_from_any_step_is_the_steps(builds, torch):
    torch, module = torch
    build = earlyberts.Build(builds["reference"])
    order = module.TrainingOrder(build, start_step=5, batch_size=16, stop_step=25,
                                 override_batch_size=True)
    assert len(order) == 20
    batches = list(order)
    assert len(batches) == 20
    for k, batch in enumerate(batches):
        expected = build.step(5 + k, batch_size=16)
        for key, value in expected.items():
            assert isinstance(batch[key], torch.Tensor) and batch[key].dtype == torch.int64
            assert batch[key].tolist() == value.tolist(), (k, key)


def test_a_data_loader_keeps_the_order(builds, torch):
    torch, module = torch
    if not hasattr(torch.utils.data, "DataLoader"):
        pytest.skip("needs PyTorch's DataLoader")
    build = earlyberts.Build(builds["keyed"])
    order = module.TrainingOrder(build, batch_size=32, stop_step=6, override_batch_size=True)
    loader = torch.utils.data.DataLoader(order, batch_size=None)
    assert [b["input_ids"].tolist() for b in loader] == \
        [build.step(s, 32)["input_ids"].tolist() for s in range(1, 6)]


def test_micro_batches_come_in_order_and_open_ended_orders_go_on(builds, torch):
    _, module = torch
    build = earlyberts.Build(builds["keyed"])
    order = module.TrainingOrder(build, start_step=2, batch_size=8, micro_batch=4, stop_step=4,
                                 override_batch_size=True)
    assert len(order) == 4
    parts = list(order)
    expected = build.step(2, batch_size=8, micro_batch=4) + build.step(3, batch_size=8,
                                                                       micro_batch=4)
    assert [p["labels"].tolist() for p in parts] == [e["labels"].tolist() for e in expected]
    endless = iter(module.TrainingOrder(build, batch_size=100, override_batch_size=True))
    for step in range(1, 6):  # past the end of the build: it wraps
        assert next(endless)["input_ids"].tolist() == build.step(step, 100)["input_ids"].tolist()
    with pytest.raises(TypeError):
        len(module.TrainingOrder(build))
    assert module.TrainingOrder.collate([parts[0]]) is parts[0]
    with pytest.raises(ValueError, match="per_device_train_batch_size=1"):
        module.TrainingOrder.collate(parts[:2])


def test_bad_orders_are_refused_before_training(builds, torch):
    _, module = torch
    build = earlyberts.Build(builds["keyed"])
    with pytest.raises(ValueError, match="numbered from 1"):
        module.TrainingOrder(build, start_step=0)
    with pytest.raises(ValueError, match="does not divide"):
        module.TrainingOrder(build, batch_size=12, micro_batch=5, override_batch_size=True)
    # A batch size other than the build's is refused unless asked for as such.
    with pytest.raises(ValueError) as refused:
        module.TrainingOrder(build, batch_size=12)
    assert str(refused.value) == (
        "batch_size=12 differs from the 256 examples a step that the build was made for (its "
        "recipe's training.batch_size): drop it, or pass override_batch_size=True")
    assert module.TrainingOrder(build, batch_size=256).batch_size == 256
    with pytest.raises(ValueError, match="before start_step"):
        module.TrainingOrder(build, start_step=5, stop_step=2)
