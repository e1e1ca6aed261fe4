"""Switchable defects of the virtual environment, replaying real failure modes.

Each defect is chosen at start-up (``--defect NAME[:PARAM]``, repeatable, or ``GENREP_DEFECTS``).
A clean start has none. Each defect names the simulator it is built into (``target``: the process
that gets it at start-up, as ``--defect NAME[:PARAM]`` or as its own start-up flags), the
requirements whose scenarios must catch it and the fidelity classification expected: ``genrep
selftest`` proves every defect is detected that way and that the clean environment raises no alarm.
This table is the single source of that truth. Faults injected while a run goes on are another
thing: ``genrep.faults``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrep.errors import ConfigError


#: the simulators a defect can be built into (``genrep.sim.process`` names its processes so)
TARGETS = ("ehr", "multum-lb", "ehr-b")  # ehr-b: the second EHR node (entry points, genrep parity)


@dataclass(frozen=True)
class Defect:
    name: str
    integration: str
    target: str  # the simulator that gets it at start-up (TARGETS)
    description: str
    default_param: int | None
    detected_by: tuple[str, ...]  # requirement ids whose scenarios must fail
    expected_kinds: tuple[str, ...]  # fidelity kinds (or other classification) the failures must show
    flags: tuple[str, ...] = ()  # the target's start-up flags for it; () = ``--defect NAME[:PARAM]``

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"defect {self.name}: unknown target {self.target!r} (known: {', '.join(TARGETS)})")
        if self.flags and self.default_param is not None:
            raise ValueError(f"defect {self.name}: a parameter goes with --defect, not with flags")


DEFECTS: dict[str, Defect] = {d.name: d for d in (
    Defect("radiology-truncation", "radiology", "ehr",
           "ACK AA, but the stored report text is cut at a byte limit (default 4000 bytes, like a "
           "VARCHAR2(4000 BYTE) column), possibly splitting a multi-byte character",
           4000, ("RAD-R01", "RAD-R02"), ("truncated",)),
    Defect("radiology-drop-lines", "radiology", "ehr",
           "ACK AA, but lines after the Nth (default 20) are dropped, like a receiver built for "
           "another line convention",
           20, ("RAD-R02", "RAD-R03", "RAD-R14"), ("truncated", "missing_lines")),
    Defect("radiology-linebreaks", "radiology", "ehr",
           "ACK AA, but line breaks are lost: lines are trimmed and joined with no separator, so "
           "words run together",
           None, ("RAD-001", "RAD-R03", "RAD-R12", "RAD-R14", "JRN-001"), ("line_breaks_lost",)),
    Defect("radiology-ack-without-store", "radiology", "ehr",
           "ACK AA for every report, but nothing is stored (a vendor-FAQ case: AA is not stored)",
           None, ("RAD-001", "RAD-R21"), ("not_stored",)),
    Defect("radiology-ack-misaligned", "radiology", "ehr",
           "each message on a connection is answered with the ACK of the message before it (the first "
           "with an AA naming no message), as node-hl7-server was seen to do; every message is stored",
           None, ("RAD-001", "RAD-R21"), ("ack_mismatch",)),
    Defect("radiology-drops-under-load", "performance-load", "ehr",
           "ACK AA for every report, but every Nth one (default 25) is not stored: a queue behind the "
           "listener that drops under load. Too rare for the functional scenarios; the load profiles' "
           "\"AA is stored\" check (count + sample read-back) catches it",
           25, ("PERF-STORED",), ("max_not_stored",)),
    Defect("nll-linebreaks", "nll", "ehr",
           "NLL line breaks handled wrongly: CRLF is read as two line breaks (lines split by blank "
           "lines) and a lone CR is dropped (lines run together)",
           None, ("NLL-N01", "NLL-N10", "JRN-012"), ("line_breaks_lost", "line_breaks_added", "extra_lines",
                                          "merged_words")),
    Defect("nll-word-loss", "nll", "ehr",
           "NLL text re-wrapped at a fixed width (40) for display, and the word at each wrap "
           "boundary is lost",
           None, ("NLL-001", "NLL-N03"), ("lost_words", "lost_negation")),
    Defect("nll-release-drift", "nll", "ehr",
           "the EHR reads NLL release N only: the administration instruction, moved in release "
           "N+1, is read as missing",
           None, ("NLL-N10",), ("missing_field",)),
    Defect("nll-unavailable-empty", "nll", "ehr",
           "NLL down (timeout, 503, malformed answer) is shown as an empty list: 'no medications'",
           None, ("NLL-N09", "JRN-009"), ("empty_list_on_failure",)),
    Defect("multum-no-failover", "multum", "multum-lb",
           "the 2024 state: one active Multum server, no switch-over (the load balancer never "
           "retries or moves traffic to the second server)",
           None, ("MUL-M01", "MUL-M02", "MUL-M03"), ("failover_failed",), flags=("--no-failover",)),
    Defect("multum-silent-empty", "multum", "ehr",
           "a failed interaction check is shown as 'checked, no interactions'",
           None, ("MUL-M05", "JRN-007"), ("false_no_interactions",)),
    Defect("multum-no-failback", "multum", "multum-lb",
           "a server that failed never gets traffic back after it recovers",
           None, ("MUL-M07",), ("no_failback",), flags=("--no-failback",)),
    Defect("multum-no-loadbalancing", "multum", "multum-lb",
           "load balancing never activated: all traffic goes to the first server while both are healthy",
           None, ("MUL-BAL",), ("unbalanced",), flags=("--policy", "primary-backup")),
    Defect("registration-dob", "registration", "ehr",
           "the EHR derives the date of birth wrongly: century guessed from the two-digit year "
           "(a person over 100 becomes a century younger) and a samordningsnummer's day + 60 kept",
           None, ("REG-002", "REG-003", "JRN-004", "JRN-005"), ("wrong_birth_date",)),
    # renditions: the stored text (the Binary) stays whole, one other representation breaks
    Defect("radiology-html-drops-lines", "radiology", "ehr",
           "the report's HTML view (presentedForm text/html) shows only its first N lines (default 12), "
           "like a preview template with a line limit, while the Binary and the inline text are whole",
           12, ("RAD-001", "RAD-R02", "RAD-R03"), ("representations_disagree",)),
    Defect("radiology-inline-truncated", "radiology", "ehr",
           "the inline text/plain rendition (presentedForm.data) is cut at N bytes (default 2000, a "
           "VARCHAR2(2000 BYTE) cache of the report) while the Binary is whole",
           2000, ("RAD-R01", "RAD-R02"), ("representations_disagree",)),
    Defect("radiology-conclusion-negation-dropped", "radiology", "ehr",
           "the conclusion the EHR lifts out of the report (DiagnosticReport.conclusion) loses its "
           "negation words (\"Ingen lungemboli.\" -> \"lungemboli.\"), while the full text is whole",
           None, ("RAD-001", "RAD-R12"), ("conclusion_not_in_report",)),
    Defect("radiology-charset-ignored", "radiology", "ehr",
           "MSH-18 is ignored and every message is read as UTF-8, so 8859/1 text becomes garbage",
           None, ("RAD-R09",), ("mojibake",)),
    # referrals to other units (contracts/referrals.yaml, sim.ehr_referrals)
    Defect("referral-silent-failure", "referrals", "ehr",
           "the 2024 defect: a referral that cannot be delivered (unit unknown, receiver down, rejected) "
           "stays 'in-progress' (sent) forever, with no reason: no feedback to the sender",
           None, ("REF-002", "REF-R01", "REF-R02", "REF-R03", "JRN-015", "JRN-016"), ("referral_silent_failure",)),
    Defect("referral-feedback-late", "referrals", "ehr",
           "a failed referral is told to the sender N seconds late (default 6, past the contract's 4 s bound), "
           "as by a periodic error queue; delivered ones are told at once",
           6, ("REF-002", "REF-R01", "REF-R02", "REF-R03", "JRN-015", "JRN-016"), ("referral_feedback_late",)),
    # e-prescription signing (contracts/erx.yaml, sim.ehr_erx, sim.erx_receiver)
    Defect("erx-signs-with-auth-cert", "erx", "ehr",
           "the EHR signs e-prescriptions with the prescriber's authentication certificate (digitalSignature, "
           "no nonRepudiation): the receiver refuses every one, and a card with no valid signing certificate is "
           "not refused but signed and sent anyway",
           None, ("ERX-001", "ERX-002", "ERX-003", "ERX-R01"), ("erx_wrong_certificate", "erx_not_sent",
                                                                  "erx_not_refused")),
    Defect("erx-offers-every-certificate", "erx", "ehr",
           "the 2024 problem: the EHR lists every certificate on the card to the prescriber (authentication, "
           "expired, not yet valid, a colleague's) instead of the one valid signing certificate",
           None, ("ERX-003", "ERX-R02"), ("erx_too_many_certificates", "erx_wrong_certificate")),
    Defect("erx-sent-never-received", "erx", "ehr",
           "the EHR reports an e-prescription sent, with a receipt of its own, but nothing reaches the receiver "
           "(an outbox never flushed)",
           None, ("ERX-001", "ERX-004"), ("erx_not_received",)),
    # access rights (contracts/access.yaml, enforced by sim.ehr_access)
    Defect("access-referral-physician-only", "access", "ehr",
           "only physicians may create referrals: nurses, medical secretaries and physiotherapists are "
           "refused (a right a role must have, missing; a legal requirement logged as a 2024 go-live risk)",
           None, ("ACC-001", "ACC-003"), ("access_denied_wrongly",)),
    Defect("access-secretary-reads-medications", "access", "ehr",
           "the medical secretary is served the patient's medication list, which the matrix denies "
           "(a role seeing data it must not)",
           None, ("ACC-002", "ACC-R01"), ("access_granted_wrongly",)),
    Defect("access-denied-as-empty", "access", "ehr",
           "every denial is answered 200 with an empty Bundle instead of 403 and an OperationOutcome: a "
           "refusal that reads as 'nothing there'",
           None, ("ACC-002", "ACC-R02"), ("refusal_not_explicit",)),
    # like-for-like entry points (contracts/parity.yaml, sim.ehr_fingerprint): the second EHR node only
    Defect("parity-node-b-no-multum", "parity", "ehr-b",
           "the second EHR node cannot reach Multum (a firewall rule missing, as the extra desktop pool of "
           "2024): interaction checks are not performed there, only there",
           None, ("PAR-001", "PAR-002", "PAR-003"), ("parity_differs", "parity_smoke_failed", "parity_misconfigured")),
    Defect("parity-node-b-no-schedule-templates", "parity", "ehr-b",
           "the second EHR node has no schedule templates loaded and the patient portal's booking type "
           "has no resources (2024: templates not loaded in production, no booking via the portal)",
           None, ("PAR-001", "PAR-003"), ("parity_differs", "parity_misconfigured")),
)}


def parse_defects(specs: list[str] | tuple[str, ...]) -> dict[str, int | None]:
    """``["radiology-truncation:1000", "radiology-linebreaks"]`` -> {name: param}; unknown names fail."""
    active: dict[str, int | None] = {}
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        name, sep, param = spec.partition(":")
        name, param = name.strip(), param.strip()
        if name not in DEFECTS:
            raise ConfigError(f"unknown defect {name!r}; known: {', '.join(sorted(DEFECTS))}",
                              key="defects")
        value = DEFECTS[name].default_param
        if sep and value is None:
            raise ConfigError(f"defect {name} takes no parameter, got {param!r}", key="defects")
        if sep:
            # ASCII digits only: str.isdigit() also accepts '²', which int() then refuses
            if not re.fullmatch(r"[0-9]+", param) or int(param) <= 0:
                raise ConfigError(f"defect {name}: parameter must be a positive integer, got {param!r}",
                                  key="defects")
            value = int(param)
        active[name] = value
    return active


def startup_args(specs: list[str] | tuple[str, ...], target: str) -> list[str]:
    """The start-up arguments that build the defects ``specs`` (``NAME[:PARAM]``) into simulator
    ``target``: its own flags, or ``--defect SPEC``. Defects of other simulators are left out."""
    if target not in TARGETS:
        raise ValueError(f"unknown defect target {target!r} (known: {', '.join(TARGETS)})")
    parse_defects(specs)  # unknown names and bad parameters fail here
    args: list[str] = []
    for spec in specs:
        spec = spec.strip()
        defect = DEFECTS.get(spec.partition(":")[0].strip()) if spec else None
        if defect is not None and defect.target == target:
            args += list(defect.flags) if defect.flags else ["--defect", spec]
    return args


def truncate_bytes(text: str, limit: int) -> str:
    """Cut UTF-8 text at ``limit`` bytes the way a byte-counting column does (may split a character)."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="replace")


# The incidents of the November 2024 go-live, as defects (background.md): radiology text lost,
# NLL line breaks broken and words lost after an NLL update, no working Multum failover, and the
# date-of-birth problem in patient registration. ``genrep rehearse --replay-2024`` switches them on.
REPLAY_2024: tuple[str, ...] = ("radiology-drop-lines", "nll-linebreaks", "nll-word-loss", "multum-no-failover",
                                "registration-dob")
