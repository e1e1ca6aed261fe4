"""The interop matrix (issue 16, part 7): independent implementations from the package registries,
run as real processes against genrep and the virtual EHR, with sample messages of our own design in
the styles real senders use (``fixtures/interop``). Each row says what was sent, by what, and what
genrep concluded; every row passes, or fails for the reason its sample was made wrong for.

* **inbound** (independent senders -> the virtual EHR; genrep reads every report back over FHIR and
  compares it with the sample's text): genrep's own MLLP client (the baseline), python-hl7's
  ``mllp_send`` command, npm's ``node-hl7-client``;
* **outbound** (genrep's MLLP client -> independent receivers; genrep matches each ACK to its
  message): python-hl7's asyncio server, hl7apy's ``MLLPServer`` (one message per connection), npm's
  ``node-hl7-server`` (which answers every later message on a connection with the first one's ACK);
* **FHIR** (genrep's readers against files served as other FHIR servers shape them,
  ``fixtures/interop/fhir``): several presentedForms, conclusion-only and Observation-only text, a
  multi-step dosage, a paged medication list.

npm's packages are installed from the registry into ``<venv>/interop-node`` (``npm ci`` from
``fixtures/interop/node``, pinned by its lock file); where ``node``/``npm`` are absent or too old, or
the install fails, the npm rows are skipped saying why. Run with ``-s`` to see the matrix.
"""

from __future__ import annotations

import base64
import fcntl
import filecmp
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from genrep import hl7
from genrep.config.contracts import load_radiology
from genrep.config.profile import Endpoint, Profile, Timeouts
from genrep.errors import GenrepError
from genrep.integrations.medication_list import EHRMedicationClient, compare_lists
from genrep.integrations.nll import PNR_SYSTEM, NLLClient
from genrep.integrations.radiology import RadiologyClient, new_accession, new_control_id
from genrep.paths import PROJECT_ROOT
from genrep.results.failure_kinds import kinds_in
from genrep.sim.process import SimProcess
from genrep.text.fidelity import TextRules
from genrep.text.identities import IdentityGuard
from genrep.transport.mllp import AckMismatch, MLLPClient

from .conftest import profile_for
from .fhir_files_server import FHIRFilesServer

INTEROP = PROJECT_ROOT / "fixtures" / "interop"
PEERS = Path(__file__).with_name("peer_servers.py")
NODE_SRC = INTEROP / "node"
NODE_DIR = Path(sys.prefix) / "interop-node"  # npm installs here: never in the work tree
NODE_MIN = (20, 15)  # node-hl7-client 3.2.0's engines
TERMINATORS = {"CR": "\r", "CRLF": "\r\n", "LF": "\n"}
PDF_BASE64 = base64.b64encode((INTEROP / "report.pdf").read_bytes()).decode("ascii")


# -- the npm peers ---------------------------------------------------------------------------------

def _node_version() -> tuple[int, ...] | None:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(x) for x in out.strip().lstrip("v").split(".")[:2])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None


@pytest.fixture(scope="module")
def node_peers() -> Path:
    """``<venv>/interop-node`` with node-hl7-client and node-hl7-server installed (``npm ci``, the
    lock file's versions); the test is skipped, naming why, when that cannot be had."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("npm rows skipped: node and npm are not installed (apt-get install nodejs npm)")
    version = _node_version()
    if version is None or version < NODE_MIN:
        pytest.skip(f"npm rows skipped: node {version} is older than {'.'.join(map(str, NODE_MIN))}, "
                    "which node-hl7-client 3.2.0 needs")
    NODE_DIR.mkdir(parents=True, exist_ok=True)
    with open(NODE_DIR / ".install.lock", "w") as guard:  # xdist workers: one installs, the others wait
        fcntl.flock(guard, fcntl.LOCK_EX)
        problem = _install_node_peers()
    if problem:
        pytest.skip(f"npm rows skipped: {problem}")
    return NODE_DIR


def _install_node_peers() -> str:
    """``npm ci`` into ``NODE_DIR`` unless the lock file's versions are there already; "" when
    installed, else what went wrong."""
    lock = NODE_DIR / "package-lock.json"
    if (NODE_DIR / "node_modules" / "node-hl7-client").is_dir() and lock.is_file() \
            and filecmp.cmp(lock, NODE_SRC / "package-lock.json", shallow=False):
        return ""
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(NODE_SRC / name, NODE_DIR / name)
    try:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", str(NODE_DIR)],
                              capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        lock.unlink(missing_ok=True)
        return "npm ci did not finish within 180 s (registry unreachable?)"
    if done.returncode != 0:
        lock.unlink(missing_ok=True)  # try again next time
        return f"npm ci failed: {(done.stderr or done.stdout).strip()[-400:]}"
    return ""


def _node_env(node_dir: Path) -> dict:
    return dict(os.environ, NODE_PATH=str(node_dir / "node_modules"))


class PeerProcess:
    """An independent MLLP server as a process of its own: it prints ``peer listening on HOST:PORT``."""

    def __init__(self, name: str, argv: list[str], env: dict | None = None):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, env=env)
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        line = self.proc.stdout.readline().decode() if sel.select(20) else ""
        sel.close()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"peer {name} did not start: {line!r}")
        self.port = int(line.strip().rsplit(":", 1)[1])

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


# -- the virtual EHR and genrep's clients ----------------------------------------------------------------

@pytest.fixture(scope="module")
def ehr_alone():
    """The virtual EHR alone (no NLL or Multum: the matrix needs its MLLP and FHIR sides only)."""
    sim = SimProcess("genrep.sim.ehr", ["--mllp-port", "0", "--fhir-port", "0"], ready_timeout=20)
    info = sim.start()
    try:
        yield profile_for(info), info
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def reader(ehr_alone, allowlist):
    profile, _info = ehr_alone
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    yield client
    client.close()


# -- the samples ----------------------------------------------------------------------------------------

@dataclass
class Sent:
    sample: dict
    message: str  # the text as sent (placeholders filled, segments joined)
    payload: bytes
    control_id: str
    accession: str


def samples() -> list[dict]:
    return yaml.safe_load((INTEROP / "samples.yaml").read_text(encoding="utf-8"))["samples"]


def render(sample: dict, patient: hl7.Patient) -> Sent:
    """A sample with its placeholders filled (fresh control id and accession), joined with its
    segment ends and encoded in its charset."""
    control_id, accession = new_control_id(), new_accession()
    values = {"NOW": time.strftime("%Y%m%d%H%M%S"), "MSGID": control_id, "PNR": patient.identifier,
              "ACC": accession, "PLACER": f"P{accession}", "FAMILY": patient.family, "GIVEN": patient.given,
              "BIRTH": patient.birth_date, "SEX": patient.sex, "PDF_BASE64": PDF_BASE64}
    text = (INTEROP / sample["file"]).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    end = TERMINATORS[sample["segment_end"]]
    message = end.join(text.rstrip("\n").split("\n")) + end
    return Sent(sample, message, message.encode(sample["encoding"]), control_id, accession)


def rendered(patient: hl7.Patient, guard: IdentityGuard) -> list[Sent]:
    out = [render(s, patient) for s in samples()]
    for sent in out:  # no identity but allowlisted test ones, whoever sends the bytes
        guard.check(sent.payload, destination="interop matrix")
    return out


# -- what genrep concludes ------------------------------------------------------------------------------

@dataclass
class Row:
    who: str
    what: str
    concluded: str
    ok: bool
    expected: str = ""


def conclude(reader: RadiologyClient, sent: Sent, ack_raw: bytes | None, patient: hl7.Patient) -> Row:
    """What genrep concludes about one sample sent by someone else: the ACK (it must name the sent
    MSH-10), then the read-back against the sample's text; ``ok`` when that is what the sample expects."""
    sample, expect = sent.sample, sent.sample["expect"]
    what = f"{Path(sample['file']).stem} ({sample['style']})"
    if not ack_raw:
        return Row("", what, "no ACK", False, expect)
    ack = hl7.parse_ack(ack_raw)
    head = f"{ack.code}" + (f" '{ack.text[:70]}'" if ack.code != "AA" else "")
    if ack.control_id != sent.control_id:
        return Row("", what, f"{head}, but the ACK names {ack.control_id!r}, not {sent.control_id!r}", False, expect)
    if expect == "refused":
        stored = reader.find_reports(sent.accession)
        ok = ack.code in ("AE", "AR") and sample["reason"] in ack.text and not stored
        return Row("", what, f"{head}; {'nothing stored' if not stored else 'STORED'}", ok, expect)
    if ack.code != "AA":
        return Row("", what, head, False, expect)
    if expect == "registered":
        shown = reader.find_patient(patient.identifier)
        problems = reader.check_registration(patient, shown) if shown else ["no Patient"]
        return Row("", what, "AA; Patient read back shows the registered name" if not problems
                   else f"AA; {problems[0][:80]}", not problems, expect)
    reports, _ = reader.read_back(sent.accession)
    if len(reports) != 1:
        return Row("", what, f"AA; {len(reports)} reports read back", False, expect)
    check = reader.check(sample["text"], reports[0])
    compared = [r for r in reports[0].representations if r.text is not None]
    not_checked = [r.content_type for r in reports[0].representations if r.status == "not checked"]
    if check.ok:
        concluded = f"AA; read back equal in {len(compared)} representations" + (
            f"; not checked: {', '.join(not_checked)}" if not_checked else "")
        ok = expect == ("pass_with_notes" if not_checked else "pass")
    else:
        concluded = f"AA; read back: {', '.join(kinds_in(check.message()))}" + (
            " (nothing verified)" if "nothing was verified" in check.message() else "")
        ok = expect == "not_verified" and kinds_in(check.message()) == ["representation_not_checked"]
    return Row("", what, concluded, ok, expect)


def table(title: str, rows: list[Row]) -> str:
    lines = [f"{title}", "| by | what was sent | genrep concluded | expected | |", "|---|---|---|---|---|"]
    lines += [f"| {r.who} | {r.what} | {r.concluded} | {r.expected} | {'ok' if r.ok else 'WRONG'} |" for r in rows]
    return "\n".join(lines)


def settle(title: str, rows: list[Row]) -> None:
    text = table(title, rows)
    print("\n" + text)
    assert all(r.ok for r in rows), text


# -- inbound: independent senders -> the virtual EHR ------------------------------------------------------

def send_with_genrep(info: dict, items: list[Sent]) -> list[bytes | None]:
    with MLLPClient(info["host"], info["mllp_port"], read_timeout=5) as client:
        return [client.send(s.payload) for s in items]


def send_with_mllp_send(info: dict, items: list[Sent]) -> list[bytes | None]:
    """python-hl7's ``mllp_send`` command: every message framed in one file, one connection."""
    tool = Path(sys.executable).with_name("mllp_send")
    if not tool.exists():
        pytest.skip(f"python-hl7's mllp_send is not installed beside {sys.executable}")
    with tempfile.NamedTemporaryFile(suffix=".mllp") as f:
        f.write(b"".join(b"\x0b" + s.payload + b"\x1c\r" for s in items))
        f.flush()
        done = subprocess.run([str(tool), "-p", str(info["mllp_port"]), "-f", f.name, info["host"]],
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    acks = [a.strip(b"\x1c\r\n") for a in done.stdout.split(b"\x0b") if a.strip()]
    return acks + [None] * (len(items) - len(acks))


def send_with_node(info: dict, items: list[Sent], node_dir: Path) -> list[bytes | None]:
    """npm's node-hl7-client: one connection per charset (latin1 for 8859/1), waiting for each ACK."""
    encodings = {"utf-8": "utf-8", "ascii": "utf-8", "latin-1": "latin1"}
    batch = [{"id": n, "text": s.payload.decode(s.sample["encoding"]), "encoding": encodings[s.sample["encoding"]]}
             for n, s in enumerate(items)]
    done = subprocess.run(["node", str(NODE_SRC / "send.js"), str(info["mllp_port"])], input=json.dumps(batch),
                          capture_output=True, text=True, timeout=60, env=_node_env(node_dir))
    assert done.returncode == 0, done.stderr[-800:]
    answers: list[bytes | None] = [None] * len(items)
    for line in done.stdout.splitlines():
        got = json.loads(line)
        if "ack" in got:
            answers[got["id"]] = got["ack"].encode("utf-8")
    return answers


@pytest.mark.parametrize("sender", ["genrep MLLPClient", "python-hl7 mllp_send", "node-hl7-client 3.2.0"])
def test_independent_senders_to_the_virtual_ehr(sender, ehr_alone, reader, patient, allowlist, request):
    _profile, info = ehr_alone
    items = rendered(patient, IdentityGuard(allowlist))
    if sender.startswith("genrep"):
        acks = send_with_genrep(info, items)
    elif sender.startswith("python-hl7"):
        acks = send_with_mllp_send(info, items)
    else:
        acks = send_with_node(info, items, request.getfixturevalue("node_peers"))
    rows = []
    for sent, ack in zip(items, acks):
        row = conclude(reader, sent, ack, patient)
        row.who = sender
        rows.append(row)
    settle(f"inbound: {sender} -> virtual EHR", rows)


# -- outbound: genrep -> independent receivers -------------------------------------------------------------

#: samples an independent receiver does not answer (it closes the connection): genrep must say so,
#: never take the silence for an answer
NO_ANSWER = {
    "python-hl7 asyncio server": {
        "ris_ft_br_v231_8859": "python-hl7's server, started with encoding utf-8, cannot decode 8859/1 bytes"},
    "hl7apy MLLPServer": {
        "adt_a04_v23_crlf": "hl7apy's parser fails on CR LF segment ends; its server then closes",
        "nte_only_v23_crlf": "hl7apy's parser fails on CR LF segment ends; its server then closes",
        "ris_ft_br_v231_8859": "hl7apy's MLLPServer decodes every frame as UTF-8"},
}


def outbound_messages(patient: hl7.Patient, guard: IdentityGuard) -> list[tuple[str, bytes, str]]:
    """(what, payload, control id): genrep's own ADT and ORU in each line convention, then every
    sample of the inbound matrix (a receiver that is not the EHR validates nothing: it answers
    the wrong-on-purpose ones AA too)."""
    out = []
    cid = new_control_id()
    out.append(("ADT^A04 v2.5 (hl7.build_adt)", hl7.encode(hl7.build_adt("A04", patient, control_id=cid)), cid))
    for convention in hl7.CONVENTIONS:
        cid = new_control_id()
        report = hl7.Report(accession=new_accession(), text="Lungröntgen.\nIngen pneumoni.\n\nSlutsats: u.a.")
        out.append((f"ORU^R01 v2.5, {convention} (hl7.build_oru)",
                    hl7.encode(hl7.build_oru(patient, report, control_id=cid, convention=convention)), cid))
    out += [(Path(s.sample["file"]).stem, s.payload, s.control_id) for s in rendered(patient, guard)]
    return out


def outbound_rows(server: str, port: int, messages, guard: IdentityGuard, connection: str) -> list[Row]:
    rows = []
    with MLLPClient("127.0.0.1", port, read_timeout=5, connection=connection) as client:
        for what, payload, cid in messages:
            guard.check(payload, destination=server)
            try:
                ack = hl7.parse_ack(client.send(payload))
                concluded = (f"{ack.code}, MSA-2 = the sent MSH-10" if ack.control_id == cid
                             else f"{ack.code} for {ack.control_id}")
            except AckMismatch as exc:
                concluded = f"ack_mismatch: {str(exc).split(':', 1)[1].strip()[:110]}"
            except GenrepError as exc:
                concluded = f"{type(exc).__name__}: {str(exc).split(': ', 1)[-1][:80]}"
            rows.append(Row(f"genrep ({connection}) -> {server}", what, concluded, False))
    return rows


def expect_answers(server: str, rows: list[Row]) -> None:
    """Each row AA for its own message, or no answer where ``NO_ANSWER`` says the receiver has none."""
    for r in rows:
        why = NO_ANSWER.get(server, {}).get(r.what)
        if why is None:
            r.expected, r.ok = "AA matched", r.concluded.startswith("AA, MSA-2 =")
        else:
            r.expected, r.ok = f"no answer ({why})", r.concluded.startswith("ConnectionClosed")


@pytest.mark.parametrize("server", ["python-hl7 asyncio server", "hl7apy MLLPServer", "node-hl7-server 2.5.0"])
def test_genrep_to_independent_receivers(server, patient, allowlist, request):
    guard = IdentityGuard(allowlist)
    messages = outbound_messages(patient, guard)
    if server.startswith("node"):
        node_dir = request.getfixturevalue("node_peers")
        peer = PeerProcess(server, ["node", str(NODE_SRC / "serve.js")], env=_node_env(node_dir))
    else:
        peer = PeerProcess(server, [sys.executable, str(PEERS), server.split()[0], "in_step"])
    try:
        if server.startswith("python-hl7"):
            rows = outbound_rows(server, peer.port, messages, guard, "persistent")
        elif server.startswith("hl7apy"):  # closes after each ACK: one message per connection
            rows = outbound_rows(server, peer.port, messages, guard, "per_message")
        else:  # node-hl7-server keeps a connection's bytes: each message is answered after all earlier ones again
            first = outbound_rows(server, peer.port, messages[:4], guard, "persistent")
            for n, r in enumerate(first):
                r.expected = "AA matched" if n == 0 else "ack_mismatch (every earlier message answered again first)"
                r.ok = r.concluded.startswith("AA, MSA-2 =") if n == 0 else r.concluded.startswith("ack_mismatch:")
            rows = outbound_rows(server, peer.port, messages, guard, "per_message")
        expect_answers(server, rows)
        if server.startswith("node"):
            rows = first + rows
    finally:
        peer.stop()
    settle(f"outbound: genrep -> {server}", rows)


# -- FHIR: genrep's readers against other servers' answers -------------------------------------------------

def fhir_cases() -> list[Path]:
    return sorted((INTEROP / "fhir").glob("*.json"))


def _profile(srv: FHIRFilesServer) -> Profile:
    eps = {name: Endpoint(name, "http", "127.0.0.1", srv.port, base_url=srv.base) for name in ("nll_fhir", "ehr_fhir")}
    eps["radiology_mllp"] = Endpoint("radiology_mllp", "mllp", "127.0.0.1", srv.port)  # reads only
    return Profile(name="interop-fhir", kind="external", description="fixtures/interop/fhir", endpoints=eps,
                   timeouts=Timeouts(2.0, 5.0))


def read_report(spec: dict, profile: Profile, allowlist) -> tuple[str, bool]:
    """genrep's radiology read-back of the case's report, compared with its sent text."""
    client = RadiologyClient(profile, load_radiology(), IdentityGuard(allowlist))
    try:
        [stored] = client.find_reports(spec["accession"])
        check = client.check(spec["sent"], stored)
    finally:
        client.close()
    kinds = kinds_in(check.message())
    statuses = [f"{r.content_type}: {r.status}" for r in stored.representations]
    concluded = ("pass" if check.ok else f"fail: {', '.join(kinds)}") + f" [{'; '.join(statuses)}]"
    expect = spec["expect"]
    ok = (check.ok == (expect["verdict"] == "pass") and kinds == expect.get("kinds", [])
          and statuses == expect["representations"])
    return concluded, ok


def read_lists(spec: dict, profile: Profile, allowlist, pnr: str) -> tuple[str, bool]:
    """NLL's list and the EHR's, each read in full by genrep, compared (``compare_lists``)."""
    nll, ehr = NLLClient(profile, IdentityGuard(allowlist)), EHRMedicationClient(profile)
    try:
        nll_items, shown = nll.prescriptions(pnr), ehr.medication_list("pat-1")
    finally:
        nll.fhir.transport.close()
        ehr.fhir.transport.close()
    kinds = kinds_in("\n".join(compare_lists(nll_items, shown, TextRules())))
    concluded = (f"NLL {len(nll_items)}, EHR {len(shown.prescriptions)} prescriptions, "
                 f"{len(shown.warnings)} warning(s): " + (f"fail: {', '.join(kinds)}" if kinds else "pass"))
    expect = spec["expect"]
    ok = ([len(nll_items), len(shown.prescriptions)] == expect["counts"] and kinds == expect.get("kinds", [])
          and shown.warnings == expect.get("warnings", []))
    return concluded, ok


@pytest.mark.parametrize("case", fhir_cases(), ids=lambda p: p.stem)
def test_fhir_answers_as_other_servers_shape_them(case, allowlist):
    spec = json.loads(case.read_text(encoding="utf-8"))
    pnr = allowlist.pick(0, kind="personnummer").number
    routes = {k.replace("{PNR}", pnr).replace("{PNR_SYSTEM}", PNR_SYSTEM): v for k, v in spec["routes"].items()}
    srv = FHIRFilesServer(routes)
    try:
        if spec["reader"] == "radiology":
            concluded, ok = read_report(spec, _profile(srv), allowlist)
        else:
            concluded, ok = read_lists(spec, _profile(srv), allowlist, pnr)
    finally:
        srv.close()
    settle("FHIR", [Row(f"genrep {spec['reader']}", f"{case.stem} ({spec['style']})", concluded, ok,
                        spec["expect"]["verdict"])])
