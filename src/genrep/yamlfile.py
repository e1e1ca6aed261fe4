"""Load YAML data files (profiles, contracts, catalogues) with line numbers for error messages.

Testers edit these files by hand; an error must name the file, the key and the line, so every
mapping key's line is recorded while loading (PyYAML's node marks), not guessed afterwards.

A profile can also come from anywhere (``--env PATH``), so the loader is bounded: YAML aliases are
references, and a few hundred bytes of nested aliases ("billion laughs") expand to hundreds of
millions of nodes, which would hang the harness before it says a word. Three limits, each refused
with a ``ConfigError`` naming the file, the line and the limit:

- ``MAX_BYTES``: 1 MiB. The largest real file (``contracts/requirements.yaml``) is 25,530 bytes,
  so the margin is 41x. Only regular files are read (a FIFO would block, a device never end).
- ``MAX_NODES``: 100,000 nodes in the constructed document, each alias counted as the whole
  subtree it expands to (checked on the composed graph, before anything is constructed). The
  largest real document has 1,142 nodes (``contracts/requirements.yaml``): a margin of 87x.
- ``MAX_DEPTH``: 64 levels of nesting (a mapping's keys and values one level below it), also
  counting alias expansions. The deepest real files reach 7 (``contracts/load.yaml``,
  ``docs/ci/github-actions.yml``): a margin of 9x, and far from Python's recursion limit, which
  ``[[[[...`` would otherwise hit inside PyYAML's (recursive) composer.
"""

from __future__ import annotations

import copy
import errno
import os
import pickle
import stat
from pathlib import Path
from typing import Any

import yaml

from genrep.errors import ConfigError
from genrep.paths import PROJECT_ROOT

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64


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


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, counting nodes and nesting as it composes (so neither a flat file of
    a million items nor ``[[[[...`` runs long or deep before it is refused)."""

    def __init__(self, text: str, file: str):
        super().__init__(text)
        self._file, self._depth, self._count = file, 0, 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._count += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConfigError(f"nesting deeper than {MAX_DEPTH} levels (the limit for genrep YAML files)",
                                  file=self._file, line=self.peek_event().start_mark.line + 1)
            if self._count > MAX_NODES:
                raise ConfigError(f"more than {MAX_NODES:,} nodes (the limit for genrep YAML files)",
                                  file=self._file, line=self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse a composed graph whose aliases expand beyond ``MAX_NODES`` or ``MAX_DEPTH``, or that
    refers to itself, without expanding it: each node's expanded size and height are computed once."""
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    active: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> None:
        key = id(node)
        if key in active:  # an alias pointing at its own ancestor ("&a [*a]")
            raise ConfigError("recursive YAML alias", file=file, line=node.start_mark.line + 1)
        if key not in size:
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            else:
                children = []
            active.add(key)
            total, tallest = 1, 0
            for child in children:
                visit(child, depth + 1)
                total += size[id(child)]
                tallest = max(tallest, height[id(child)])
                if total > MAX_NODES:
                    raise ConfigError(f"expands to more than {MAX_NODES:,} nodes counting each alias as "
                                      "what it refers to (the limit for genrep YAML files; an alias bomb?)",
                                      file=file, line=node.start_mark.line + 1)
            active.discard(key)
            size[key], height[key] = total, tallest + 1
        if depth + height[key] - 1 > MAX_DEPTH:
            raise ConfigError(f"nesting deeper than {MAX_DEPTH} levels counting alias expansions "
                              "(the limit for genrep YAML files)", file=file, line=node.start_mark.line + 1)

    visit(root, 1)


_OPEN_ERRORS = {errno.ENOENT: "file not found", errno.ENOTDIR: "file not found",
                errno.ELOOP: "symbolic link loop", errno.EACCES: "permission denied",
                errno.EPERM: "permission denied", errno.ENAMETOOLONG: "file name too long"}
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def read_bounded(path: str | Path) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``; anything else is a ConfigError naming it.

    Opened without blocking (a FIFO would wait for a writer forever) and checked to be a regular
    file before a byte is read."""
    file = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except ValueError:  # an embedded NUL byte
        raise ConfigError("not a usable file name", file=repr(file)) from None
    except OSError as exc:
        raise ConfigError(_OPEN_ERRORS.get(exc.errno) or f"cannot open ({exc.strerror})", file=file) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((what for test, what in _KINDS if test(mode)), "not a regular file")
            raise ConfigError(f"is {kind}, not a YAML file", file=file)
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"cannot read ({exc.strerror})", file=file) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_BYTES:
        line = data[:MAX_BYTES].count(b"\n") + 1
        raise ConfigError(f"file is larger than {MAX_BYTES:,} bytes, the limit for genrep YAML files "
                          "(the line given is where the limit is passed)", file=file, line=line)
    return data


#: Parsed files by (path, exact bytes): a rehearsal reads the same contracts again and again (the
#: requirement catalogue five times, the gate three: about 0.5 s each in PyYAML's pure-Python parser,
#: whose C parser cannot carry the limits above). The file is read every time and its bytes are the
#: key, so an edited file is parsed again; each caller gets its own deep copy, never shared data.
_PARSED: dict[tuple[str, bytes], Any] = {}
_PARSED_MAX = 32


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file into plain data whose mappings are ``Located`` dicts (within the limits
    above: size, nodes with alias expansions, nesting)."""
    path = Path(path)
    raw = read_bounded(path)
    key = (str(path), raw)
    if key not in _PARSED:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        kept = _cache_file(key)  # where this exact document is kept on disk, or None
        parsed = _stored(kept)
        if parsed is _MISSING:
            parsed = _parse(path, raw)
            _store(kept, parsed)
        _PARSED[key] = parsed
    return copy.deepcopy(_PARSED[key])


# -- parsed documents on disk ---------------------------------------------------------------------
#
# Every genrep process parses the contracts again (the requirement catalogue alone is ~65 ms in
# PyYAML's pure-Python parser; all of contracts/ ~140 ms), and a rehearsal, a selftest or the project's
# tests start hundreds of processes: each CLI, suite run, simulator and Locust process. So a parsed
# document is also kept on disk, in the virtual environment genrep runs from (``sys.prefix``, never
# the work tree; outside a virtual environment nothing is kept): only files of the project itself
# (``CACHED_ROOTS``: contracts, profiles), not a profile from elsewhere nor a test's temporary file,
# so the folder holds one entry per version of each file. The key is a hash of
# the file's path, its exact bytes, this module's own source and PyYAML's version: an edited file,
# or a changed loader, is parsed again. Only documents that parsed without error are kept. Read back
# with a restricted unpickler (only this module's ``Located`` and ``datetime``'s types, what
# ``_construct`` makes besides builtins); anything unreadable is parsed again and rewritten.
# ``GENREP_YAML_CACHE``: ``off`` (or 0, no, false) keeps nothing; a directory puts it there.

CACHE_ENV = "GENREP_YAML_CACHE"


def _loader_salt() -> bytes | None:
    """A hash of this module's source as imported and PyYAML's version (a long-lived process must not
    key what its old code parsed under the new code's hash, should the file be edited meanwhile);
    None (nothing kept) when the source cannot be read."""
    import hashlib
    try:
        return hashlib.sha256(Path(__file__).read_bytes() + yaml.__version__.encode()).digest()
    except OSError:
        return None


_SALT = _loader_salt()
CACHED_ROOTS: tuple[Path, ...] = (PROJECT_ROOT,)
_MISSING = object()
_ALLOWED_CLASSES = {("genrep.yamlfile", "Located"), ("datetime", "date"), ("datetime", "datetime"),
                    ("datetime", "timezone"), ("datetime", "timedelta")}


def cache_dir() -> Path | None:
    """Where parsed documents are kept, or None (switched off, or not in a virtual environment)."""
    import sys
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() in ("off", "0", "no", "false"):
        return None
    if setting:
        return Path(setting)
    if sys.prefix == sys.base_prefix:
        return None
    return Path(sys.prefix) / "genrep-cache" / "yaml"


def _cache_file(key: tuple[str, bytes]) -> Path | None:
    """The file ``key`` (path, exact bytes) is kept in, or None when nothing is kept for it."""
    where = cache_dir()
    if where is None or _SALT is None:
        return None
    try:
        resolved = Path(key[0]).resolve()
    except (OSError, RuntimeError):
        return None
    if not any(resolved.is_relative_to(root) for root in CACHED_ROOTS):
        return None
    import hashlib
    digest = hashlib.sha256(_SALT + key[0].encode("utf-8", "surrogateescape") + b"\0" + key[1]).hexdigest()
    return where / f"{digest}.pickle"


class _PlainDataUnpickler(pickle.Unpickler):
    """Only the classes a parsed document holds (``_ALLOWED_CLASSES``); anything else is refused."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name} is not kept in a parsed YAML document")
        return super().find_class(module, name)


def _stored(target: Path | None) -> Any:
    """The document kept in ``target`` (``_cache_file``), or ``_MISSING``."""
    if target is None:
        return _MISSING
    try:
        with open(target, "rb") as f:
            return _PlainDataUnpickler(f).load()
    except FileNotFoundError:
        return _MISSING
    except Exception:  # noqa: BLE001 - unreadable, truncated or foreign: parsed again (and rewritten)
        return _MISSING


#: entries older than this go when a process next writes one (a project copied to a temporary
#: folder, as some of genrep's own tests do, leaves entries that no file will ask for again)
CACHE_KEEP_S = 7 * 24 * 3600
_PRUNED = False


def _prune(folder: Path) -> None:
    """Once per process: remove entries written more than ``CACHE_KEEP_S`` ago."""
    global _PRUNED
    if _PRUNED:
        return
    _PRUNED = True
    import time
    oldest = time.time() - CACHE_KEEP_S
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.stat().st_mtime < oldest:
                        os.unlink(entry.path)
                except OSError:
                    pass
    except OSError:
        pass


def _store(target: Path | None, parsed: Any) -> None:
    """Keep ``parsed`` in ``target`` for the next process (atomically: a reader sees the whole file or
    none); a folder that cannot be written keeps nothing, silently: the cache only saves time."""
    if target is None:
        return
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _prune(target.parent)
        tmp.write_bytes(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, target)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        try:
            tmp.unlink()
        except OSError:
            pass


def _parse(path: Path, raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    loader = None
    try:
        loader = _BoundedLoader(text, str(path))  # the reader checks the characters here already
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                          line=(mark.line + 1) if mark else None) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise ConfigError("file is empty", file=str(path))
    _check_expansion(node, str(path))
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
