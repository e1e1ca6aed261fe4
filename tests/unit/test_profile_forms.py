"""Every form of ``--env`` that is not a readable profile is a ConfigError naming the problem (the CLI
turns it into exit 2 and one line), never a traceback, a silent default or a hang (genrep.config.profile.
load_profile, genrep.yamlfile.read_bounded)."""

from __future__ import annotations

import os
import threading

import pytest

from genrep import yamlfile
from genrep.paths import ENVIRONMENTS_DIR
from genrep.config.profile import load_profile
from genrep.errors import ConfigError


def refused(value, timeout: float = 5.0) -> ConfigError:
    """The ConfigError ``load_profile(value)`` raises, run in a thread with a generous guard: a FIFO
    that blocks the open would otherwise hang the test (and the harness) forever."""
    box: dict = {}

    def run():
        try:
            box["result"] = load_profile(value, defects=())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"load_profile({value!r}) still running after {timeout} s"
    err = box.get("error")
    assert isinstance(err, ConfigError), f"load_profile({value!r}) gave {err!r} / {box.get('result')!r}"
    assert "\n" not in str(err), str(err)
    return err


def test_a_directory(tmp_path):
    for value in (str(tmp_path), f"{tmp_path}/", str(ENVIRONMENTS_DIR)):
        err = refused(value)
        assert "is a directory" in str(err) and value.rstrip("/") in str(err)


def test_a_path_with_a_suffix_that_does_not_exist(tmp_path):
    for value in ("no-such-profile.yaml", str(tmp_path / "nope.yml")):
        err = refused(value)
        assert "no such profile file" in str(err) and value in str(err) and "virtual" in str(err)


def test_a_name_with_separators_that_does_not_exist(tmp_path):
    for value in ("team/staging", str(tmp_path / "sub" / "env"), "../../etc/virtual"):
        err = refused(value)
        assert "no such profile file" in str(err) and value in str(err)


def test_an_unknown_plain_name_lists_the_known_ones():
    err = refused("no-such-env")
    assert "no environment profile 'no-such-env'" in str(err) and "virtual-tls" in str(err)


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_value_is_refused_not_taken_as_the_default(value, monkeypatch):
    monkeypatch.setenv("GENREP_ENV", "virtual")
    err = refused(value)
    assert "empty" in str(err) and "virtual" in str(err)


def test_unset_or_empty_genrep_env_still_means_virtual(monkeypatch):
    monkeypatch.delenv("GENREP_DEFECTS", raising=False)
    for value in (None, ""):
        if value is None:
            monkeypatch.delenv("GENREP_ENV", raising=False)
        else:
            monkeypatch.setenv("GENREP_ENV", value)
        assert load_profile(None).name == "virtual"


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: v\u00e4st\nkind: virtual\n".encode("latin-1"))
    err = refused(str(path))
    assert "not UTF-8" in str(err) and str(path) in str(err)


def test_a_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nkind: [virtual\nendpoints: {}\n", encoding="utf-8")
    err = refused(str(path))
    assert "invalid YAML" in str(err) and err.line is not None and f"{path}:{err.line}" in str(err)


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "a list"), ("just words\n", "a single value"),
                                        ("42\n", "a single value")])
def test_yaml_that_is_not_a_mapping(tmp_path, text, kind):
    path = tmp_path / "list.yaml"
    path.write_text(text, encoding="utf-8")
    err = refused(str(path))
    assert "must be a mapping" in str(err) and kind in str(err) and str(path) in str(err)


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing here\n", encoding="utf-8")
    assert "empty" in str(refused(str(path)))


def test_a_fifo_does_not_hang_the_loader(tmp_path):
    fifo = tmp_path / "profile.yaml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes
    err = refused(str(fifo))
    assert "FIFO" in str(err) and str(fifo) in str(err)


def test_a_character_device(tmp_path):
    err = refused("/dev/null")
    assert "character device" in str(err)


def test_a_symlink_loop(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    err = refused(str(a))
    assert "symbolic link loop" in str(err) and str(a) in str(err)


def test_a_dangling_symlink(tmp_path):
    link = tmp_path / "gone.yaml"
    link.symlink_to(tmp_path / "missing.yaml")
    assert "no such profile file" in str(refused(str(link)))


def test_an_unreadable_file(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("name: x\nkind: virtual\n", encoding="utf-8")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as root (or with CAP_DAC_OVERRIDE): mode 000 does not stop reading here; "
                    "test_permission_denied_is_named covers the path with a simulated EACCES")
    err = refused(str(path))
    assert "permission denied" in str(err) and str(path) in str(err)


def test_permission_denied_is_named(tmp_path, monkeypatch):
    """What an unreadable profile gives, simulated (tests run as root here, where mode 000 reads)."""
    path = tmp_path / "secret.yaml"
    path.write_text("name: x\nkind: virtual\n", encoding="utf-8")
    real_open = os.open

    def no_access(p, *args, **kwargs):
        if os.fspath(p) == str(path):
            raise PermissionError(13, "Permission denied", str(p))
        return real_open(p, *args, **kwargs)

    monkeypatch.setattr(yamlfile.os, "open", no_access)
    err = refused(str(path))
    assert "permission denied" in str(err) and str(path) in str(err)


def test_an_oversized_file(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"name: x\nkind: virtual\n" + b"# padding\n" * (yamlfile.MAX_BYTES // 10 + 1))
    err = refused(str(path))
    assert f"{yamlfile.MAX_BYTES:,} bytes" in str(err) and str(path) in str(err)


def test_a_file_name_with_a_nul_byte():
    assert "NUL" in str(refused("virtual\0.yaml"))


def test_a_name_in_a_sub_folder_of_environments_still_works(tmp_path, monkeypatch):
    import genrep.config.profile as config

    envs = tmp_path / "environments"
    (envs / "team").mkdir(parents=True)
    (envs / "team" / "staging.yaml").write_text("name: staging\nkind: virtual\n", encoding="utf-8")
    (tmp_path / "outside.yaml").write_text("name: outside\nkind: virtual\n", encoding="utf-8")
    monkeypatch.setattr(config, "ENVIRONMENTS_DIR", envs)
    monkeypatch.chdir(tmp_path)
    assert load_profile("team/staging", defects=()).name == "staging"
    assert load_profile(str(envs / "team" / ".." / "team" / "staging.yaml"), defects=()).name == "staging"
    assert "no such profile file" in str(refused("team/../../outside"))  # a name does not leave the folder
    assert load_profile("outside.yaml", defects=()).name == "outside"  # a path is a path
