"""Load YAML data files (profiles, contracts, catalogues) with line numbers for error messages.

Testers edit these files by hand; an error must name the file, the key and the line, so every
mapping key's line is recorded while loading (PyYAML's node marks), not guessed afterwards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class Located(dict):
    """A dict that remembers the source line of each key (1-based) and its own file."""

    file: str = ""
    lines: dict[str, int]

    def line_of(self, key: str) -> int | None:
        return self.lines.get(key)


def _construct(node: yaml.Node, file: str, _active: frozenset = frozenset()) -> Any:
    if id(node) in _active:  # an alias pointing at its own ancestor ("&a [*a]")
        raise ConfigError("recursive YAML alias", file=file, line=node.start_mark.line + 1)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
        _active = _active | {id(node)}
    if isinstance(node, yaml.MappingNode):
        out = Located()
        out.file = file
        out.lines = {}
        for key_node, value_node in node.value:
            key = _construct(key_node, file, _active)
            if not isinstance(key, (str, int, float, bool)):
                raise ConfigError("mapping keys must be plain values", file=file,
                                  line=key_node.start_mark.line + 1)
            key = str(key)
            if key in out:
                raise ConfigError("duplicate key", file=file, key=key, line=key_node.start_mark.line + 1)
            if isinstance(value_node, yaml.ScalarNode):
                out[key] = _scalar(value_node, file, key)
            else:
                out[key] = _construct(value_node, file, _active)
            out.lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, file, _active) for item in node.value]
    return _scalar(node, file)


def _scalar(node: yaml.ScalarNode, file: str, key: str | None = None) -> Any:
    # A fresh loader per scalar: a shared one would keep every node it ever built in its cache.
    # Unknown tags (``!custom``) and bad explicit ones (``!!int abc``) are bad input, not crashes.
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid value: {problem}", file=file, key=key,
                          line=node.start_mark.line + 1) from None


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file into plain data whose mappings are ``Located`` dicts."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=(mark.line + 1) if mark else None) from None
    if node is None:
        raise ConfigError("file is empty", file=str(path))
    return _construct(node, str(path))


def require(data: Any, key: str, kind: type | tuple[type, ...], *, where: str = "",
            default: Any = ..., choices: tuple | None = None) -> Any:
    """Fetch ``data[key]`` checking its type (and optional allowed values); errors name file/key/line."""
    file = getattr(data, "file", "") or None
    full_key = f"{where}.{key}" if where else key
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping, got {type(data).__name__}", file=file, key=where or None)
    if key not in data:
        if default is not ...:
            return default
        raise ConfigError("required key is missing", file=file, key=full_key)
    value = data[key]
    line = data.line_of(key) if isinstance(data, Located) else None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"expected {expected}, got {type(value).__name__} ({value!r})",
                          file=file, key=full_key, line=line)
    if choices is not None and value not in choices:
        raise ConfigError(f"must be one of {', '.join(map(str, choices))}; got {value!r}",
                          file=file, key=full_key, line=line)
    return value


def reject_unknown(data: dict, allowed: set[str], *, where: str = "") -> None:
    """Unknown keys are usually typos ("stored_within_second"): refuse them, naming the line."""
    for key in data:
        if key not in allowed:
            line = data.line_of(key) if isinstance(data, Located) else None
            raise ConfigError(f"unknown key (allowed: {', '.join(sorted(allowed))})",
                              file=getattr(data, "file", None) or None,
                              key=f"{where}.{key}" if where else key, line=line)
