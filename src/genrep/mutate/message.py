"""What an operator sees: one message on one channel of the proxies, as bytes, with its context.

Channels: ``mllp-inbound`` (one HL7 v2 message, the payload of one MLLP frame, harness -> EHR),
``mllp-outbound`` (the EHR's ACK), ``http-request`` and ``http-response`` (one HTTP body, with the
request path and the response's content type and status).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace

MLLP_INBOUND = "mllp-inbound"
MLLP_OUTBOUND = "mllp-outbound"
HTTP_REQUEST = "http-request"
HTTP_RESPONSE = "http-response"
CHANNELS = (MLLP_INBOUND, MLLP_OUTBOUND, HTTP_REQUEST, HTTP_RESPONSE)


@dataclass(frozen=True)
class Message:
    channel: str
    data: bytes
    content_type: str = ""  # HTTP: the body's Content-Type
    path: str = ""          # HTTP: the request path (with query)
    status: int = 0         # HTTP response status

    def with_data(self, data: bytes) -> "Message":
        return replace(self, data=bytes(data))

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
    if not lines:
        return f"(bytes changed, text the same: {len(before.data)} -> {len(after.data)} bytes)"
    out = [line if len(line) <= width else line[:width] + " [...]" for line in lines[:limit]]
    if len(lines) > limit:
        out.append(f"[... {len(lines) - limit} more diff lines]")
    return "\n".join(out)
