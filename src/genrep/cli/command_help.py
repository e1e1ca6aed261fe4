"""What every ``genrep`` parser's ``--help`` ends with: the exit codes of the command, each with what
it means there, and example invocations (``COMMAND_HELP``), laid out line by line (``HelpFormatter``),
and every ``--defect`` option naming the valid defects (``_finish``).

Separate from the parser (``genrep.cli``) because it is text, most of it per command: the parser says
which options a command has, this says what its exit codes mean. Re-exported as
``genrep.cli.COMMAND_HELP``; tests/unit/test_cli_help.py checks each command has its block.
"""

from __future__ import annotations

import argparse
import textwrap

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
         "genrep selftest --defect nll-linebreaks --full",
         "genrep selftest --jobs 3 --store-durations"]),
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
