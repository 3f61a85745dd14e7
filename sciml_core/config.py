"""Typed configs: nested dataclasses that round-trip through TOML and ``--set`` overrides.

A solver declares its config as a dataclass whose fields are scalars, tuples/lists of
scalars, or nested config dataclasses.  :func:`build_config` turns a plain dict (from TOML,
a preset, or ``key=value`` overrides) into that dataclass, rejecting unknown keys and values
of the wrong type with a :class:`ConfigError` that names the dotted key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

import tomli_w

from .errors import ConfigError

C = TypeVar("C")


def to_dict(config: Any) -> dict[str, Any]:
    """Convert a config dataclass into plain (TOML-writable) data; ``None`` values are dropped."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = list(value)
        elif value is not None:
            out[f.name] = value
    return out


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated recursively with ``update`` (neither is modified)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value``: TOML/JSON literals, else a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ``["train.lr=1e-3", "model.width=64"]`` into a nested dict."""
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"malformed --set {item!r}: expected key=value, e.g. train.lr=1e-3")
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r} conflicts with another --set of {part!r}")
        node[parts[-1]] = parse_value(raw.strip())
    return nested


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"invalid value for {key!r}: {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"invalid value for {key!r}: {value!r} (choose one of {', '.join(map(repr, args))})")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            value = [value]
        item_type = args[0] if args else Any
        items = [_coerce(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key!r} must be a table of options, got {value!r}")
        return build_config(annotation, value, prefix=f"{key}.")
    if annotation is Any:
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"invalid value for {key!r}: {value!r} (expected true or false)")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"invalid value for {key!r}: {value!r} (expected an integer)")
        return int(value)
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"invalid value for {key!r}: {value!r} (expected a number)")
        if not math.isfinite(value):
            raise ConfigError(f"invalid value for {key!r}: {value!r} (expected a finite number)")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"invalid value for {key!r}: {value!r} (expected a string)")
        return value
    return value


SEED_LIMIT = 2**63


def check_seed(seed: Any, option: str = "--seed") -> int:
    """A seed is an integer in [0, 2**63) (what torch and numpy both accept)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise ConfigError(f"{option} must be an integer in [0, 2**63), got {seed!r}")
    return seed


def check_plain_name(name: str, what: str) -> str:
    """A name that becomes a file name: letters, digits, '.', '_', '-', not starting with '.'."""
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", name) or ".." in name:
        raise ConfigError(f"{what} {name!r} must be a plain name (letters, digits, '.', '_', '-'; no '/' or '..')")
    return name


def build_config(cls: type[C], data: Mapping[str, Any] | None = None, prefix: str = "") -> C:
    """Build config dataclass ``cls`` from ``data``; unknown keys and bad types raise ConfigError."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix + unknown[0]!r} (valid keys: "
            f"{', '.join(prefix + k for k in fields)})"
        )
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], prefix + name)
    try:
        config = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid config {prefix.rstrip('.') or cls.__name__}: {exc}") from None
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing, unreadable or malformed file raises ConfigError naming it."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {str(path)!r} is a directory, not a TOML file")
    try:
        return read_toml_text(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: not UTF-8 text (a binary file?)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def read_toml_text(text: str) -> dict[str, Any]:
    """Parse TOML text (raises ``tomllib.TOMLDecodeError``)."""
    return tomllib.loads(text)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Serialise plain data as TOML (``None`` values dropped)."""

    def clean(obj: Any) -> Any:
        if isinstance(obj, Mapping):
            return {k: clean(v) for k, v in obj.items() if v is not None}
        if isinstance(obj, tuple):
            return [clean(v) for v in obj]
        return obj

    return tomli_w.dumps(clean(data))
