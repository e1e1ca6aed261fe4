"""The ``genrep`` command line: rehearse, report, sim, selftest, gate, bench, load, certs, defects, steps, lint.

Here: the argument parser, signals and exit codes; the commands themselves are in ``verdict``
(rehearse, gate, report, selftest, steps, lint), ``environment`` (sim up, contract check, certs
check, defects) and ``performance`` (load, bench).

Exit codes: 0 GO / success (also PARTIAL GO: nothing failed and the only parts missing are those
the caller waived with ``--accept-partial``), 1 NO-GO / checks failed, 2 bad input or configuration
(the message names the file and key; also a run stopped because it was about to send a personnummer
that is not on the allowlist: no verdict), 3 the system under test could not be reached, 4 INCOMPLETE
(nothing failed, but the run lacks parts of the scope a GO needs, contracts/gate.yaml: a test type,
an integration, a load profile, its minimum duration or users, an untested requirement), 5 GO WITH
RECORDED DEVIATIONS (open defects block a plain GO, each covered by a valid signed deviation in the
defect register: a release pipeline must accept 5 explicitly), 130
interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (what CI cancel and ``timeout`` send).

SIGTERM takes the Ctrl-C path: ``main`` turns it into ``Terminated`` (a KeyboardInterrupt), so every
``finally`` that stops simulators, the feature suite's process group or Locust runs for both, and
nothing is left behind. Nothing is started, and no output folder cleared, before the arguments, the
configuration, the output folders and (for ``rehearse`` and ``selftest``) the feature files (lint
errors) are valid.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import threading

from genrep.errors import ConfigError, GenrepError, TransportError
from genrep.cli.environment import _cmd_certs_check, _cmd_contract_check, _cmd_defects, _cmd_sim_up
from genrep.cli.explore import register as _register_explore
from genrep.cli.mutate import register as _register_mutate
from genrep.cli.parity import register as _register_parity
from genrep.cli.performance import _cmd_bench, _cmd_bench_load, _cmd_load
from genrep.cli.verdict import _cmd_gate, _cmd_lint, _cmd_rehearse, _cmd_report, _cmd_selftest, _cmd_steps


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so it unwinds exactly like Ctrl-C."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(f"signal {signum}")
        self.signum = signum


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt_on_signals() -> dict | None:
    """SIGINT raises KeyboardInterrupt and SIGTERM raises Terminated, once: a second signal while
    the first one unwinds (stopping simulators, suite, Locust) is ignored, so that is not cut short.
    Returns the handlers it replaced (None outside the main thread, where it cannot install any)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _on_signal(signum, frame):
        for sig in _SIGNALS:
            signal.signal(sig, lambda *_: None)
        raise Terminated(signum) if signum == signal.SIGTERM else KeyboardInterrupt()

    return {sig: signal.signal(sig, _on_signal) for sig in _SIGNALS}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("genrep")
    except PackageNotFoundError:
        return "unknown (not installed)"


_SIGNALS_HELP = ("130, 143", "interrupted by Ctrl-C (SIGINT), stopped by SIGTERM (a CI cancel, timeout): "
                                "everything the command started is stopped first")

#: Per command (its words after ``genrep``): the exit codes it can give, each with what it means there
#: (README "For CI"; each command's code in genrep.cli.*), and example invocations. Every parser's
#: --help ends with them (``_finish``); tests/unit/test_cli_help.py fails when a command has none.
COMMAND_HELP: dict[tuple[str, ...], tuple[list[tuple[str, str]], list[str]]] = {
    (): ([("0", "GO, or PARTIAL GO (only with --accept-partial), or the command succeeded"),
          ("1", "NO-GO, or the command's checks failed"),
          ("2", "bad input or configuration (the message names file, key and line); also a run stopped "
                "because it was about to send a personnummer that is not on the allowlist (IDENTITY REFUSED, "
                "no verdict), and a usage error"),
          ("3", "the system under test could not be reached"),
          ("4", "INCOMPLETE: nothing failed, but the run lacks parts of the scope a GO needs "
                "(contracts/gate.yaml: a test type, an integration, a load profile, an untested requirement)"),
          ("5", "GO WITH RECORDED DEVIATIONS: open defects, each covered by a valid signed deviation in the "
                "defect register; a release pipeline must accept 5 explicitly"),
          _SIGNALS_HELP],
         ["genrep rehearse                          # every feature against the virtual environment",
          "genrep rehearse --list --name \"utsträckt hand\"",
          "genrep rehearse --env region-test --load golive_morning:60s",
          "genrep lint features/",
          "genrep COMMAND --help                    # the exit codes of that command, with examples"]),
    ("rehearse",): (
        [("0", "GO; PARTIAL GO with --accept-partial (the waived parts listed in every output); "
               "--list: the selection was printed"),
         ("1", "NO-GO: a failure blocks go-live"),
         ("2", "bad input or configuration, before anything starts: the profile, a contract, the defect "
               "register, a --manual results file, an unknown --defect or --accept-partial part, an invalid -k/-m, feature files with "
               "lint errors, a --results folder or verdict file genrep did not write, a credential the profile "
               "names that is not set (pre-flight); also a suite that cannot be collected, a run over "
               "--timeout, and IDENTITY REFUSED (stopped before sending a personnummer not on the allowlist; "
               "VERDICT: none)"),
         ("3", "an endpoint the selected scenarios need cannot be reached (pre-flight, within seconds; "
               "VERDICT: none)"),
         ("4", "INCOMPLETE: nothing failed, but a part of the scope a GO needs did not run (a test type, an "
               "integration, a load profile or its minimum duration/users, an untested requirement)"),
         ("5", "GO WITH RECORDED DEVIATIONS: a release pipeline accepts it explicitly (see the examples)"),
         _SIGNALS_HELP],
        ["genrep rehearse                                   # every feature, virtual environment",
         "genrep rehearse --load golive_morning:60s --load failover_under_load --load soak",
         "genrep rehearse --env region-test --accept-partial performance   # pre-merge, never a release",
         "genrep rehearse --name \"utsträckt hand\"           # one scenario by title: reports/runs/<timestamp>/",
         "genrep rehearse -m \"RAD-R12 or nll\" --list        # what a selection runs; nothing starts",
         "genrep rehearse --defect radiology-truncation -m RAD-R01   # must end NO-GO naming RAD-R01",
         "genrep rehearse --env region-test --load golive_morning || [ $? -eq 5 ]   # accepts deviations"]),
    ("report",): (
        [("0", "the HTML report was written"),
         ("2", "no Allure results in the folder, Java or Allure missing, or 'allure generate' failed"),
         _SIGNALS_HELP],
        ["genrep report",
         "genrep report --results reports/runs/20250301-101500/allure-results --out /tmp/report"]),
    ("gate",): (
        [("0", "GO; PARTIAL GO with --accept-partial"),
         ("1", "NO-GO"),
         ("2", "no results or not Allure results in the folder, a bad contract, defect register or --manual "
               "results file, an unknown "
               "--accept-partial part, a verdict file beside the folder that genrep did not write"),
         ("4", "INCOMPLETE: a part of the scope a GO needs is missing from the results"),
         ("5", "GO WITH RECORDED DEVIATIONS")],
        ["genrep gate --results reports/allure-results",
         "genrep gate --results reports/allure-results --accept-partial performance --lang sv"]),
    ("sim",): (
        [("0, 1, 2, 130, 143", "those of the subcommand: genrep sim up --help"),
         ("2", "no subcommand, or an unknown one")],
        ["genrep sim up",
         "genrep sim up --env virtual-tls"]),
    ("sim", "up"): (
        [("0", "stopped by Ctrl-C or SIGTERM, its normal end (the simulators are stopped: \"stopped.\")"),
         ("1", "a simulator exited unexpectedly"),
         ("2", "bad input or configuration: a profile that is not virtual (sim up starts virtual, virtual-tls), "
               "an unknown --defect, simulators that could not start"),
         ("130, 143", "Ctrl-C or SIGTERM while the environment was still starting")],
        ["genrep sim up",
         "genrep sim up --env virtual-tls --mllp-port 2575 --fhir-port 8080",
         "genrep sim up --defect radiology-truncation:3000 --defect nll-linebreaks"]),
    ("selftest",): (
        [("0", "SELFTEST: PASS: every defect goes red on the requirements that must catch it, with the "
               "expected classification, and the clean run is green"),
         ("1", "SELFTEST: FAIL: a defect missed or caught as the wrong kind, or the clean run not green"),
         ("2", "an unknown --defect, feature files with lint errors, bad configuration"),
         _SIGNALS_HELP],
        ["genrep selftest",
         "genrep selftest --integration radiology --jobs 2",
         "genrep selftest --defect nll-linebreaks --full"]),
    ("contract",): (
        [("0, 1, 2, 3, 130, 143", "those of the subcommand: genrep contract check --help"),
         ("2", "no subcommand, or an unknown one")],
        ["genrep contract check nll"]),
    ("contract", "check"): (
        [("0", "no drift the consumer relies on"),
         ("1", "DRIFT: BREAKING"),
         ("2", "an unknown contract, --release against a real profile, test patients not on the allowlist, "
               "bad configuration"),
         ("3", "the provider could not be reached"),
         _SIGNALS_HELP],
        ["genrep contract check nll",
         "genrep contract check nll --release N+1 --json"]),
    ("certs",): (
        [("0, 1, 2, 3, 130, 143", "those of the subcommand: genrep certs check --help"),
         ("2", "no subcommand, or an unknown one")],
        ["genrep certs check --env virtual-tls"]),
    ("certs", "check"): (
        [("0", "every certificate is valid (chain, host name) for at least the threshold"),
         ("1", "a certificate is invalid or expires within the threshold"),
         ("2", "bad input or configuration: the profile, a negative --warn-days, a --results folder genrep "
               "did not create"),
         ("3", "an endpoint could not be reached (and no certificate failed)"),
         _SIGNALS_HELP],
        ["genrep certs check --env virtual-tls",
         "genrep certs check --env region-test --warn-days 45 --results reports/allure-results --json"]),
    ("parity",): (
        [("0", "every entry point passed the smoke journey and is configured alike"),
         ("1", "an entry point differs: its fingerprint, its own configuration rules or the smoke journey"),
         ("2", "bad input or configuration: the profile names no entry points of the system, an unknown "
               "system or defect, a --results folder genrep did not create"),
         ("3", "an entry point could not be reached"),
         _SIGNALS_HELP],
        ["genrep parity",
         "genrep parity --defect parity-node-b-no-multum",
         "genrep parity --env region-test --results reports/allure-results --json"]),
    ("defects",): (
        [("0", "the defects were listed")],
        ["genrep defects",
         "genrep rehearse --defect radiology-truncation -m RAD-R01   # then replay one"]),
    ("bench",): (
        [("0, 1, 130, 143", "those of the subcommand: genrep bench mllp --help, genrep bench load --help"),
         ("2", "no subcommand, or an unknown one")],
        ["genrep bench mllp", "genrep bench load"]),
    ("bench", "mllp"): (
        [("0", "PASS: the virtual EHR reaches the floor of the asyncio echo baseline"),
         ("1", "FAIL: below the floor"),
         ("2", "a usage error"),
         _SIGNALS_HELP],
        ["genrep bench mllp",
         "genrep bench mllp --messages 5000 --rounds 5"]),
    ("bench", "load"): (
        [("0", "the load users' overhead is within the floors against bare Locust users"),
         ("1", "a harness user is below its floor"),
         ("2", "a usage error"),
         _SIGNALS_HELP],
        ["genrep bench load",
         "genrep bench load --seconds 15 --rounds 5 --users 8"]),
    ("load",): (
        [("0", "SLA: MET, every threshold of contracts/load.yaml"),
         ("1", "SLA: MISSED: a threshold missed (a real miss stays one, whatever the host did)"),
         ("2", "bad input or configuration: an unknown profile, a bad --duration, the environment profile, a "
               "credential it names that is not set (pre-flight), a --results folder genrep did not create"),
         ("3", "an endpoint could not be reached (pre-flight, before Locust starts)"),
         ("4", "SLA: INCONCLUSIVE (reason): the timing figures measure a saturated load generator or a host "
               "busy with other work, or the run stopped early (a Locust worker lost): not verified, never "
               "a product defect (per threshold and in sla.json)"),
         _SIGNALS_HELP],
        ["genrep load golive_morning --duration 120s",
         "genrep load steady_day --users 40 --duration 10m --results reports/allure-results",
         "genrep load failover_under_load --duration 60s",
         "genrep load steady_day --defect radiology-drops-under-load   # must end SLA: MISSED"]),
    ("steps",): (
        [("0", "the catalogue was printed (and written, with --write)"),
         ("2", "the step definitions or the catalogue could not be loaded")],
        ["genrep steps",
         "genrep steps --format markdown --write        # docs/steps.md",
         "genrep steps --format json"]),
    ("lint",): (
        [("0", "no errors (warnings are printed, and do not fail)"),
         ("1", "errors, each with file:line and what to do"),
         ("2", "a path that is neither a feature file nor a folder, or step definitions that do not load")],
        ["genrep lint",
         "genrep lint features/radiology/rapport_fidelitet.sv.feature"]),
    ("mutate",): (
        [("0", "every judged integration's mutation score meets the target and the run is complete; "
               "--list: the operators were listed"),
         ("1", "a score below the target, a run cut short by --budget, or a control run that is not green"),
         ("2", "bad input or configuration: an unknown operator or integration, an invalid -k/-m, a bad "
               "--budget or --target, feature files with lint errors, an output folder genrep did not create"),
         ("3", "the environment could not be reached"),
         _SIGNALS_HELP],
        ["genrep mutate --list",
         "genrep mutate --integration radiology --budget 900",
         "genrep mutate --operator obx-last-line-dropped --all-scenarios"]),
    ("explore",): (
        [("0", "no finding (--replay: the example passes now)"),
         ("1", "findings, each shrunk to a minimal example (--replay: it still fails)"),
         ("2", "bad input or configuration: a generator or --require that cannot apply to the integration, "
               "an unreadable finding file, a --defect or nll on a real profile, a --budget that ran out "
               "before one example"),
         ("3", "the environment could not be reached"),
         _SIGNALS_HELP],
        ["genrep explore --integration radiology --examples 40 --seed 1",
         "genrep explore --integration nll --budget 60",
         "genrep explore --defect radiology-truncation             # must find, shrunk near 4,000 bytes",
         "genrep explore --replay reports/explore/findings/FINDING.json"]),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs kept line by line (examples stay one per line); option help wrapped
    at spaces only, so a defect or profile name is never split at its hyphens."""

    def _split_lines(self, text, width):
        return textwrap.wrap(self._whitespace_matcher.sub(" ", text).strip(), width, break_on_hyphens=False)


def _epilog(codes: list[tuple[str, str]], examples: list[str]) -> str:
    """'exit codes:' and 'examples:' blocks, laid out for RawDescriptionHelpFormatter (kept as is)."""
    width = max(len(code) for code, _ in codes)
    lines = ["exit codes:"]
    for code, meaning in codes:
        wrapped = textwrap.wrap(meaning, width=96 - width - 4, break_on_hyphens=False) or [""]
        lines.append(f"  {code.ljust(width)}  {wrapped[0]}")
        lines += [f"  {'':{width}}  {more}" for more in wrapped[1:]]
    return "\n".join(lines + ["", "examples:"] + [f"  {ex}" for ex in examples])


def _defect_names() -> str:
    """The valid --defect names, from the registry (genrep.sim.defects.DEFECTS), never typed here."""
    from genrep.sim.defects import DEFECTS
    return ", ".join(DEFECTS)


def _subparsers(parser: argparse.ArgumentParser):
    """(name, parser, one-line help) of each subcommand of ``parser``."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, sub, helps.get(name)


def _finish(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Every parser, this one and each below it: its one-line help as its description, the exit codes
    and examples of ``COMMAND_HELP`` as its epilog (RawDescriptionHelpFormatter keeps their lines),
    and every ``--defect`` option's help naming the valid defects."""
    parser.formatter_class = HelpFormatter
    if path in COMMAND_HELP:
        parser.epilog = _epilog(*COMMAND_HELP[path])
    for action in parser._actions:
        if "--defect" in action.option_strings and "valid names:" not in (action.help or ""):
            action.help = (action.help or "switch on a virtual-environment defect") + \
                f"; valid names: {_defect_names()}"
    for name, sub, help_text in _subparsers(parser):
        if sub.description is None and help_text:
            sub.description = textwrap.fill(help_text[:1].upper() + help_text[1:] + ".", width=100)
        _finish(sub, path + (name,))


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="genrep", description="Go-live dress-rehearsal harness for EHR integrations.",
                                 formatter_class=HelpFormatter)
    ap.add_argument("--version", action="version", version=f"genrep {_version()}")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("rehearse", help="run the feature suite against an environment and give the verdict")
    r.add_argument("--env", default=None, help="environment profile name or path (default GENREP_ENV or virtual)")
    r.add_argument("--defect", action="append", default=[], metavar="NAME[:PARAM]",
                   help="switch on a virtual-environment defect (repeatable; 'genrep defects' says what each does "
                        "and which requirements must catch it)")
    r.add_argument("--replay-2024", action="store_true",
                   help="switch on the defects that replay the November 2024 go-live incidents")
    r.add_argument("--results", default=None,
                   help="Allure results folder (default reports/allure-results; a -k, -m or --name run: "
                        "reports/runs/<timestamp>/allure-results, so the last full rehearsal's summary, "
                        "verdict, scorecard and trend stay as they were)")
    r.add_argument("-k", default=None, help="only scenarios matching this pytest -k expression")
    r.add_argument("-m", default=None, help="only scenarios with these tags (pytest -m expression)")
    r.add_argument("--name", default=None, metavar="TEXT",
                   help="only scenarios whose title contains TEXT (case-insensitive; spaces and åäö as typed), "
                        "e.g. --name \"Ingen fraktur\"")
    r.add_argument("--list", action="store_true",
                   help="list the scenarios the selection (-k, -m, --name) would run, with feature file:line, "
                        "tags and requirement ids, and exit 0 (nothing runs)")
    r.add_argument("--workers", type=int, default=0, help="parallel pytest-xdist workers")
    r.add_argument("--timeout", type=float, default=1800.0, help="bound for the whole run, seconds")
    r.add_argument("-v", "--verbose", action="store_true")
    r.add_argument("--no-html", action="store_true", help="skip the HTML report (reports/html)")
    r.add_argument("--explore", type=float, default=None, metavar="SECONDS",
                   help="budget of the explore pass after the features: generated texts per integration, seeded, "
                        "read back in every representation (default 20; 0 skips it; a -k/-m selection and "
                        "--replay-2024 skip it unless given)")
    r.add_argument("--load", action="append", default=[], metavar="PROFILE[:DURATION[:USERS]]",
                   help="after the features, run a load profile too (repeatable), e.g. golive_morning:120s; "
                        "its SLA results join the verdict")
    accept = dict(action="append", default=[], metavar="PART",
                  help="accept a run without this part of the gate's scope (contracts/gate.yaml scope.parts: "
                       "functional, performance; repeatable): the verdict is then PARTIAL GO (exit 0), never GO, "
                       "and the waived part is listed in every output. For a pre-merge pipeline, never a release")
    r.add_argument("--accept-partial", **accept)
    register = dict(default=None, metavar="FILE", help="the defect register and deviations (default "
                    "contracts/defects.yaml if it exists): tracker ids, assessed severities, recorded deviations")
    lang = dict(default=None, choices=("en", "sv"), help="language of summary.md and scorecard.html "
                "(default GENREP_LANG, else gate.yaml report.lang, else en)")
    r.add_argument("--register", **register)
    r.add_argument("--lang", **lang)
    manual = dict(action="append", default=[], metavar="FILE",
                  help="manual test results (user acceptance, usability, peripherals, workstream verification) "
                       "judged by the same verdict (repeatable): a CSV with the columns requirement, test_type, "
                       "result, tester, date, evidence[, comment], or a YAML column mapping (manual: 1, import:) "
                       "for another tool's export; see genrep.results.manual")
    r.add_argument("--manual", **manual)
    r.set_defaults(func=_cmd_rehearse)

    rp = sub.add_parser("report", help="HTML report (single file, no outside calls) from Allure results")
    rp.add_argument("--results", default=None, help="Allure results folder (default reports/allure-results)")
    rp.add_argument("--out", default=None, help="report folder (default reports/html)")
    rp.set_defaults(func=_cmd_report)

    g = sub.add_parser("gate", help="verdict from existing Allure results")
    g.add_argument("--results", default=None)
    g.add_argument("--accept-partial", **accept)
    g.add_argument("--register", **register)
    g.add_argument("--lang", **lang)
    g.add_argument("--manual", **manual)
    g.set_defaults(func=_cmd_gate)

    s = sub.add_parser("sim", help="the virtual environment")
    ssub = s.add_subparsers(dest="sim_command", required=True)
    up = ssub.add_parser("up", help="start the virtual environment in the foreground")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--mllp-port", type=int, default=2575)
    up.add_argument("--fhir-port", type=int, default=8080)
    up.add_argument("--defect", action="append", default=[], metavar="NAME[:PARAM]",
                    help="switch on a defect (repeatable)")
    up.add_argument("--env", default="virtual", help="virtual environment profile: virtual (default) or virtual-tls")
    up.set_defaults(func=_cmd_sim_up)

    st = sub.add_parser("selftest", help="prove every check goes red on its defect and green when clean")
    st.add_argument("--defect", action="append", default=[], metavar="NAME",
                    help="only these defects (repeatable; default: every defect of the feature suite)")
    st.add_argument("--integration", default=None, help="only defects of this integration (e.g. radiology)")
    st.add_argument("--jobs", type=int, default=2, help="suite runs in parallel")
    st.add_argument("--full", action="store_true",
                    help="run the whole suite per defect (slower; shows every scenario that catches it)")
    st.set_defaults(func=_cmd_selftest)

    c = sub.add_parser("contract", help="integration contracts")
    csub = c.add_subparsers(dest="contract_command", required=True)
    cc = csub.add_parser("check", help="check a provider against the consumer's contract (drift)")
    cc.add_argument("contract", help="contract name (nll)")
    cc.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    cc.add_argument("--release", default=None, choices=["N", "N+1"], help="virtual NLL release to check")
    cc.add_argument("--json", action="store_true", help="machine-readable report")
    cc.set_defaults(func=_cmd_contract_check)

    ce = sub.add_parser("certs", help="TLS certificates of an environment")
    cesub = ce.add_subparsers(dest="certs_command", required=True)
    cec = cesub.add_parser("check", help="days until expiry, chain and host name of every TLS endpoint's "
                                         "certificate and every client certificate; exit 1 under the threshold")
    cec.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    cec.add_argument("--warn-days", type=int, default=None,
                     help="fail when a certificate is valid for fewer days (default: the profile's "
                          "certificates.min_days_valid, or 30)")
    cec.add_argument("--results", default=None, help="also write one Allure result per certificate (SEC-CERT-001)")
    cec.add_argument("--json", action="store_true", help="machine-readable report")
    cec.set_defaults(func=_cmd_certs_check)

    _register_parity(sub)

    d = sub.add_parser("defects", help="list the switchable defects of the virtual environment")
    d.set_defaults(func=_cmd_defects)

    b = sub.add_parser("bench", help="benchmarks")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    bm = bsub.add_parser("mllp", help="harness MLLP client -> virtual EHR vs a raw asyncio echo baseline")
    bm.add_argument("--messages", type=int, default=2000)
    bm.add_argument("--rounds", type=int, default=3)
    bm.set_defaults(func=_cmd_bench)
    bl = bsub.add_parser("load", help="load users' overhead: FHIR user vs bare FastHttpUser, MLLP user vs raw loop")
    bl.add_argument("--seconds", type=float, default=8.0, help="length of each measured run (default 8)")
    bl.add_argument("--rounds", type=int, default=3)
    bl.add_argument("--users", type=int, default=4, help="users on each FHIR side (default 4)")
    bl.set_defaults(func=_cmd_bench_load)

    lo = sub.add_parser("load", help="run a Locust load profile (load/PROFILE.py) and check the SLAs "
                                     "of contracts/load.yaml")
    lo.add_argument("profile", help="load profile: golive_morning, steady_day, failover_under_load, soak")
    lo.add_argument("--users", type=int, default=None,
                    help="peak number of virtual users (default: the profile's, contracts/load.yaml)")
    lo.add_argument("--quiet", action="store_true", help="no progress lines while the profile runs")
    lo.add_argument("--duration", default="60s", help="run length: 60s, 5m, 1h (default 60s)")
    lo.add_argument("--workers", type=int, default=0,
                    help="Locust worker processes on this machine (0: one process)")
    lo.add_argument("--expect-workers", type=int, default=0,
                    help="multi-machine: wait for N Locust workers started on other machines "
                         "(settings for them in OUT/worker.env)")
    lo.add_argument("--master-bind-host", default="", help="multi-machine: interface the master listens on")
    lo.add_argument("--master-port", type=int, default=5557, help="multi-machine: the master's port (default 5557)")
    lo.add_argument("--defect", action="append", default=[], metavar="NAME[:PARAM]",
                    help="virtual-environment defect to replay under load (repeatable, e.g. multum-no-failover)")
    lo.add_argument("--env", default=None, help="environment profile (default GENREP_ENV or virtual)")
    lo.add_argument("--results", default=None,
                    help="also write one Allure result per SLA threshold into this folder (for genrep gate)")
    lo.add_argument("--out", default=None, help="statistics folder (default reports/load)")
    lo.set_defaults(func=_cmd_load)

    sc = sub.add_parser("steps", help="the step catalogue: every step, English and Swedish, with examples")
    sc.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    sc.add_argument("--write", nargs="?", const="-", default=None, metavar="PATH",
                    help="also write the Markdown page (default PATH: docs/steps.md)")
    sc.set_defaults(func=_cmd_steps)

    li = sub.add_parser("lint", help="check feature files without running them (steps, tags, names, syntax)")
    li.add_argument("paths", nargs="*", help="feature files or folders (default: features/)")
    li.set_defaults(func=_cmd_lint)

    _register_mutate(sub)
    _register_explore(sub)
    _finish(ap)  # descriptions, exit codes and examples, valid --defect names: every parser
    return ap


def main(argv: list[str] | None = None) -> int:
    previous = _interrupt_on_signals()
    try:
        return _main(argv)
    finally:
        for sig, handler in (previous or {}).items():  # main() called in-process (tests) leaves no trace
            signal.signal(sig, handler)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"genrep: configuration error: {exc}", file=sys.stderr)
        return 2
    except TransportError as exc:
        print(f"genrep: system under test unreachable: {exc}", file=sys.stderr)
        return 3
    except GenrepError as exc:
        print(f"genrep: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("genrep: stopped by SIGTERM", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("genrep: interrupted (Ctrl-C)", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
