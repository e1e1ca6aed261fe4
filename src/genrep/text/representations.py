"""What a clinician reads in one representation of a stored report: inline attachment ``data``
decoded with its contentType's charset (``decode_inline``), and an HTML rendition as text
(``html_to_text``: a real HTML parser, block elements and ``<br>`` to line breaks, entities decoded,
whitespace as a browser shows it); and the conclusion a report's text carries (``conclusion_paragraph``:
the headed paragraph, ``Slutsats:`` ..., that an EHR lifts out as its conclusion). Used by the
complete read-back (``integrations.radiology``) and by the virtual EHR (one definition of what the
conclusion is, for the receiver and the check alike); no transport here.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from html.parser import HTMLParser

TEXT_TYPES = ("text/plain", "text/html")


def media_type(content_type: str) -> tuple[str, str | None]:
    """``"text/html; charset=ISO-8859-1"`` -> ``("text/html", "ISO-8859-1")``."""
    mime, *params = (content_type or "").split(";")
    charset = None
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return mime.strip().lower(), charset


def decode_inline(data, content_type: str) -> str:
    """An attachment's inline ``data`` as text: base64 (whitespace allowed, as line-wrapped
    encoders write it), decoded with the contentType's charset, UTF-8 when it names none.
    ValueError saying what is wrong (not base64, unknown charset, bytes not in the charset)."""
    if not isinstance(data, str):
        raise ValueError(f"data is not a base64 string ({type(data).__name__})")
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"data is not valid base64 ({exc})") from None
    charset = media_type(content_type)[1] or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        raise ValueError(f"unknown charset {charset!r} in contentType {content_type!r}") from None
    try:
        return raw.decode(charset)
    except UnicodeDecodeError as exc:
        raise ValueError(f"data is not valid {charset} (byte {exc.start}: {exc.reason})") from None


class _HTMLText(HTMLParser):
    """HTML to the text a clinician reads (a simplified ``innerText``): block elements start and
    end a line (``<p>`` and headings leave a blank line), ``<br>`` is a line break, table cells are
    separated by tabs, entities are decoded, ``<head>``/``<script>``/``<style>`` and hidden
    elements show nothing. Whitespace is collapsed as a browser shows it, except inside ``<pre>``
    (and ``<textarea>``, ``<listing>``) and elements styled ``white-space: pre``/``pre-wrap``/
    ``break-spaces`` (kept as written) or ``pre-line`` (line breaks kept, spaces collapsed)."""

    BLOCK = frozenset({"address", "article", "aside", "blockquote", "center", "dd", "details", "dialog",
                       "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
                       "header", "hgroup", "hr", "li", "main", "menu", "nav", "ol", "pre", "section",
                       "summary", "table", "tbody", "thead", "tfoot", "tr", "ul", "caption", "listing",
                       "plaintext", "xmp", "body", "html"})
    PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6"})
    HIDDEN = frozenset({"head", "script", "style", "template", "title", "noscript", "iframe", "object"})
    PRE = frozenset({"pre", "textarea", "listing", "xmp", "plaintext"})
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                      "source", "track", "wbr"})
    _WS = re.compile(r"[ \t\n\r\f]+")
    _SPACES = re.compile(r"[ \t\r\f]+")
    _STYLE_WS = re.compile(r"white-space\s*:\s*(normal|nowrap|pre-wrap|pre-line|pre|break-spaces)", re.I)
    _STYLE_NONE = re.compile(r"display\s*:\s*none", re.I)

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list = []  # text (str) and required line breaks (int: how many)
        self.stack: list[tuple[str, str, bool]] = []  # (tag, white-space mode, hidden)
        self.collapsible_tail = False  # the last text ends in a space that a line break removes
        self.drop_newline = False  # the first newline right after <pre> is not content

    @property
    def mode(self) -> str:
        return self.stack[-1][1] if self.stack else "normal"

    @property
    def hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][2]

    def _break(self, count: int) -> None:
        if self.collapsible_tail and self.items and isinstance(self.items[-1], str):
            self.items[-1] = self.items[-1][:-1]
        self.collapsible_tail = False
        self.items.append(count)

    def _at_line_start(self) -> bool:
        for item in reversed(self.items):
            if isinstance(item, int):
                return True
            if item:
                return item.endswith("\n")
        return True

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if self.hidden:
            if tag not in self.VOID:
                self.stack.append((tag, self.mode, True))
            return
        attr = dict(attrs)
        style = attr.get("style") or ""
        if tag == "br":
            self._break_literal()
            return
        if tag in self.VOID:
            if tag == "hr":
                self._break(1)
            return
        hidden = tag in self.HIDDEN or "hidden" in attr or bool(self._STYLE_NONE.search(style))
        mode = "pre" if tag in self.PRE else self.mode
        m = self._STYLE_WS.search(style)
        if m:
            mode = {"pre": "pre", "pre-wrap": "pre", "break-spaces": "pre", "pre-line": "pre-line"}.get(
                m.group(1).lower(), "normal")
        self.stack.append((tag, mode, hidden))
        if hidden:
            return
        if tag in self.PARAGRAPH:
            self._break(2)
        elif tag in self.BLOCK:
            self._break(1)
        elif tag in ("td", "th") and self.items and not isinstance(self.items[-1], int):
            self.collapsible_tail = False
            self.items.append("\t")
        self.drop_newline = tag in self.PRE

    def _break_literal(self) -> None:
        if self.collapsible_tail and self.items and isinstance(self.items[-1], str):
            self.items[-1] = self.items[-1][:-1]
        self.collapsible_tail = False
        self.items.append("\n")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag.lower() not in self.VOID and self.stack and self.stack[-1][0] == tag.lower():
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        tag = tag.lower()
        if not any(t == tag for t, _m, _h in self.stack):
            return  # a stray end tag
        while self.stack:
            top, _mode, hidden = self.stack.pop()
            if not hidden and (top in self.PARAGRAPH or top in self.BLOCK):
                self._break(2 if top in self.PARAGRAPH else 1)
            if top == tag:
                break
        self.drop_newline = False

    def handle_data(self, data):
        if self.hidden or not data:
            return
        mode = self.mode
        if self.drop_newline and data.startswith("\n"):
            data = data[1:]
        self.drop_newline = False
        if mode == "pre":
            if data:
                self.items.append(data)
                self.collapsible_tail = False
            return
        if mode == "pre-line":
            parts = data.split("\n")
            for n, part in enumerate(parts):
                if n:
                    self._break_literal()
                self._collapsed(self._SPACES.sub(" ", part))
            return
        self._collapsed(self._WS.sub(" ", data))

    def _collapsed(self, text: str) -> None:
        if text.startswith(" ") and (self.collapsible_tail or self._at_line_start()):
            text = text[1:]
        if not text:
            return
        self.items.append(text)
        self.collapsible_tail = text.endswith(" ")

    def text(self) -> str:
        out: list[str] = []
        run = 0
        for item in self.items:
            if isinstance(item, int):
                run = max(run, item)
                continue
            if not item:
                continue
            if run and out:
                out.append("\n" * run)
            run = 0
            out.append(item)
        text = "".join(out)
        return text[:-1] if self.collapsible_tail and text.endswith(" ") else text


def html_to_text(markup: str) -> str:
    """The text a clinician reads in an HTML rendition (see ``_HTMLText``). Line breaks in the
    markup are first normalised as an HTML parser's input stream does (CRLF and CR to LF)."""
    parser = _HTMLText()
    parser.feed(markup.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    return parser.text()


#: Headings that open a report's conclusion ("Slutsats:" in the corpus), in any case
CONCLUSION_HEADINGS = ("slutsats", "sammanfattning", "bedömning", "konklusion", "conclusion", "impression")
_CONCLUSION = re.compile(r"^\s*(?:" + "|".join(CONCLUSION_HEADINGS) + r")\s*:[ \t]*(.*)$", re.I)


def conclusion_paragraph(text: str) -> str:
    """The report's conclusion as an EHR lifts it out: the text after the first conclusion heading
    (``Slutsats:``) and the lines that follow it up to the next blank line, heading left out; ""
    when the report has none. (The ORU has no conclusion segment of its own: the RIS writes it as a
    headed paragraph of the OBX text.)"""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for n, line in enumerate(lines):
        m = _CONCLUSION.match(line)
        if m is None:
            continue
        out = [m.group(1).rstrip()] if m.group(1).strip() else []
        for following in lines[n + 1:]:
            if not following.strip():
                break
            out.append(following.rstrip())
        return "\n".join(out).strip()
    return ""
