"""Provider-side contract drift: what the EHR relies on from NLL vs what NLL publishes and serves.

The 2024 incident: after an NLL release the EHR showed NLL text with broken line breaks and lost
words, and nothing failed before go-live. ``compare`` puts the contract (``contracts/nll.yaml``,
loaded by ``genrep.config.contracts.load_nll``) next to the provider's StructureDefinition and, when given,
MedicationRequests it actually serves, and lists every difference with whether it can break the
consumer:

- ``added``: an element the contract does not know. Optional: not breaking (the EHR ignores it);
  required (min > 0): breaking, the provider now means something the EHR does not read.
- ``removed``: an element of the contract the provider no longer defines: breaking when relied on.
  A field that moved shows as removed here plus added where it went (the detail names the
  candidate).
- ``changed``: cardinality or type of a shared element, or the profile URL: breaking when relied on.
- ``limit-changed``: maxLength (characters) reduced, dropped or raised. Reduced: always breaking
  (text the EHR sends or keeps is cut or refused). Raised or dropped: breaking when relied on (the
  provider may now send more than the EHR was built to show in full).
- ``line-breaks-changed``: sample texts carry a line-break convention the contract does not
  accept: breaking (this is how lines join and words get lost).
- ``modifier-added``: a modifierExtension the contract does not understand, in the profile or in a
  sample: breaking (FHIR: a reader must not process what it does not understand).

``check_provider`` reads all of it from a running provider through an ``NLLClient`` (NLL's headers,
the profile's transport and identity guard) and compares: what ``genrep contract check nll`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from genrep.config.contracts import LINE_BREAK_NAMES, NLLContract, NLLElement
from genrep.errors import ProtocolError
from genrep.integrations.nll import NLLClient

KINDS = ("added", "removed", "changed", "limit-changed", "line-breaks-changed", "modifier-added")


@dataclass(frozen=True)
class Change:
    kind: str
    path: str
    detail: str
    breaking: bool

    def to_dict(self) -> dict:
        return {"kind": self.kind, "path": self.path, "detail": self.detail, "breaking": self.breaking}


@dataclass
class DriftReport:
    contract_release: str
    provider_release: str
    changes: list[Change] = field(default_factory=list)
    samples_checked: int = 0
    source: str = ""

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    def kinds(self) -> set[str]:
        return {c.kind for c in self.changes}

    def render(self) -> str:
        head = (f"NLL contract drift: contract release {self.contract_release} vs provider release "
                f"{self.provider_release or '(unknown)'}" + (f" at {self.source}" if self.source else ""))
        if not self.changes:
            return f"{head}\nno drift: the provider matches the contract ({self.samples_checked} sample resource(s) checked)"
        kind_w = max(len(c.kind) for c in self.changes)
        path_w = max(len(c.path) for c in self.changes)
        rows = [f"{'BREAKING' if c.breaking else 'info':<8}  {c.kind:<{kind_w}}  {c.path:<{path_w}}  {c.detail}"
                for c in self.changes]
        n_break = sum(c.breaking for c in self.changes)
        tail = (f"{len(self.changes)} change(s), {n_break} breaking; {self.samples_checked} sample resource(s) "
                f"checked -> {'DRIFT BREAKS THE CONTRACT' if n_break else 'compatible'}")
        return "\n".join([head, *rows, tail])

    def to_dict(self) -> dict:
        return {"contract_release": self.contract_release, "provider_release": self.provider_release,
                "source": self.source, "breaking": self.breaking, "samples_checked": self.samples_checked,
                "changes": [c.to_dict() for c in self.changes]}


# -- the StructureDefinition side ---------------------------------------------------------------

@dataclass(frozen=True)
class _Provided:
    key: str
    min: int | None
    max: str | None
    type: tuple[str, ...]
    max_length: int | None


def _provider_elements(sd: dict) -> dict[str, _Provided]:
    if not isinstance(sd, dict) or sd.get("resourceType") != "StructureDefinition":
        got = sd.get("resourceType") if isinstance(sd, dict) else type(sd).__name__
        raise ProtocolError(f"expected a StructureDefinition, got {got}")
    out: dict[str, _Provided] = {}
    for part in ("differential", "snapshot"):  # differential first: that is what a profile changes
        section = sd.get(part)
        if section is None:
            continue
        elements = section.get("element") if isinstance(section, dict) else None
        if not isinstance(elements, list) or not all(isinstance(e, dict) for e in elements):
            raise ProtocolError(f"StructureDefinition.{part}.element must be a list of elements")
        for e in elements:
            path = e.get("path")
            if not isinstance(path, str) or not path:
                raise ProtocolError(f"StructureDefinition.{part}: an element has no path")
            key = e.get("id") if isinstance(e.get("id"), str) else \
                path + (f":{e['sliceName']}" if isinstance(e.get("sliceName"), str) else "")
            if key in out:
                continue
            types = e.get("type") or []
            codes = tuple(t.get("code") for t in types if isinstance(t, dict) and isinstance(t.get("code"), str))
            ml = e.get("maxLength")
            out[key] = _Provided(key=key, min=e.get("min") if isinstance(e.get("min"), int) else None,
                                 max=e.get("max") if isinstance(e.get("max"), str) else None,
                                 type=codes, max_length=ml if isinstance(ml, int) else None)
    if not out:
        raise ProtocolError("StructureDefinition has no differential or snapshot elements")
    return out


def _parent(path: str) -> str:
    return path.split(":")[0].rsplit(".", 1)[0]


def _moved_candidates(path: str, added: list[_Provided]) -> list[str]:
    """Added elements that share the removed element's nearest ancestor (not just the root)."""
    near = [(len(_parent(a.key)), a.key) for a in added if path.startswith(_parent(a.key) + ".")]
    if not near:
        return []
    best = max(n for n, _ in near)
    keys = [k for n, k in near if n == best]
    shallow = "." not in _parent(keys[0]) and path.count(".") > 1
    return [] if shallow else keys


def _compare_element(c: NLLElement, p: _Provided) -> list[Change]:
    out: list[Change] = []
    diffs = []
    if p.min is not None and p.min != c.min:
        diffs.append(f"min {c.min} -> {p.min}")
    if p.max is not None and p.max != c.max:
        diffs.append(f"max {c.max} -> {p.max}")
    if c.type and p.type and set(p.type) != set(c.type):
        diffs.append(f"type {'|'.join(c.type)} -> {'|'.join(p.type)}")
    if diffs:
        out.append(Change("changed", c.path, ", ".join(diffs) + ("" if c.relied_on else " (not relied on)"),
                          c.relied_on))
    if c.max_length != p.max_length:
        was = "none" if c.max_length is None else str(c.max_length)
        now = "none" if p.max_length is None else str(p.max_length)
        reduced = p.max_length is not None and (c.max_length is None or p.max_length < c.max_length)
        why = ("reduced: longer text is cut or refused" if reduced
               else "raised or dropped: the provider may send more than the EHR shows in full")
        out.append(Change("limit-changed", c.path, f"maxLength {was} -> {now} (characters); {why}",
                          reduced or c.relied_on))
    return out


def _compare_structure(contract: NLLContract, sd: dict) -> tuple[list[Change], str]:
    provided = _provider_elements(sd)
    release = sd.get("version") if isinstance(sd.get("version"), str) else ""
    changes: list[Change] = []
    url = sd.get("url")
    if url != contract.profile:
        changes.append(Change("changed", "StructureDefinition.url",
                              f"profile {contract.profile} -> {url}: not the profile the contract pins", True))
    contract_keys = {e.path for e in contract.elements}
    added = [p for k, p in provided.items() if k not in contract_keys]
    moved_from: dict[str, list[str]] = {}  # added key -> removed paths it may replace
    for el in contract.elements:
        p = provided.get(el.path)
        if p is None:
            moved = _moved_candidates(el.path, added)
            for key in moved:
                moved_from.setdefault(key, []).append(el.path)
            hint = f"; possibly moved to {', '.join(moved)} (added in this release)" if moved else ""
            detail = ("relied-on element no longer in the provider's profile" if el.relied_on
                      else "element (not relied on) no longer in the provider's profile") + hint
            changes.append(Change("removed", el.path, detail, el.relied_on))
            continue
        changes.extend(_compare_element(el, p))
    for p in added:
        path_only = p.key.split(":")[0]
        if path_only.endswith(".modifierExtension"):
            changes.append(Change("modifier-added", p.key,
                                  "the profile defines a modifierExtension the EHR does not understand", True))
            continue
        card = f"{p.min if p.min is not None else '?'}..{p.max or '?'}"
        what = f"{'|'.join(p.type) or 'element'} {card}"
        if p.max_length is not None:
            what += f", maxLength {p.max_length}"
        required = bool(p.min)
        if p.key in moved_from:
            note = f"; possibly where {', '.join(moved_from[p.key])} moved (the EHR does not read it here)"
        else:
            note = "" if required else "; ignored safely by the EHR"
        changes.append(Change("added", p.key,
                              f"new {'required' if required else 'optional'} element ({what})" + note, required))
    return changes, release


# -- the data side ------------------------------------------------------------------------------

def _resources(samples: Iterable[dict]) -> list[dict]:
    out: list[dict] = []
    for s in samples:
        if not isinstance(s, dict):
            raise ProtocolError(f"a sample is not a FHIR resource: {type(s).__name__}")
        if s.get("resourceType") == "Bundle":
            for entry in s.get("entry") or []:
                res = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(res, dict):
                    out.append(res)
        else:
            out.append(s)
    return [r for r in out if r.get("resourceType") == "MedicationRequest"]


def values_at(resource: Any, path: str) -> list[Any]:
    """All values at a FHIR element path (``MedicationRequest.dosageInstruction.patientInstruction``)
    in JSON, through lists; slices (``:name``) are not resolved."""
    parts = path.split(":")[0].split(".")[1:]
    current = [resource]
    for part in parts:
        nxt = []
        for node in current:
            if isinstance(node, dict) and part in node:
                v = node[part]
                nxt.extend(v if isinstance(v, list) else [v])
        current = nxt
    return current


def line_breaks_in(text: str) -> set[str]:
    found = set()
    if "\r\n" in text:
        found.add("\r\n")
    rest = text.replace("\r\n", "")
    if "\r" in rest:
        found.add("\r")
    if "\n" in rest:
        found.add("\n")
    return found


def _compare_samples(contract: NLLContract, resources: list[dict]) -> list[Change]:
    changes: list[Change] = []
    accepted = " or ".join(f"{b!r} ({LINE_BREAK_NAMES[b]})" for b in contract.line_breaks)
    for path in contract.line_break_elements:
        texts = [v for r in resources for v in values_at(r, path) if isinstance(v, str)]
        counts: dict[str, int] = {}
        for t in texts:
            for b in line_breaks_in(t):
                counts[b] = counts.get(b, 0) + 1
        for b in ("\r\n", "\r", "\n"):
            if counts.get(b) and b not in contract.line_breaks:
                changes.append(Change("line-breaks-changed", path,
                                      f"line breaks {b!r} ({LINE_BREAK_NAMES[b]}) in {counts[b]} of {len(texts)} "
                                      f"sample text(s); the contract accepts only {accepted}", True))
    understood = set(contract.modifier_extensions_understood)
    unknown: dict[str, int] = {}
    for r in resources:
        for ext in r.get("modifierExtension") or []:
            url = ext.get("url") if isinstance(ext, dict) else None
            if url not in understood:
                unknown[str(url)] = unknown.get(str(url), 0) + 1
    for url, n in sorted(unknown.items()):
        changes.append(Change("modifier-added", "MedicationRequest.modifierExtension",
                              f"{url} in {n} sample resource(s): the EHR does not understand it and must "
                              "not process the prescription as if it were absent", True))
    return changes


def compare(contract: NLLContract, structure_definition: dict, samples: Iterable[dict] = (),
            capability: dict | None = None) -> DriftReport:
    """Contract vs the provider's StructureDefinition (and sample MedicationRequests or Bundles, and
    its CapabilityStatement: a provider on another FHIR version is breaking drift)."""
    changes, release = _compare_structure(contract, structure_definition)
    if capability is not None:
        got = str(capability.get("fhirVersion", "")) if isinstance(capability, dict) else ""
        want = contract.fhir_version
        if got.split(".")[:2] != want.split(".")[:2]:
            changes.append(Change("changed", "CapabilityStatement.fhirVersion",
                                  f"the provider speaks FHIR {got or 'an unstated version'}; the contract "
                                  f"expects {want} (R4): every element may differ", True))
    resources = _resources(samples)
    changes.extend(_compare_samples(contract, resources))
    order = {k: i for i, k in enumerate(KINDS)}
    changes.sort(key=lambda c: (not c.breaking, order[c.kind], c.path))
    return DriftReport(contract_release=contract.release, provider_release=release, changes=changes,
                       samples_checked=len(resources))


# -- against a running provider -----------------------------------------------------------------

#: The largest answer the drift check reads from the provider. A StructureDefinition, the
#: CapabilityStatement or one test patient's MedicationRequests are far smaller; an NLLClient
#: otherwise reads up to its transport's general bound (32 MiB).
MAX_PROVIDER_BYTES = 8 * 1024 * 1024


def check_provider(client: NLLClient, contract: NLLContract, patients: Iterable[str] = ()) -> DriftReport:
    """The provider behind ``client`` against ``contract``: its StructureDefinition (the profile the
    contract pins, by name), the MedicationRequests of ``patients`` (allowlisted test identities:
    the client's identity guard checks each before it is sent) and its CapabilityStatement, then
    ``compare``. ``report.source`` is the provider's FHIR base URL.

    Every request carries NLL's headers (a fresh ``x-request-id``, ``x-user-agent``) and the
    profile's timeouts, through the client's transport (host allowlist, TLS, overall deadline);
    each answer is bounded to ``MAX_PROVIDER_BYTES`` for the check. Failures raise genrep errors:
    ConnectionRefused, ConnectTimeout, ReadTimeout, ProtocolError (malformed JSON, wrong content
    type, invalid FHIR, not a StructureDefinition, oversized), FHIRError (an HTTP error status with
    its OperationOutcome), IdentityViolation (a patient number not on the allowlist)."""
    from genrep.transport.fhir import validate

    transport = client.fhir.transport
    bound = transport.max_body_bytes
    transport.max_body_bytes = min(bound, MAX_PROVIDER_BYTES)
    try:
        name = contract.profile.rstrip("/").rsplit("/", 1)[-1]
        structure = client.fhir.get_json(f"StructureDefinition/{name}", headers=client._headers())
        if structure.get("resourceType") != "StructureDefinition":
            raise ProtocolError(f"expected StructureDefinition, got {structure.get('resourceType')}")
        validate(structure)
        samples = [rx.resource for number in patients for rx in client.prescriptions(number)]
        capability = client.fhir.get_json("metadata", headers=client._headers())
    finally:
        transport.max_body_bytes = bound
    report = compare(contract, structure, samples, capability)
    report.source = transport.base_url
    return report
