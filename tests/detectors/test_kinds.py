"""The kind registry: kinds plug into the shared judging and never reach back to the fleet."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from detectors import judging
from detectors import state as state_module
from detectors.ac import AcState
from detectors.fleet import LAYOUTS
from detectors.kinds import KINDS
from detectors.state import DeviceState, Layout, Scalar
from detectors.washer import WasherState
from edge.contract import Kind


def imported(module_name: str) -> set[str]:
    """The ``detectors`` modules a module imports, at any depth of its code."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.startswith("detectors")}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_kind_module_imports_neither_the_fleet_nor_the_registry(kind: Kind) -> None:
    module = KINDS[kind].features.__module__
    uses = imported(module)
    assert "detectors.fleet" not in uses
    assert "detectors.kinds" not in uses


def test_the_shared_judging_knows_no_kind_module() -> None:
    kind_modules = {appliance.features.__module__ for appliance in KINDS.values()}
    for module in (judging.__name__, state_module.__name__):
        uses = imported(module)
        assert not uses & (kind_modules | {"detectors.fleet", "detectors.kinds"}), module


def test_every_kind_lays_out_the_common_fields_first() -> None:
    common = DeviceState.NAMES
    for kind, appliance in KINDS.items():
        assert appliance.layout.scalars[: len(common)] == common, kind
        assert LAYOUTS[kind.value] is appliance.layout


@pytest.mark.parametrize("layout", [LAYOUTS["ac"], LAYOUTS["washer"]])
def test_a_named_field_is_the_slot_its_layout_names(layout: Layout) -> None:
    state = DeviceState.new("x-1", "x", "M", layout)
    assert type(state) in (AcState, WasherState)
    for name in layout.scalars:
        if isinstance(getattr(type(state), name, None), property):
            setattr(state, name, 7.5)
            assert state.v[layout.scalar[name]] == 7.5, name
            assert getattr(state, name) == 7.5
        assert layout.state.index(name) == layout.scalar[name]
    again = DeviceState.from_bytes(state.to_bytes(), {"x": layout})
    assert type(again) is type(state)


def test_a_scalar_declared_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="twice"):

        class Twice(DeviceState, extra=("last_ts",)):
            __slots__ = ()
            other = Scalar()
