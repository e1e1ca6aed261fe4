"""The YAML loader's bounds (genrep.yamlfile): a profile can come from any path, so a few hundred bytes
of nested aliases ("billion laughs"), a nesting deep enough to exhaust Python's stack, or a huge file
must be refused with a ConfigError naming the file, the line and the limit, in bounded time; and
every real YAML file in the repository must still load, far inside those limits."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import yaml

from genrep import yamlfile
from genrep.config.profile import load_profile
from genrep.errors import ConfigError
from genrep.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_yaml

ROOT = Path(__file__).resolve().parents[2]  # the repository
GUARD_S = 5.0  # a generous guard against a hang, not a speed requirement


def outcome_within(fn, timeout: float = GUARD_S):
    """Run ``fn`` in a thread; the exception it raised (or its result), failing if it is still
    running after ``timeout`` s (the daemon thread is left behind to finish on its own)."""
    box: dict = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"still running after {timeout} s: the loader hangs"
    return box.get("error", box.get("result"))


def laughs(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level a list of ``width`` aliases to the level before."""
    lines = ["name: bomb", "kind: virtual", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        this, before = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{this}: &{this} [" + ",".join([f"*{before}"] * width) + "]")
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- alias expansion -----------------------------------------------------------------------------

def test_billion_laughs_is_refused_naming_file_line_and_limit(tmp_path):
    text = laughs()
    assert len(text.encode()) < 400  # a few hundred bytes that expand to 9**9 = 387,420,489 strings
    path = write(tmp_path, text)
    err = outcome_within(lambda: load_yaml(path))
    assert isinstance(err, ConfigError), err
    assert str(path) in str(err) and f"{MAX_NODES:,}" in str(err) and "alias" in str(err)
    # the first level whose expansion passes 100,000 nodes: 9**6 = 531,441 strings at level f (line 8)
    assert err.line == 8 and f"{path}:8" in str(err)


def test_billion_laughs_as_a_profile_is_a_config_error(tmp_path):
    err = outcome_within(lambda: load_profile(str(write(tmp_path, laughs())), defects=()))
    assert isinstance(err, ConfigError) and "nodes" in str(err)


def test_alias_bomb_through_mappings_is_refused(tmp_path):
    lines = ["a: &a {x: 1, y: 2, z: 3, w: 4}"]
    for i in range(1, 12):
        this, before = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{this}: &{this} {{p: *{before}, q: *{before}, r: *{before}, s: *{before}}}")
    err = outcome_within(lambda: load_yaml(write(tmp_path, "\n".join(lines) + "\n")))
    assert isinstance(err, ConfigError) and f"{MAX_NODES:,}" in str(err)


def test_ordinary_aliases_still_expand(tmp_path):
    data = load_yaml(write(tmp_path, "base: &b {host: h, port: 1}\none: *b\ntwo: [*b, *b]\n"))
    assert data["one"] == {"host": "h", "port": 1} and data["two"] == [data["one"]] * 2


def test_recursive_alias_still_refused(tmp_path):
    err = outcome_within(lambda: load_yaml(write(tmp_path, "a: 1\nb: &x {c: [*x]}\n")))
    assert isinstance(err, ConfigError) and "recursive" in str(err) and err.line == 2


# -- nesting -------------------------------------------------------------------------------------

@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000])
def test_deep_flow_nesting_is_refused(tmp_path, levels):
    path = write(tmp_path, "a: " + "[" * levels + "]" * levels + "\n")
    err = outcome_within(lambda: load_yaml(path))
    assert isinstance(err, ConfigError), err  # not a RecursionError from PyYAML's composer
    assert f"deeper than {MAX_DEPTH}" in str(err) and str(path) in str(err) and err.line == 1


def test_deep_block_nesting_is_refused_naming_the_line(tmp_path):
    levels = 200
    text = "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"
    err = outcome_within(lambda: load_yaml(write(tmp_path, text)))
    assert isinstance(err, ConfigError) and f"deeper than {MAX_DEPTH}" in str(err)
    assert err.line == MAX_DEPTH  # the top mapping is level 1; key k{L-1} on line L is level L+1


def test_depth_reached_only_through_aliases_is_refused(tmp_path):
    # each anchor is 40 levels deep, well inside the limit; the alias puts one inside the other
    inner = "[" * 40 + "1" + "]" * 40
    outer = "[" * 40 + "*x" + "]" * 40
    err = outcome_within(lambda: load_yaml(write(tmp_path, f"a: &x {inner}\nb: {outer}\n")))
    assert isinstance(err, ConfigError) and "alias" in str(err) and f"deeper than {MAX_DEPTH}" in str(err)


def test_nesting_at_the_limit_loads(tmp_path):
    levels = MAX_DEPTH - 1  # the top-level mapping is the first level
    data = load_yaml(write(tmp_path, "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"))
    assert isinstance(data["a"], list)


# -- size and node count -------------------------------------------------------------------------

def test_file_over_the_size_limit_is_refused_naming_line_and_limit(tmp_path):
    line = "# " + "x" * 97 + "\n"  # 100 bytes a line
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + line.encode() * (MAX_BYTES // 100 + 1))
    err = outcome_within(lambda: load_yaml(path))
    assert isinstance(err, ConfigError) and f"{MAX_BYTES:,} bytes" in str(err) and str(path) in str(err)
    assert err.line == (MAX_BYTES - 5) // 100 + 2


def test_file_at_the_size_limit_loads(tmp_path):
    head = b"a: 1\n"
    path = tmp_path / "limit.yaml"
    path.write_bytes(head + b"#" * (MAX_BYTES - len(head) - 1) + b"\n")
    assert path.stat().st_size == MAX_BYTES
    assert load_yaml(path) == {"a": 1}


def test_too_many_plain_nodes_are_refused_while_composing(tmp_path, monkeypatch):
    # a flat list under 1 MiB with more nodes than the limit (lowered here to keep the test fast)
    monkeypatch.setattr(yamlfile, "MAX_NODES", 1_000)
    path = write(tmp_path, "a:\n" + "".join(f"  - {i}\n" for i in range(1_500)))
    err = outcome_within(lambda: load_yaml(path))
    assert isinstance(err, ConfigError) and "more than 1,000 nodes" in str(err)
    assert err.line == 999  # the 1,001st node: the mapping, its key, the list, then item 997 on line 999


# -- the real files ------------------------------------------------------------------------------

def _real_yaml_files() -> list[Path]:
    skip = {".venv", ".git", "reports", "node_modules"}
    return sorted(p for p in ROOT.rglob("*.y*ml")
                  if p.suffix in (".yaml", ".yml") and not skip & set(p.relative_to(ROOT).parts))


def _expanded(node, depth: int = 1) -> tuple[int, int]:
    if isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = node.value
    else:
        return 1, depth
    total, deepest = 1, depth
    for child in children:
        n, d = _expanded(child, depth + 1)
        total, deepest = total + n, max(deepest, d)
    return total, deepest


def test_every_real_yaml_file_loads_far_inside_the_limits():
    files = _real_yaml_files()
    folders = {p.relative_to(ROOT).parts[0] for p in files}
    assert {"contracts", "environments"} <= folders, folders
    for path in files:
        load_yaml(path)  # raises on any refusal
        size = path.stat().st_size
        nodes, depth = _expanded(yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader))
        # the margins the module docstring promises (largest today: 25,530 bytes, 1,142 nodes, depth 7)
        assert size * 20 < MAX_BYTES and nodes * 20 < MAX_NODES and depth * 5 < MAX_DEPTH, (path, size, nodes, depth)


def test_every_shipped_profile_still_loads(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    for path in sorted((ROOT / "environments").glob("*.yaml")):
        assert load_profile(str(path), defects=()).name


def test_a_file_read_again_is_its_current_content_and_never_shared_data(tmp_path):
    """load_yaml remembers parsed files by their bytes: an edit is seen at once, and a caller that
    changes what it got changes nothing another caller gets."""
    path = tmp_path / "c.yaml"
    path.write_text("a:\n  b: [1, 2]\n", encoding="utf-8")
    first = load_yaml(path)
    first["a"]["b"].append(3)
    first["a"]["new"] = 1
    again = load_yaml(path)
    assert again == {"a": {"b": [1, 2]}} and again.line_of("a") == 1 and again["a"].line_of("b") == 2
    assert again.file == str(path) and again["a"] is not first["a"]
    path.write_text("a:\n  b: [1, 2]\n  c: x\n", encoding="utf-8")
    assert load_yaml(path) == {"a": {"b": [1, 2], "c": "x"}}
    path.write_text("a: [\n", encoding="utf-8")  # broken after it was read fine: refused, never the old data
    with pytest.raises(ConfigError):
        load_yaml(path)
