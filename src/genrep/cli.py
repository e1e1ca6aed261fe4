"""The ``genrep`` command line: rehearse, report, sim, selftest, gate, bench, load, certs, defects, steps, lint.

Exit codes: 0 GO / success, 1 NO-GO / checks failed, 2 bad input or configuration (the message
names the file and key; also a run stopped because it was about to send a personnummer that is not
on the allowlist: no verdict), 3 the system under test could not be reached, 130 interrupted by Ctrl-C
(SIGINT), 143 stopped by SIGTERM (what CI cancel and ``timeout`` send).

SIGTERM takes the Ctrl-C path: ``main`` turns it into ``Terminated`` (a KeyboardInterrupt), so every
``finally`` that stops simulators, the feature suite's process group or Locust runs for both, and
nothing is left behind. Nothing is started, and no output folder cleared, before the arguments, the
configuration, the output folders and (for ``rehearse`` and ``selftest``) the feature files (lint
errors) are valid.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from genrep.errors import ConfigError, GenrepError, TransportError
from genrep.paths import FIXTURES_DIR


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


def _lint_feature_files(command: str) -> None:
    """Refuse to run the suite on feature files that ``genrep lint`` finds errors in (a duplicate
    scenario name silently drops a scenario, an empty or non-UTF-8 file aborts the suite, an unknown
    tag stops pytest): exit 2, naming file:line, before anything starts or is cleared."""
    from genrep.paths import PROJECT_ROOT
    code, output = _run_steps_tool("steps.lint", ["--errors-only", "--display-root", str(Path.cwd()),
                                                  str(PROJECT_ROOT / "features")], capture=True)
    if code == 0:
        return
    lines = [line for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line] or lines[-20:]
    raise ConfigError(f"{command} refused: the feature files have {len(errors)} error(s) that would break the "
                      "run or drop scenarios from the verdict; nothing was started and no results were cleared.\n"
                      + "\n".join(f"  {line}" for line in errors)
                      + "\nFix each as its message says ('genrep lint' checks the files, with warnings too).")


def _check_selection(select: str | None, marks: str | None) -> None:
    """A -k or -m expression pytest would refuse fails here, before anything is cleared."""
    try:
        from _pytest.mark.expression import Expression
    except ImportError:  # pytest moved it: pytest itself still refuses the expression
        return
    for flag, expr in (("-k", select), ("-m", marks)):
        if not expr:
            continue
        try:
            Expression.compile(expr)
        except Exception as exc:  # noqa: BLE001 - SyntaxError (pytest 9) or ParseError (pytest 8)
            raise ConfigError(f"{flag} {expr!r} is not a valid selection expression ({exc}); "
                              "use names and tags joined with and, or, not and parentheses") from None


def _cmd_rehearse(args) -> int:
    from genrep import outputs
    from genrep.config.profile import load_profile
    from genrep.config.contracts import load_catalogue, load_gate, load_multum, load_nll, load_radiology
    from genrep.paths import REPORTS_DIR
    from genrep.rehearsal import run_features

    from genrep.sim.defects import REPLAY_2024, parse_defects
    chosen = list(args.defect) + (list(REPLAY_2024) if args.replay_2024 else [])
    profile = load_profile(args.env, defects=tuple(dict.fromkeys(chosen)) if chosen else None)
    parse_defects(profile.defects)  # unknown names fail here, before anything starts
    for load in (load_radiology, load_nll, load_multum, load_catalogue, load_gate):
        load()  # every contract and the gate's rules are valid before anything starts
    results_dir = Path(args.results or REPORTS_DIR / "allure-results")
    loads = [_parse_load_spec(spec) for spec in args.load]  # bad specs fail before anything starts
    _check_selection(args.k, args.m)
    # every folder the run clears must be genrep's: refused now, not after the suite ran
    outputs.check(results_dir, what="Allure results folder (--results)")
    if not args.no_html:
        outputs.check(results_dir.parent / "html", what="HTML report folder")
        outputs.check(results_dir.parent / "history", what="report history folder")
    for name, _, _ in loads:
        outputs.check(REPORTS_DIR / "load" / name, what="load statistics folder")
    _lint_feature_files("genrep rehearse")
    print(f"genrep rehearse: environment '{profile.name}' ({profile.kind})"
          + (f", defects: {', '.join(profile.defects)}" if profile.defects else ", clean"), flush=True)
    # the profile as resolved here: the suite runs from the project root, where a relative --env
    # path would name another file (or none)
    outcome = run_features(env=str(profile.file) if profile.file else args.env, defects=profile.defects,
                           results_dir=results_dir, select=args.k, marks=args.m, workers=args.workers,
                           quiet=not args.verbose, stream=True, timeout=args.timeout)
    if outcome.identity_refusal:
        print(f"genrep: IDENTITY REFUSED, the run was stopped: {outcome.identity_refusal}", file=sys.stderr)
        print("VERDICT: none (a stopped run gets no GO or NO-GO; remove the number from the feature or "
              "test data, or use an allowlisted test identity)", flush=True)
        return 2
    if outcome.returncode not in (0, 1):
        print(f"the feature run ended with pytest exit code {outcome.returncode} (collection or "
              "configuration error, see above)", file=sys.stderr)
        return 2
    for name, duration, users in loads:  # performance, judged by the same gate
        _rehearse_load(name, duration, users, env=args.env, defects=profile.defects, results_dir=results_dir,
                       out_dir=REPORTS_DIR / "load" / name)
    from genrep.results.allure_meta import write_metadata
    write_metadata(results_dir, profile_name=profile.name, profile_kind=profile.kind, defects=profile.defects,
                   contracts=_contract_versions())
    verdict, out_dir = _verdict_outputs(results_dir, environment=f"{profile.name} ({profile.kind})"
                                        + (f", defects: {', '.join(profile.defects)}" if profile.defects else ""))
    print(f"Allure results: {results_dir}")
    if not args.no_html:
        _html_report_or_warn(results_dir, out_dir / "html")
    print(f"VERDICT: {'GO' if verdict.go else 'NO-GO'}")
    return 0 if verdict.go else 1


def _parse_load_spec(spec: str) -> tuple[str, float, int | None]:
    """``PROFILE[:DURATION[:USERS]]`` -> (profile, seconds, users or None for the profile's)."""
    from genrep.load.runner import profile_file
    name, _, rest = spec.partition(":")
    duration_text, _, users_text = rest.partition(":")
    profile_file(name)
    duration = _parse_duration(duration_text) if duration_text else 60.0
    if users_text and not (users_text.isdigit() and int(users_text) > 0):
        raise ConfigError(f"--load {spec!r}: users must be a positive whole number")
    return name, duration, int(users_text) if users_text else None


def _rehearse_load(name: str, duration: float, users: int | None, *, env, defects, results_dir: Path,
                   out_dir: Path) -> None:
    """One load profile inside a rehearsal: its SLA results go into the rehearsal's results, or, if
    it could not run, one failed result per requirement it would have measured (never silence)."""
    from genrep.load.contract import load_load_contract
    from genrep.load.runner import evaluate, run_load, write_allure_results, write_failed_run_results, write_sla_json
    contract = load_load_contract()
    users = users or contract.default_users(name)
    print(f"\ngenrep rehearse: load profile {name}, {users} users, {duration:g} s", flush=True)
    try:
        result = run_load(name, users=users, duration_s=duration, env_name=env, contract=contract,
                          defects=tuple(defects), out_dir=out_dir, progress=lambda line: print(line, flush=True))
    except (GenrepError, OSError) as exc:
        print(f"genrep: the load profile {name} did not complete: {exc}", file=sys.stderr, flush=True)
        write_failed_run_results(results_dir, name, contract, str(exc))
        return
    outcomes = evaluate(result, contract)
    write_sla_json(result, outcomes, contract)
    write_allure_results(results_dir, result, outcomes, contract)
    missed = [o for o in outcomes if not o.ok]
    for o in missed:
        print(f"  FAIL {o.requirement:22s} {o.describe()}")
    if result.generator is not None and result.generator.bottleneck:
        print(f"  {result.generator.verdict()}")
    print(f"  load {name}: {'SLA MET' if not missed else f'{len(missed)} SLA threshold(s) missed'} "
          f"(plot: {result.plot_path})", flush=True)


def _html_report_or_warn(results_dir: Path, out_dir: Path) -> None:
    """The HTML report after a rehearsal. A failure here never changes the verdict's exit code (the
    verdict is what CI gates on): it is printed as a warning."""
    from genrep.results.html_report import generate
    try:
        print(f"HTML report: {generate(results_dir, out_dir)}", flush=True)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the verdict stands
        print(f"genrep: WARNING: the HTML report was not generated ({exc}); the verdict below stands, "
              f"retry with 'genrep report --results {results_dir} --out {out_dir}'", file=sys.stderr, flush=True)


def _cmd_report(args) -> int:
    from genrep.results.html_report import generate
    from genrep.paths import REPORTS_DIR
    page = generate(Path(args.results or REPORTS_DIR / "allure-results"), Path(args.out or REPORTS_DIR / "html"))
    print(f"HTML report: {page}")
    return 0


def _contract_versions() -> dict[str, str]:
    from genrep.paths import CONTRACTS_DIR
    from genrep.yamlfile import load_yaml
    out = {}
    for path in sorted(CONTRACTS_DIR.glob("*.yaml")):
        data = load_yaml(path)
        if isinstance(data, dict) and "version" in data:
            out[path.stem] = str(data["version"])
    return out


def _verdict_outputs(results_dir: Path, *, environment: str):
    """Verdict from the results: summary.md, verdict.json, traceability.csv, scorecard.html (and the
    matrix as a genrep entry in the Allure results). Shared by ``rehearse`` and ``gate``."""
    from genrep.results.allure_meta import write_meta_result
    from genrep.config.contracts import load_catalogue, load_gate
    from genrep.results.gate import decide, summary_markdown
    from genrep.results.readiness import scorecard_html, traceability_csv
    from genrep.results.reader import read_results

    rules = load_gate()
    verdict = decide(read_results(results_dir), load_catalogue(), rules.thresholds,
                     every_requirement_verified=rules.every_requirement_verified,
                     negative_paths_per_integration=rules.negative_paths_per_integration)
    md = summary_markdown(verdict)
    out_dir = results_dir.parent
    matrix = traceability_csv(verdict)
    card = scorecard_html(verdict, title="genrep go-live readiness", environment=environment,
                          report_link="html/index.html")
    from genrep.results.allure import safe_text  # identities masked and secrets redacted in every verdict output
    md, matrix, card = safe_text(md), safe_text(matrix), safe_text(card)
    (out_dir / "summary.md").write_text(md, encoding="utf-8")
    (out_dir / "verdict.json").write_text(safe_text(json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False)),
                                          encoding="utf-8")
    (out_dir / "traceability.csv").write_text(matrix, encoding="utf-8")
    (out_dir / "scorecard.html").write_text(card, encoding="utf-8")
    write_meta_result(results_dir, "Traceability matrix and readiness scorecard",
                      {"Traceability matrix (requirement -> scenarios -> result)": (matrix, "text/csv"),
                       "Readiness scorecard": (card, "text/html")})
    print()
    print(md)
    print(f"Summary: {out_dir / 'summary.md'}   Verdict: {out_dir / 'verdict.json'}")
    print(f"Scorecard: {out_dir / 'scorecard.html'}   Traceability: {out_dir / 'traceability.csv'}")
    return verdict, out_dir


def _cmd_gate(args) -> int:
    from genrep.paths import REPORTS_DIR

    verdict, _ = _verdict_outputs(Path(args.results or REPORTS_DIR / "allure-results"),
                                  environment="as recorded in the results")
    print(f"VERDICT: {'GO' if verdict.go else 'NO-GO'}")
    return 0 if verdict.go else 1


def _cmd_sim_up(args) -> int:
    """The virtual environment in the foreground until Ctrl-C or SIGTERM, its normal way to end
    (exit 0, "stopped."); the simulators are stopped on every way out."""
    from genrep.config.profile import load_profile
    from genrep.sim.process import start_virtual_environment

    profile = load_profile(args.env, defects=tuple(args.defect))
    if profile.kind != "virtual":
        raise ConfigError(f"'{profile.name}' is a {profile.kind} environment: sim up starts virtual ones only "
                          "(virtual, virtual-tls)", file=profile.file or None, key="kind")
    venv = start_virtual_environment(profile, host=args.host, mllp_port=args.mllp_port,
                                     fhir_port=args.fhir_port)
    try:  # Ctrl-C or SIGTERM (Terminated) at any point after the start is how sim up ends
        try:
            print("Virtual environment running (Ctrl-C to stop):")
            for ep in venv.profile.endpoints.values():
                print(f"  {ep.name:16s} {ep.protocol:5s} {ep.address}" + ("  (TLS)" if ep.tls else ""))
                t = ep.tls_options
                if ep.tls and (t.ca_file or t.client_cert):  # the throw-away PKI, removed on stop
                    print(f"  {'':16s} trust {t.ca_file or 'system'}"
                          + (f"; client certificate {t.client_cert}, key {t.client_key}" if t.client_cert else ""))
            v = profile.virtual
            if v.require_token_env:  # the name only: a secret is never printed
                generated = "" if os.environ.get(v.require_token_env) else " (not set: a random one was made for this run)"
                print(f"  the FHIR API wants 'Authorization: Bearer ${v.require_token_env}'{generated}")
            if v.client_key_password_env:
                print(f"  the client key's password is in ${v.client_key_password_env}")
            print(f"  defects: {', '.join(profile.defects) or 'none (clean)'}", flush=True)
            while True:
                if not all(p.alive for p in venv.processes.values()):
                    print("a simulator exited unexpectedly", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
    finally:
        venv.stop()
        print("stopped.")
    return 0


def _cmd_selftest(args) -> int:
    from genrep.selftest import run_selftest
    _lint_feature_files("genrep selftest")
    return run_selftest(defects=args.defect or None, integration=args.integration, jobs=args.jobs,
                        full=args.full)


def _cmd_contract_check(args) -> int:
    """Check a provider against the consumer's contract: drift as added/removed/changed elements."""
    from genrep.integrations import nll_drift as drift
    from genrep.config.profile import load_profile
    from genrep.config.contracts import load_nll
    from genrep.text.identities import Allowlist, IdentityGuard
    from genrep.integrations.nll import NLLAdmin, NLLClient
    from genrep.sim.process import start_virtual_environment

    if args.contract != "nll":
        raise ConfigError(f"no contract check for {args.contract!r} (available: nll)")
    contract = load_nll()
    allowlist = Allowlist.load()
    guard = IdentityGuard(allowlist)
    profile = load_profile(args.env, defects=())
    venv = None
    try:
        if profile.kind == "virtual":
            venv = start_virtual_environment(profile)
            profile = venv.profile
            admin = NLLAdmin(profile, guard)
            admin.release(args.release or "N")
            sample_ids = [allowlist.pick(0, kind="personnummer").number]
            golden = json.loads((FIXTURES_DIR / "nll" / "golden.json")
                                .read_text(encoding="utf-8"))
            admin.load(sample_ids[0], golden["prescriptions"])
        else:
            if args.release:
                raise ConfigError("--release only switches the virtual NLL; a real NLL serves its own release")
            sample_ids = list(profile.test_patients.get("nll", ()))
            unknown = [n for n in sample_ids if n not in allowlist]
            if unknown:
                raise ConfigError("test_patients.nll holds numbers that are not on the test-identity allowlist",
                                  file=profile.file, key="test_patients.nll")
        client = NLLClient(profile, guard)
        structure = client.structure_definition()
        samples = [rx.resource for number in sample_ids for rx in client.prescriptions(number)]
        capability = client.fhir.get_json("metadata", headers=client._headers())
        report = drift.compare(contract, structure, samples, capability)
    finally:
        if venv is not None:
            venv.stop()
    where = f"{profile.name}" + (f", release {args.release or 'N'}" if profile.kind == "virtual" else "")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"NLL contract ({contract.file}) against {where}: {len(samples)} sample prescription(s)")
        print(report.render())
        print("DRIFT: BREAKING" if report.breaking else "DRIFT: none that the consumer relies on")
    return 1 if report.breaking else 0


def _cmd_certs_check(args) -> int:
    """Every TLS endpoint's server certificate and every client certificate of the profile: days
    until expiry, chain against the configured trust, host name. Exit 1 when any is invalid or
    expires within the threshold, 3 when an endpoint could not be reached (and nothing else failed)."""
    from genrep.config.profile import load_profile
    from genrep.sim.process import start_virtual_environment
    from genrep.certs import check_profile, write_allure_results

    profile = load_profile(args.env, defects=())
    min_days = profile.min_days_valid if args.warn_days is None else args.warn_days
    if min_days < 0:
        raise ConfigError(f"--warn-days must be 0 or more, got {min_days}")
    if args.results:  # earlier certificate results in it are replaced: it must be genrep's
        from genrep.outputs import check
        check(args.results, what="Allure results folder (--results)")
    venv = None
    try:
        if profile.kind == "virtual" and profile.virtual.tls:  # a plaintext one has nothing to check
            venv = start_virtual_environment(profile, defects=())
            profile = venv.profile
        statuses = check_profile(profile)
    finally:
        if venv is not None:
            venv.stop()
    if args.results:
        written = write_allure_results(args.results, statuses, min_days=min_days,
                                       environment=f"{profile.name} ({profile.kind})")
    bad = [s for s in statuses if s.reachable and not s.ok(min_days)]
    unreachable = [s for s in statuses if not s.reachable]
    if args.json:
        print(json.dumps({"environment": profile.name, "min_days_valid": min_days,
                          "certificates": [s.to_dict(min_days) for s in statuses],
                          "ok": not bad and not unreachable}, indent=2, ensure_ascii=False))
    else:
        print(f"Certificates of environment '{profile.name}' ({profile.kind}), threshold {min_days} days:")
        if not statuses:
            print("  no TLS endpoints and no client certificates in this profile: nothing to check")
        for s in statuses:
            mark = "ok  " if s.ok(min_days) else ("SKIP" if not s.reachable else "FAIL")
            print(f"  {mark} {s.describe(min_days)}")
            if s.kind == "server" and s.reachable:
                chain = {True: "valid", False: "INVALID", None: "not checked"}[s.chain_ok]
                host = {True: "matches", False: "DOES NOT MATCH", None: "not checked"}[s.hostname_ok]
                hs = "" if s.handshake_ms is None else f", handshake {s.handshake_ms:.1f} ms"
                print(f"         chain {chain} against {s.trust}; name {s.server_name!r} {host}{hs}")
        if args.results:
            print(f"Allure results: {len(written)} certificate result(s) in {args.results}")
        print("CERTIFICATES: " + ("OK" if not bad and not unreachable else
                                  f"{len(bad)} failing, {len(unreachable)} not reachable"))
    if bad:
        return 1
    return 3 if unreachable else 0


def _cmd_defects(args) -> int:
    from genrep.sim.defects import DEFECTS
    for d in DEFECTS.values():
        print(f"{d.name:30s} {d.integration:10s} caught by {', '.join(d.detected_by)}\n    {d.description}")
    return 0


def _cmd_bench(args) -> int:
    from genrep.benchmarks.mllp import bench_mllp
    return bench_mllp(messages=args.messages, rounds=args.rounds)


def _cmd_bench_load(args) -> int:
    from genrep.benchmarks.load import bench_load
    return bench_load(seconds=args.seconds, rounds=args.rounds, users=args.users)


def _parse_duration(text: str) -> float:
    """'60s', '5m', '1h' or plain seconds."""
    import re
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smh]?)\s*", text or "")
    if not m:
        raise ConfigError(f"--duration {text!r}: expected seconds such as 60s, 5m or 1h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _cmd_load(args) -> int:
    """Run a Locust load profile (subprocess) and judge it against contracts/load.yaml."""
    from genrep.load.contract import load_load_contract
    from genrep.load.runner import evaluate, profile_file, run_load, write_allure_results, write_sla_json

    contract = load_load_contract()
    duration = _parse_duration(args.duration)
    profile_file(args.profile)  # an unknown profile fails before anything starts
    if args.results:  # written after the run, and earlier load results in it replaced: refuse now
        from genrep.outputs import check
        check(args.results, what="Allure results folder (--results)")
    users = args.users if args.users is not None else contract.default_users(args.profile)
    print(f"genrep load: profile {args.profile}, {users} users, {duration:g} s"
          + (f", defects: {', '.join(args.defect)}" if args.defect else "")
          + (f", {args.workers} workers" if args.workers else ""), flush=True)
    result = run_load(args.profile, users=users, duration_s=duration, workers=args.workers,
                      expect_workers=args.expect_workers, master_bind_host=args.master_bind_host,
                      master_port=args.master_port,
                      env_name=args.env, contract=contract, defects=tuple(args.defect),
                      progress=None if args.quiet else (lambda line: print(line, flush=True)),
                      **({"out_dir": Path(args.out)} if args.out else {}))
    outcomes = evaluate(result, contract)
    sla_path = write_sla_json(result, outcomes, contract)
    print(f"\n{'operation':18s} {'requests':>8s} {'failures':>8s} {'req/s':>7s} {'p50 ms':>7s} "
          f"{'p95 ms':>7s} {'p99 ms':>7s} {'max ms':>7s}")
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for s in result.operations.values():
        print(f"{s.name:18s} {s.requests:8d} {s.failures:8d} {s.rps:7.1f} {fmt(s.p50_ms):>7s} "
              f"{fmt(s.p95_ms):>7s} {fmt(s.p99_ms):>7s} {fmt(s.max_ms):>7s}")
    print()
    if result.fault:
        rec = "not recovered before the run ended" if result.recovery_s is None else f"{result.recovery_s:.1f} s"
        print(f"Fault: {result.fault} at {result.fault_at_s:.1f} s; recovery {rec}")
    if result.stored is not None:
        st = result.stored
        print(f"Stored: {st.accepted} ORU answered AA, stored reports {st.stored_before} -> {st.stored_after}; "
              f"{st.sampled} read back, {len(st.sample_missing)} missing")
    if result.generator is not None:
        print(f"Generator: {result.generator.verdict()}")
    print()
    for o in outcomes:
        print(f"  {'ok  ' if o.ok else 'FAIL'} {o.requirement:22s} {o.describe()}")
    if args.results:
        written = write_allure_results(args.results, result, outcomes, contract)
        print(f"Allure results: {len(written)} SLA result(s) in {args.results}")
    print(f"Statistics: {result.stats_path}   SLA: {sla_path}   Plot: {result.plot_path}")
    met = all(o.ok for o in outcomes)
    if (result.exit_code == 0) != met:
        print(f"genrep: WARNING: Locust's own SLA gate exited {result.exit_code}, the JSON statistics "
              f"say {'met' if met else 'missed'}; the JSON statistics decide", file=sys.stderr)
    print(f"SLA: {'MET' if met else 'MISSED'}")
    return 0 if met else 1


def _run_steps_tool(module: str, argv: list[str], *, capture: bool = False):
    """Run a tool of the step layer (``steps.catalogue``, ``steps.lint``) as a subprocess from the
    project root: it imports the step definitions, which the library itself never imports.
    Returns its exit code, or (exit code, stdout and stderr) with ``capture``."""
    import subprocess

    from genrep.paths import PROJECT_ROOT
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    out = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
               errors="replace") if capture else {}
    try:
        proc = subprocess.run([sys.executable, "-m", module, *argv], cwd=PROJECT_ROOT, env=env,
                              timeout=600, **out)
    except subprocess.TimeoutExpired:
        raise GenrepError(f"{module} did not finish within 600 s") from None
    return (proc.returncode, proc.stdout) if capture else proc.returncode


def _cmd_steps(args) -> int:
    from genrep.paths import PROJECT_ROOT
    argv = ["--format", args.format]
    if args.write:
        argv += ["--write", str(Path(args.write).resolve() if args.write != "-" else
                                PROJECT_ROOT / "docs" / "steps.md")]
    return _run_steps_tool("steps.catalogue", argv)


def _cmd_lint(args) -> int:
    return _run_steps_tool("steps.lint", ["--display-root", str(Path.cwd()),
                                          *[str(Path(p).resolve()) for p in args.paths]])


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="genrep", description="Go-live dress-rehearsal harness for EHR integrations.")
    sub = ap.add_subparsers(dest="command", required=True)

    r = sub.add_parser("rehearse", help="run the feature suite against an environment and give the verdict")
    r.add_argument("--env", default=None, help="environment profile name or path (default GENREP_ENV or virtual)")
    r.add_argument("--defect", action="append", default=[], help="switch on a virtual-environment defect")
    r.add_argument("--replay-2024", action="store_true",
                   help="switch on the defects that replay the November 2024 go-live incidents")
    r.add_argument("--results", default=None, help="Allure results folder (default reports/allure-results)")
    r.add_argument("-k", default=None, help="only scenarios matching this pytest -k expression")
    r.add_argument("-m", default=None, help="only scenarios with these tags (pytest -m expression)")
    r.add_argument("--workers", type=int, default=0, help="parallel pytest-xdist workers")
    r.add_argument("--timeout", type=float, default=1800.0, help="bound for the whole run, seconds")
    r.add_argument("-v", "--verbose", action="store_true")
    r.add_argument("--no-html", action="store_true", help="skip the HTML report (reports/html)")
    r.add_argument("--load", action="append", default=[], metavar="PROFILE[:DURATION[:USERS]]",
                   help="after the features, run a load profile too (repeatable), e.g. golive_morning:120s; "
                        "its SLA results join the verdict")
    r.set_defaults(func=_cmd_rehearse)

    rp = sub.add_parser("report", help="HTML report (single file, no outside calls) from Allure results")
    rp.add_argument("--results", default=None, help="Allure results folder (default reports/allure-results)")
    rp.add_argument("--out", default=None, help="report folder (default reports/html)")
    rp.set_defaults(func=_cmd_report)

    g = sub.add_parser("gate", help="verdict from existing Allure results")
    g.add_argument("--results", default=None)
    g.set_defaults(func=_cmd_gate)

    s = sub.add_parser("sim", help="the virtual environment")
    ssub = s.add_subparsers(dest="sim_command", required=True)
    up = ssub.add_parser("up", help="start the virtual environment in the foreground")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--mllp-port", type=int, default=2575)
    up.add_argument("--fhir-port", type=int, default=8080)
    up.add_argument("--defect", action="append", default=[])
    up.add_argument("--env", default="virtual", help="virtual environment profile: virtual (default) or virtual-tls")
    up.set_defaults(func=_cmd_sim_up)

    st = sub.add_parser("selftest", help="prove every check goes red on its defect and green when clean")
    st.add_argument("--defect", action="append", default=[], help="only these defects")
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
    lo.add_argument("--defect", action="append", default=[],
                    help="virtual-environment defect to replay under load (e.g. multum-no-failover)")
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
