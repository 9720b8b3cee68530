"""Recommended parts per fault and model, from a TOML catalogue shipped with the package.

The technician arrives with the right part because the order says which: the
model's own entry if the catalogue has one, otherwise the kind's default.

>>> cat = PartsCatalogue.load()
>>> cat.parts_for("ac", "refrigerant_leak", model="ANY", refrigerant="R410A")[0]
'refrigerant R410A 1 kg'
>>> cat.parts_for("washer", "bearing_wear", model="BRZ-FL8")
['Breeze FL8 bearing kit 6204/6205 + seal 35x72']
>>> cat.parts_for("washer", "no_such_fault")
[]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_REFRIGERANT = "R32"


class CatalogueError(ValueError):
    """The catalogue file is not what :class:`PartsCatalogue` expects."""


@dataclass(frozen=True)
class PartsCatalogue:
    by_kind: dict[str, dict[str, list[str]]]
    by_model: dict[str, dict[str, list[str]]]

    @classmethod
    def load(cls, path: Path | None = None) -> PartsCatalogue:
        """The given TOML file, or the catalogue shipped in this package."""
        if path is None:
            raw = resources.files(__package__).joinpath("parts.toml").read_text("utf-8")
        else:
            raw = path.read_text("utf-8")
        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as err:
            raise CatalogueError(f"parts catalogue {path or 'parts.toml'}: {err}") from None
        return cls(_section(data, "kinds"), _section(data, "models"))

    def parts_for(
        self, kind: str, fault: str, *, model: str | None = None, refrigerant: str | None = None
    ) -> list[str]:
        """What to bring for ``fault`` on this ``kind``/``model`` (empty when unknown)."""
        parts = self.by_model.get(model or "", {}).get(fault)
        if parts is None:
            parts = self.by_kind.get(kind, {}).get(fault, [])
        gas = refrigerant or DEFAULT_REFRIGERANT
        return [part.replace("{refrigerant}", gas) for part in parts]


def _section(data: dict[str, Any], name: str) -> dict[str, dict[str, list[str]]]:
    section = data.get(name, {})
    out: dict[str, dict[str, list[str]]] = {}
    for key, faults in section.items():
        if not isinstance(faults, dict):
            raise CatalogueError(f"parts catalogue: [{name}.{key}] must be a table")
        for fault, parts in faults.items():
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise CatalogueError(f"parts catalogue: {name}.{key}.{fault} must list strings")
        out[key] = {fault: list(parts) for fault, parts in faults.items()}
    return out
