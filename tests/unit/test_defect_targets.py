"""Each start-up defect names the simulator it is built into; sim.process passes it there (its own
flags or ``--defect NAME[:PARAM]``), never routed by name."""

from __future__ import annotations

import pytest

from genrep.errors import ConfigError
from genrep.sim.defects import DEFECTS, TARGETS, Defect, startup_args


def test_every_defect_names_its_simulator():
    assert TARGETS == ("ehr", "multum-lb", "ehr-b")  # ehr-b: the second EHR node (parity)
    assert {n for n, d in DEFECTS.items() if d.target == "ehr-b"} == {
        "parity-node-b-no-multum", "parity-node-b-no-schedule-templates"}
    for d in DEFECTS.values():
        assert d.target in TARGETS
        assert not d.flags or d.default_param is None
    lb = {name: d.flags for name, d in DEFECTS.items() if d.target == "multum-lb"}
    assert lb == {"multum-no-failover": ("--no-failover",), "multum-no-failback": ("--no-failback",),
                  "multum-no-loadbalancing": ("--policy", "primary-backup")}
    assert DEFECTS["multum-silent-empty"].target == "ehr"  # a Multum defect that lives in the EHR


def test_startup_args_route_each_defect_to_its_target():
    specs = ("radiology-truncation:1000", "multum-no-failover", " nll-linebreaks ", "multum-no-loadbalancing",
             "multum-silent-empty")
    assert startup_args(specs, "ehr") == ["--defect", "radiology-truncation:1000", "--defect", "nll-linebreaks",
                                          "--defect", "multum-silent-empty"]
    assert startup_args(specs, "multum-lb") == ["--no-failover", "--policy", "primary-backup"]
    assert startup_args((), "ehr") == [] and startup_args(("", " "), "multum-lb") == []


def test_startup_args_refuse_unknown_defects_and_targets():
    with pytest.raises(ConfigError, match="unknown defect 'multum-explodes'"):
        startup_args(("multum-explodes",), "multum-lb")
    with pytest.raises(ValueError, match="unknown defect target 'nll'"):
        startup_args(("nll-linebreaks",), "nll")


def test_a_defect_must_name_a_known_target():
    with pytest.raises(ValueError, match="unknown target 'multum-a'"):
        Defect("x", "multum", "multum-a", "", None, ("MUL-M01",), ("failover_failed",))
    with pytest.raises(ValueError, match="parameter goes with --defect"):
        Defect("x", "multum", "multum-lb", "", 3, ("MUL-M01",), ("failover_failed",), flags=("--no-failover",))
