"""TOML configuration files that fail with the file, the line and the reason.

Price lists, warranty policies, provider rosters and the scorecard policy are edited
by people. A mistake must be reported where it is (``prices.toml:14: brands.Aurora.
faults.refrigerant_leak.labour: min 450 is above max 200``) and must never replace
the file in force: :class:`Reloadable` keeps the previous value when a reload fails.

Line numbers: ``tomllib`` gives them for syntax errors only, so :func:`key_lines` maps
every table header and key in the text to its line, and a validation error's location
(pydantic's ``loc``, or a :class:`LocatedError`) is looked up there, falling back to the
nearest enclosing table.

>>> text = '[brands.Aurora]\\ncurrency = "CNY"\\n[[brands.Aurora.plans]]\\nyears = 5\\n'
>>> lines = key_lines(text)
>>> lines[("brands", "Aurora", "currency")], lines[("brands", "Aurora", "plans", 0, "years")]
(2, 4)
>>> locate(lines, ("brands", "Aurora", "nope"))
1
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?.+?\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_\-.\s])+?)\s*=""")
_TOML_LINE = re.compile(r"\(at line (\d+)")


class ConfigFileError(ValueError):
    """A configuration file that cannot be used: where and why."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {reason}")


class LocatedError(ValueError):
    """Raised by a file's checks beyond its schema: the key path it is about, and why."""

    def __init__(self, loc: Loc, reason: str) -> None:
        self.loc, self.reason = loc, reason
        super().__init__(reason)


def _parts(fragment: str) -> list[str]:
    """Key path of a header (``[a."b c"]``) or a dotted key, parsed by tomllib itself."""
    data: Any = tomllib.loads(fragment)
    out: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key = next(iter(data))
        out.append(key)
        data = data[key]
        if isinstance(data, list):
            data = data[0] if data else None
    return out


def key_lines(text: str) -> dict[Loc, int]:
    """Every table header and key of a TOML text, by key path (array tables indexed)."""
    lines: dict[Loc, int] = {}
    arrays: dict[Loc, int] = {}
    table: Loc = ()
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            header = _HEADER.match(line)
            if header:
                raw = header.group(1)
                names = _parts(raw + "\n")
                is_array = raw.startswith("[[")
                parent = _resolve(names[:-1], arrays)
                path: Loc = (*parent, names[-1]) if names else parent
                if is_array:
                    arrays[path] = arrays.get(path, -1) + 1
                    path = (*path, arrays[path])
                table = path
                lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                names = _parts(key.group(1) + " = 0\n")
                lines.setdefault((*table, *names), number)
        except (tomllib.TOMLDecodeError, IndexError):
            continue  # inside a multi-line value, or not a key: no line for it
    return lines


def _resolve(names: list[str], arrays: dict[Loc, int]) -> Loc:
    out: list[str | int] = []
    for name in names:
        out.append(name)
        index = arrays.get(tuple(out))
        if index is not None:
            out.append(index)
    return tuple(out)


def locate(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of ``loc`` or of its nearest enclosing key/table (1 at worst)."""
    for end in range(len(loc), 0, -1):
        found = lines.get(tuple(loc[:end]))
        if found is not None:
            return found
    return 1


def dotted(loc: Loc) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")


def load_model(path: Path, model: type[M], check: Callable[[M], None] | None = None) -> M:
    """Read, parse and validate ``path`` as ``model``; raise :class:`ConfigFileError`."""
    name = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigFileError(name, None, f"cannot read: {err}") from None
    return parse_model(text, model, name=name, check=check)


def parse_model(
    text: str, model: type[M], *, name: str, check: Callable[[M], None] | None = None
) -> M:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _TOML_LINE.search(str(err))
        reason = _TOML_LINE.sub("", str(err)).strip().rstrip("(").strip()
        raise ConfigFileError(name, int(found.group(1)) if found else None, reason) from None
    lines = key_lines(text)
    try:
        value = model.model_validate(data)
        if check is not None:
            check(value)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        raise ConfigFileError(name, locate(lines, loc), f"{dotted(loc)}: {first['msg']}") from None
    except LocatedError as err:
        raise ConfigFileError(name, locate(lines, err.loc), f"{dotted(err.loc)}: {err.reason}")  # noqa: B904
    return value


class Reloadable(Generic[T]):
    """A loaded file that can be reloaded; a failed reload keeps the value in force."""

    def __init__(self, path: Path, load: Callable[[Path], T]) -> None:
        self.path = path
        self._load = load
        self._lock = threading.Lock()
        self._value = load(path)
        self.last_error: str | None = None

    @property
    def value(self) -> T:
        return self._value

    def reload(self, path: Path | None = None) -> T:
        """Load ``path`` (default: the current file); on error raise and keep the old value."""
        target = path or self.path
        try:
            value = self._load(target)
        except ConfigFileError as err:
            self.last_error = str(err)
            raise
        with self._lock:
            self._value, self.path, self.last_error = value, target, None
        return value
