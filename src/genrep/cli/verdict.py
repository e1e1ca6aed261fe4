"""The commands that run the suite and give the verdict: ``rehearse`` (lint first, then the suite,
the load profiles, the gate and the report), ``gate``, ``report``, ``selftest``, ``steps``, ``lint``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from genrep.errors import ConfigError, GenrepError
from genrep.cli.performance import _parse_duration


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
    if getattr(args, "list", False):  # the scenarios a selection runs; nothing starts
        return _list_scenarios(args)
    chosen = list(args.defect) + (list(REPLAY_2024) if args.replay_2024 else [])
    profile = load_profile(args.env, defects=tuple(dict.fromkeys(chosen)) if chosen else None)
    parse_defects(profile.defects)  # unknown names fail here, before anything starts
    for load in (load_radiology, load_nll, load_multum, load_catalogue, load_gate):
        load()  # every contract and the gate's rules are valid before anything starts
    from genrep.results.gate import check_accept_partial
    check_accept_partial(load_gate().scope, args.accept_partial)  # a mistyped part fails before anything starts
    from genrep.results import register as defect_register, settings
    defect_register.load_if_present(getattr(args, "register", None))  # a bad register fails before anything starts
    settings.language(getattr(args, "lang", None))
    manual = _load_manual(args)  # bad manual results (file, line, column) fail before anything starts
    name = getattr(args, "name", None)
    from genrep.rehearsal import subset_results_dir  # a -k/-m/--name run never overwrites the full one's
    results_dir = Path(args.results) if args.results else (
        subset_results_dir() if (args.k or args.m or name) else REPORTS_DIR / "allure-results")
    loads = [_parse_load_spec(spec) for spec in args.load]  # bad specs fail before anything starts
    _check_selection(args.k, args.m)
    # every folder the run clears must be genrep's: refused now, not after the suite ran
    outputs.check(results_dir, what="Allure results folder (--results)")
    _check_verdict_files(results_dir)
    if not args.no_html:
        outputs.check(results_dir.parent / "html", what="HTML report folder")
        outputs.check(results_dir.parent / "history", what="report history folder")
    for load_name, _, _ in loads:  # (never ``name``: that is the scenario title filter above)
        outputs.check(REPORTS_DIR / "load" / load_name, what="load statistics folder")
    _lint_feature_files("genrep rehearse")
    from genrep.rehearsal import preflight  # credentials and endpoints, before anything starts (exit 2 / 3)
    code = preflight(profile, "genrep rehearse", select=args.k, marks=args.m, name=name)
    if code:
        return code
    print(f"genrep rehearse: environment '{profile.name}' ({profile.kind})"
          + (f", defects: {', '.join(profile.defects)}" if profile.defects else ", clean"), flush=True)
    from genrep.config.endpoints import recorded_deviations
    deviations = recorded_deviations(profile)  # a peer's documented deviations from the standards
    for deviation in deviations:  # also in the Allure environment: never silent
        print(f"  recorded deviation: {deviation}", flush=True)
    # the profile as resolved here: the suite runs from the project root, where a relative --env
    # path would name another file (or none)
    # --replay-2024 shows that each 2024 incident is caught: a failing generated text is reported as
    # it is, not shrunk (about 20 s of the replay), unless GENREP_SHRINK_SECONDS says otherwise
    from genrep.rehearsal import SHRINK_SECONDS_ENV
    extra_env = {SHRINK_SECONDS_ENV: "0"} if args.replay_2024 and SHRINK_SECONDS_ENV not in os.environ else None
    outcome = run_features(env=str(profile.file) if profile.file else args.env, defects=profile.defects,
                           results_dir=results_dir, select=args.k, marks=args.m, workers=args.workers,
                           quiet=not args.verbose, stream=True, timeout=args.timeout, name=name,
                           extra_env=extra_env)
    if outcome.identity_refusal:
        print(f"genrep: IDENTITY REFUSED, the run was stopped: {outcome.identity_refusal}", file=sys.stderr)
        print("VERDICT: none (a stopped run gets no GO or NO-GO; remove the number from the feature or "
              "test data, or use an allowlisted test identity)", flush=True)
        return 2
    how = outcome.killed_by  # killed from outside (the OOM killer, a grace period run out): no product finding
    if how:
        print(f"the feature run was killed by {how} before it ended (not a test result: the run is "
              "incomplete)", file=sys.stderr)
        print(f"VERDICT: INCOMPLETE (the feature run was killed by {how})", flush=True)
        return VERDICT_EXIT["INCOMPLETE"]
    if outcome.returncode not in (0, 1):
        print(f"the feature run ended with pytest exit code {outcome.returncode} (collection or "
              "configuration error, see above)", file=sys.stderr)
        return 2
    explore_seconds = args.explore if args.explore is not None else (
        0.0 if (args.k or args.m or name or args.replay_2024) else EXPLORE_SECONDS)
    if explore_seconds > 0:  # generated inputs nobody hand-picked, a small seeded pass (issue 14)
        from genrep.explore import rehearsal_pass
        print(f"\ngenrep rehearse: explore pass, generated texts per integration, budget {explore_seconds:g} s",
              flush=True)
        summary = rehearsal_pass(profile, results_dir, budget_seconds=explore_seconds)
        print("\n".join(f"  {line}" for line in summary.lines()), flush=True)
    for name, duration, users in loads:  # performance, judged by the same gate
        _rehearse_load(name, duration, users, env=args.env, defects=profile.defects, results_dir=results_dir,
                       out_dir=REPORTS_DIR / "load" / name)
    _write_manual(manual, results_dir)  # manual results join the verdict (issue 15, part 4)
    from genrep.results.allure_meta import write_metadata
    write_metadata(results_dir, profile_name=profile.name, profile_kind=profile.kind, defects=profile.defects,
                   contracts=_contract_versions(), deviations=deviations)
    verdict, out_dir = _verdict_outputs(results_dir, environment=f"{profile.name} ({profile.kind})"
                                        + (f", defects: {', '.join(profile.defects)}" if profile.defects else ""),
                                        accept_partial=args.accept_partial,
                                        register=getattr(args, "register", None), lang=getattr(args, "lang", None))
    print(f"Allure results: {results_dir}")
    if not args.no_html:
        _html_report_or_warn(results_dir, out_dir / "html")
    return _print_verdict(verdict)


def _list_scenarios(args) -> int:
    """``rehearse --list``: the scenarios the selection (-k, -m, --name) would run, with feature file
    and line, tags and requirement ids; exit 0 (nothing runs)."""
    from genrep.rehearsal import collect_scenarios
    _check_selection(args.k, args.m)
    found = collect_scenarios(env=args.env, select=args.k, marks=args.m, name=getattr(args, "name", None))
    for sc in found:
        print(f"{sc.feature}:{sc.line}  {sc.title}")
        print(f"    tags: {' '.join('@' + t for t in sc.tags) or '-'}   requirements: "
              f"{', '.join(sc.requirements) or '-'}")
    print(f"{len(found)} scenario(s)" + ("" if found else ": nothing matches the selection"))
    return 0


#: The exit code of each verdict (README "For CI"): a release pipeline passes on 0 only, and only a
#: pipeline that named the parts it waives (--accept-partial) can get 0 from a partial run.
VERDICT_EXIT = {"GO": 0, "PARTIAL GO": 0, "NO-GO": 1, "INCOMPLETE": 4, "GO WITH RECORDED DEVIATIONS": 5}


def _print_verdict(verdict) -> int:
    from genrep.results.gate import verdict_line
    if verdict.status == "INCOMPLETE":
        parts = sorted({g.part for g in verdict.missing if g.part})
        print("A GO needs the whole scope of contracts/gate.yaml (make rehearse runs it, load profiles "
              "included)" + (f"; a pre-merge pipeline may accept a partial run with --accept-partial "
                             f"{' --accept-partial '.join(parts)}, recorded in every output" if parts else "") + ".")
    print(verdict_line(verdict), flush=True)
    return VERDICT_EXIT[verdict.status]


#: the explore pass of a full rehearsal (``--explore SECONDS``; a -k/-m selection and --replay-2024, which
#: replays the incidents that were described, skip it unless asked)
EXPLORE_SECONDS = 20.0


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
    missed = [o for o in outcomes if o.status == "missed"]
    unjudged = [o for o in outcomes if o.status == "inconclusive"]  # not verified, never a product defect
    for o in missed:
        print(f"  FAIL {o.requirement:22s} {o.describe()}")
    if result.generator is not None and result.generator.bottleneck:
        print(f"  {result.generator.verdict()}")
    what = (f"{len(missed)} SLA threshold(s) missed" if missed else
            f"SLA INCONCLUSIVE ({result.inconclusive}): {len(unjudged)} threshold(s) not verified" if unjudged
            else "SLA MET")
    print(f"  load {name}: {what} (plot: {result.plot_path})", flush=True)


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


def _verdict_outputs(results_dir: Path, *, environment: str, accept_partial=(), register=None, lang=None):
    """Verdict from the results: summary.md, verdict.json, traceability.csv, scorecard.html, junit.xml
    (and the matrix as a genrep entry in the Allure results). Shared by ``rehearse`` and ``gate``."""
    from genrep.results.allure_meta import write_meta_result
    from genrep.config.contracts import load_catalogue, load_gate
    from genrep.results.gate import decide, summary_markdown
    from genrep.results.readiness import scorecard_html, traceability_csv
    from genrep.results.reader import read_results

    from genrep.results import register as defect_register, settings, trend
    rules = load_gate()
    lang = settings.language(lang)
    verdict = decide(read_results(results_dir), load_catalogue(), rules.thresholds,
                     every_requirement_verified=rules.every_requirement_verified,
                     negative_paths_per_integration=rules.negative_paths_per_integration,
                     scope=rules.scope, accept_partial=accept_partial, count=rules.count,
                     register=defect_register.load_if_present(register),
                     manual_max_age_days=settings.manual_max_age_days())
    trend.update(verdict, results_dir.parent / "history")  # since the previous full rehearsal (issue 15, part 5)
    md = summary_markdown(verdict, lang=lang)
    out_dir = results_dir.parent
    matrix = traceability_csv(verdict)
    card = scorecard_html(verdict, title="genrep go-live readiness", environment=environment,
                          report_link="html/index.html", lang=lang)
    from genrep.results.allure import safe_text  # identities masked and secrets redacted in every verdict output
    md, matrix, card = safe_text(md), safe_text(matrix), safe_text(card)
    (out_dir / "summary.md").write_text(md, encoding="utf-8")
    (out_dir / "verdict.json").write_text(safe_text(json.dumps(verdict.to_dict(), indent=2, ensure_ascii=False)),
                                          encoding="utf-8")
    (out_dir / "traceability.csv").write_text(matrix, encoding="utf-8")
    (out_dir / "scorecard.html").write_text(card, encoding="utf-8")
    from genrep.results.junit import junit_xml  # for CI test widgets: the verdict, scope, defects, every result
    (out_dir / "junit.xml").write_text(safe_text(junit_xml(verdict, environment=environment)), encoding="utf-8")
    from genrep.results.gate import defects_markdown
    attachments = {"Readiness scorecard": (card, "text/html"),
                   "Traceability matrix (requirement -> scenarios -> result)": (matrix, "text/csv")}
    if verdict.defect_candidates:  # defects first: the scenarios under each
        attachments = {"Defect candidates (failing scenarios clustered)":
                       (safe_text("\n".join(defects_markdown(verdict))), "text/plain"), **attachments}
    from genrep.results.gate import readiness_status
    write_meta_result(results_dir, "Traceability matrix and readiness scorecard", attachments,
                      **readiness_status(verdict))
    from genrep.results.allure_meta import write_verdict_result
    from genrep.results.gate import first_screen, verdict_line
    write_verdict_result(results_dir, verdict.status, safe_text(verdict_line(verdict)),
                         [safe_text(x) for x in first_screen(verdict)],
                         {"Summary": (md, "text/markdown"), "Readiness scorecard": (card, "text/html")})
    print()
    print(md)
    print(f"Summary: {out_dir / 'summary.md'}   Verdict: {out_dir / 'verdict.json'}")
    print(f"Scorecard: {out_dir / 'scorecard.html'}   Traceability: {out_dir / 'traceability.csv'}   "
          f"JUnit XML: {out_dir / 'junit.xml'}")
    return verdict, out_dir


# the verdict files written beside the results folder, and how each of them starts when genrep wrote it
VERDICT_FILES = {"summary.md": "# genrep", "verdict.json": '"verdict":',
                 "traceability.csv": "requirement,title,integration", "scorecard.html": "genrep go-live readiness",
                 "junit.xml": '<testsuites name="genrep'}


def _check_verdict_files(results_dir: Path) -> None:
    """Refuse, before anything runs, to overwrite a verdict file genrep did not write."""
    from genrep import outputs
    for name, signature in VERDICT_FILES.items():
        outputs.check_file(results_dir.parent / name, signature=signature, what="verdict file")


def _cmd_gate(args) -> int:
    from genrep.paths import REPORTS_DIR

    from genrep.config.contracts import load_gate
    from genrep.results.gate import check_accept_partial
    check_accept_partial(load_gate().scope, args.accept_partial)
    from genrep.results import register as defect_register
    defect_register.load_if_present(getattr(args, "register", None))
    manual = _load_manual(args)
    _check_verdict_files(Path(args.results or REPORTS_DIR / "allure-results"))
    _write_manual(manual, Path(args.results or REPORTS_DIR / "allure-results"))
    verdict, _ = _verdict_outputs(Path(args.results or REPORTS_DIR / "allure-results"),
                                  environment="as recorded in the results", accept_partial=args.accept_partial,
                                  register=getattr(args, "register", None), lang=getattr(args, "lang", None))
    return _print_verdict(verdict)


def _load_manual(args) -> list:
    """``--manual FILE`` (repeatable): the manual results, checked against the catalogue (genrep.results.manual)."""
    paths = getattr(args, "manual", None) or []
    if not paths:
        return []
    from genrep.config.contracts import load_catalogue
    from genrep.results.manual import load_all
    return load_all(paths, load_catalogue())


def _write_manual(manual: list, results_dir: Path) -> None:
    if not manual:
        return
    from genrep.config.contracts import load_catalogue
    from genrep.results.manual import write
    write(results_dir, manual, load_catalogue())
    print(f"Manual results: {len(manual)} imported into {results_dir}", flush=True)


def _cmd_selftest(args) -> int:
    from genrep.selftest import run_selftest
    _lint_feature_files("genrep selftest")
    return run_selftest(defects=args.defect or None, integration=args.integration, jobs=args.jobs,
                        full=args.full, store=args.store_durations)


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
