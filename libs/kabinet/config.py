"""Typed settings read from the environment.

Each service declares one frozen dataclass; every field names its environment variable and says
what it is for (``setting``). ``load_settings`` reads them all and fails with a message that names
the variable and what was expected, so a bad deployment is found at start-up, not at first use.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def setting(env: str, default: Any = dataclasses.MISSING, doc: str = "") -> Any:
    """Declare a settings field bound to the environment variable ``env``."""
    if isinstance(default, list | dict | set):
        raise TypeError("use a tuple or frozenset for collection defaults")
    return dataclasses.field(default=default, metadata={"env": env, "doc": doc})


def _parse(env: str, raw: str, kind: Any) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if raw == "":
            return None
        return _parse(env, raw, args[0])
    if kind is str:
        return raw
    if kind is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"{env}: expected true or false, got {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{env}: expected a whole number, got {raw!r}") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"{env}: expected a number, got {raw!r}") from None
    if kind is Path:
        return Path(raw).expanduser()
    if origin is tuple:
        (item,) = {a for a in typing.get_args(kind) if a is not Ellipsis}
        return tuple(_parse(env, part.strip(), item) for part in raw.split(",") if part.strip())
    if isinstance(kind, type) and issubclass(kind, str):  # StrEnum and friends
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(str(v) for v in kind.__members__.values())  # type: ignore[attr-defined]
            raise ConfigError(f"{env}: expected one of {allowed}, got {raw!r}") from None
    raise TypeError(f"{env}: unsupported settings type {kind!r}")


def load_settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from ``environ`` (default: ``os.environ``)."""
    environ = os.environ if environ is None else environ
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        env = field.metadata.get("env")
        if env is None:
            if dataclasses.is_dataclass(hints[field.name]):  # a nested group of settings
                values[field.name] = load_settings(hints[field.name], environ)
            continue
        if env in environ:
            values[field.name] = _parse(env, environ[env], hints[field.name])
        elif field.default is dataclasses.MISSING:
            raise ConfigError(f"{env}: required, not set ({field.metadata.get('doc', '')})")
    return cls(**values)


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(variable, default, doc) for every setting of ``cls``: used by the README check."""
    rows = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            rows.extend(describe(hints[field.name]))
        elif "env" in field.metadata:
            default = "" if field.default is dataclasses.MISSING else repr(field.default)
            rows.append((field.metadata["env"], default, field.metadata.get("doc", "")))
    return rows
