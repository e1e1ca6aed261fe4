"""The commands about environments: ``sim up`` (the virtual environment in the foreground),
``contract check nll`` (drift), ``certs check``, ``defects``."""

from __future__ import annotations

import json
import os
import sys
import time

from genrep.errors import ConfigError
from genrep.paths import FIXTURES_DIR


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
        try:
            report = drift.check_provider(client, contract, sample_ids)
        finally:
            client.fhir.transport.close()
    finally:
        if venv is not None:
            venv.stop()
    where = f"{profile.name}" + (f", release {args.release or 'N'}" if profile.kind == "virtual" else "")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(f"NLL contract ({contract.file}) against {where}: {report.samples_checked} sample prescription(s)")
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
