"""A Locust run that ended but left its statistics file empty or cut off (seen once on a saturated
host in ``--processes`` mode) is an incomplete run: an INCONCLUSIVE ``sla.json`` and exit 4, never a
"configuration error" (exit 2) the tester would look for in their own files, and never a verdict."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from genrep.cli import _main
from genrep.errors import ConfigError, RunIncomplete
from genrep.load import runner
from genrep.load.contract import load_load_contract
from genrep.load.stats import read_stats


@pytest.mark.parametrize("content", ["", "[{\"name\": \"send_oru\", \"num_requ"])
def test_unreadable_statistics_make_the_run_incomplete(tmp_path, content):
    stats = tmp_path / "stats.json"
    stats.write_text(content, encoding="utf-8")
    run = SimpleNamespace(stats_json=stats, code=0, log_path=tmp_path / "locust.log")
    with pytest.raises(RunIncomplete, match="statistics could not be read"):
        runner.collected_or_incomplete(lambda: read_stats(stats), run, tmp_path, "golive_morning",
                                       load_load_contract())
    sla = json.loads((tmp_path / "sla.json").read_text(encoding="utf-8"))
    assert sla["verdict"] == "INCONCLUSIVE" and "statistics could not be read" in sla["incomplete"]
    assert sla["outcomes"] == []


def test_another_configuration_error_is_not_taken_for_missing_statistics(tmp_path):
    run = SimpleNamespace(stats_json=tmp_path / "stats.json", code=0, log_path=tmp_path / "locust.log")

    def collect():
        raise ConfigError("unknown key", file=str(tmp_path / "profile.yaml"))
    with pytest.raises(ConfigError, match="unknown key"):
        runner.collected_or_incomplete(collect, run, tmp_path, "golive_morning", load_load_contract())
    assert not (tmp_path / "sla.json").exists()


def test_the_cli_says_incomplete_and_exits_4(monkeypatch, capsys):
    def run_load(*_a, **_kw):
        raise RunIncomplete("Locust ended (exit 0) but its statistics could not be read")
    monkeypatch.setattr(runner, "run_load", run_load)
    assert _main(["load", "steady_day", "--duration", "5s", "--quiet"]) == 4
    assert "genrep: incomplete: Locust ended" in capsys.readouterr().err
