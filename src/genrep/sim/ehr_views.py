"""How the virtual EHR shows a stored report besides its Binary text: the text inline, as HTML, and
its conclusion (``ReportViews``), with the rendition defects of ``genrep.sim.defects``.

Its own module because rendering is a concern apart from holding the records (``ehr_store``) and from
reading a report out of a message (``ehr_report_content``): the harness's read-back checks
(``tests/unit/test_readback_representations.py``) exercise these functions alone, and every rendition
must say what the stored text says. ``genrep.sim.ehr_store`` re-exports the public names.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass

from genrep.sim.defects import truncate_bytes
from genrep.text.representations import conclusion_paragraph

_NEGATION = re.compile(r"\b(?:ingen|inga|inget|ej|inte|utan|icke)\b[ \t]*", re.I)

#: the conclusion the virtual EHR shows: the report's headed conclusion paragraph (one definition,
#: shared with the read-back check)
conclusion_of = conclusion_paragraph


def html_document(text: str, title: str) -> str:
    """The report as the EHR's HTML view shows it: one ``<br>`` per line break inside a
    ``white-space: pre-wrap`` block, so spaces and tabs show as sent; ``<``, ``>`` and ``&`` of
    the text escaped (pasted markup is text, never markup)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "<br>".join(html.escape(line, quote=False) for line in lines)
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>' + html.escape(title)
            + '</title></head><body><div class="report" style="white-space: pre-wrap">' + body
            + "</div></body></html>")


@dataclass(frozen=True, slots=True)
class ReportViews:
    """What the EHR shows of one report version besides the Binary text, rendered once: the text
    inline (base64 UTF-8), the HTML view (base64 UTF-8) and the conclusion ("" = none)."""

    inline_data: str
    html_data: str
    conclusion: str


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def render_views(text: str, title: str, defects: dict | None = None) -> ReportViews:
    """The renditions of a stored text; the rendition defects (``genrep.sim.defects``) change one
    rendition each and leave the stored text (the Binary) whole."""
    defects = defects or {}
    inline = text
    if "radiology-inline-truncated" in defects:
        inline = truncate_bytes(inline, defects["radiology-inline-truncated"])
    shown = text
    if "radiology-html-drops-lines" in defects:
        shown = "\n".join(shown.replace("\r\n", "\n").split("\n")[: defects["radiology-html-drops-lines"]])
    conclusion = conclusion_of(text)
    if "radiology-conclusion-negation-dropped" in defects:
        conclusion = _NEGATION.sub("", conclusion).strip()
    return ReportViews(inline_data=_b64(inline) if inline else "",
                       html_data=_b64(html_document(shown, title)) if text else "",
                       conclusion=conclusion)

