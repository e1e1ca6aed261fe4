"""What an operator sees: one message on one channel of the proxies, as bytes, with its context.

Channels: ``mllp-inbound`` (one HL7 v2 message, the payload of one MLLP frame, harness -> EHR),
``mllp-outbound`` (the EHR's ACK), ``http-request`` and ``http-response`` (one HTTP body, with the
request path and the response's content type and status). The EHR's own outbound calls, where the
environment lets a proxy sit on them (the virtual environment's option): ``nll-request`` /
``nll-response`` (the EHR reading the national medication list) and ``multum-request`` /
``multum-response`` (the EHR's interaction checks through the Multum load balancer).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace

MLLP_INBOUND = "mllp-inbound"
MLLP_OUTBOUND = "mllp-outbound"
HTTP_REQUEST = "http-request"
HTTP_RESPONSE = "http-response"
NLL_REQUEST, NLL_RESPONSE = "nll-request", "nll-response"
MULTUM_REQUEST, MULTUM_RESPONSE = "multum-request", "multum-response"
#: the EHR's outbound paths a proxy can sit on: name -> (request channel, response channel)
OUTBOUND = {"nll": (NLL_REQUEST, NLL_RESPONSE), "multum": (MULTUM_REQUEST, MULTUM_RESPONSE)}
INBOUND_HTTP = (HTTP_REQUEST, HTTP_RESPONSE)
CHANNELS = (MLLP_INBOUND, MLLP_OUTBOUND, HTTP_REQUEST, HTTP_RESPONSE, NLL_REQUEST, NLL_RESPONSE, MULTUM_REQUEST,
            MULTUM_RESPONSE)


@dataclass(frozen=True)
class Message:
    channel: str
    data: bytes
    content_type: str = ""  # HTTP: the body's Content-Type
    path: str = ""          # HTTP: the request path (with query)
    status: int = 0         # HTTP response status

    def with_data(self, data: bytes, *, status: int | None = None, content_type: str | None = None) -> "Message":
        """The same message with another body (and, for a response, another status and content
        type: the proxy answers with them)."""
        return replace(self, data=bytes(data), status=self.status if status is None else status,
                       content_type=self.content_type if content_type is None else content_type)

    def same_as(self, other: "Message") -> bool:
        """Nothing the proxy forwards differs (body, status, content type)."""
        return (self.data == other.data and self.status == other.status
                and self.content_type == other.content_type)

    @property
    def outbound(self) -> bool:
        """On one of the EHR's own outbound paths (``OUTBOUND``), not between the harness and the EHR."""
        return any(self.channel in pair for pair in OUTBOUND.values())

    @property
    def mime(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def is_json(self) -> bool:
        return self.mime in ("application/json", "application/fhir+json") or self.mime.endswith("+json")

    @property
    def is_text(self) -> bool:
        return self.mime.startswith("text/")

    @property
    def charset(self) -> str:
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"')
        return "utf-8"

    def __repr__(self) -> str:  # never the content: it holds patient data
        return f"Message({self.channel}, {len(self.data)} bytes{', ' + self.path if self.path else ''})"


def readable(message: Message) -> str:
    """The message as lines a person can compare: HL7 one segment a line, JSON indented, text as is."""
    data = message.data
    if message.channel.startswith("mllp"):
        text = data.decode("utf-8", errors="replace")
        return text.replace("\r\n", "\n").replace("\r", "\n")
    if message.is_json:
        try:
            return json.dumps(json.loads(data.decode("utf-8")), indent=1, ensure_ascii=False)
        except (ValueError, UnicodeDecodeError):
            pass
    return data.decode(message.charset if message.is_text else "utf-8", errors="replace")


def change_example(before: Message, after: Message, *, context: int = 1, limit: int = 40,
                   width: int = 240) -> str:
    """A short unified diff of what an operator changed (not masked: the caller masks it)."""
    a, b = readable(before).split("\n"), readable(after).split("\n")
    lines = list(difflib.unified_diff(a, b, "before", "after", n=context, lineterm=""))
    status = (f"(HTTP status {before.status} -> {after.status})" if before.status != after.status else "")
    if not lines:
        return status or f"(bytes changed, text the same: {len(before.data)} -> {len(after.data)} bytes)"
    if status:
        lines.insert(0, status)
    out = [line if len(line) <= width else line[:width] + " [...]" for line in lines[:limit]]
    if len(lines) > limit:
        out.append(f"[... {len(lines) - limit} more diff lines]")
    return "\n".join(out)
