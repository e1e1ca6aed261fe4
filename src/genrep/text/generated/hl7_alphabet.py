"""``hl7_texts``: report texts for an HL7 v2 TX/FT/ST field, over the whole text alphabet of HL7 v2 chapter 2.

``plain`` is what a RIS user typed: a clinical text with typed delimiters ``| ^ ~ & \\``, escape
look-alikes and CR LF / CR line endings, which the builder must escape. ``wire``, when set, is an
already-escaped OBX-5 value that encodes the same text with the escapes themselves (named escapes,
``\\Xhh..\\`` hex also split over adjacent escapes, highlighting, the FT formatting commands,
``~`` repetitions in TX), placed only where genrep's decoder and the standard agree on the words
(see the package docstring). The encoder is the one place that knows how each escape decodes, so
``expected`` stays an exact oracle for both the builder and a receiver's decoder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hypothesis import strategies as st

from genrep.hl7.charsets import CHARSETS, codec_for
from genrep.text.fidelity import NEGATION_WORDS
from genrep.text.generated.clinical import _clean, _clinical_text, _ok, _Spec, _spec
from genrep.text.generated.draws import chances, coin, index_lists, integer, pick
from genrep.text.generated.model import (_FT_ONLY, _TX_ONLY, CLINICAL_FEATURES, HL7_FEATURES,
                                         HL7_WIRE_FEATURES, WRAP_COLUMNS, GeneratedText, _ordered)
from genrep.text.generated.vocabulary import clinical_features

# the plain-text insertions of hl7_texts, by feature
_PLAIN_TOKENS = {
    "field_sep": ("a|b", "|", "T1|T2", "Dx: K|M"),
    "component_sep": ("^", "x^2", "a^b"),
    "repetition_sep": ("~", "ca ~5 mm", "~~"),
    "subcomponent_sep": ("&", "R&D", "A & B"),
    "escape_char": ("C:\\temp", "\\", "a\\b", "\\\\server\\röntgen"),
    "escape_lookalike": ("\\F\\", "\\S\\", "\\T\\", "\\R\\", "\\E\\", "\\H\\fet\\N\\", "\\.br\\",
                         "\\.sp2\\", "\\.in+4\\", "\\.ce\\", "\\X0D0A\\", "\\XC3A5\\", "\\X41\\",
                         "\\C2842\\", "\\M2442\\", "\\Zlokal\\", "C:\\F\\x"),
}


def _hl7_plain_features(plain: str) -> set[str]:
    found = set()
    for name, char in (("field_sep", "|"), ("component_sep", "^"), ("repetition_sep", "~"),
                       ("subcomponent_sep", "&"), ("escape_char", "\\")):
        if char in plain:
            found.add(name)
    if re.search(r"\\(?:[FSTREHN]|X[0-9A-Fa-f]+|\.[a-z]{2}[^\\]*|[CMZ][^\\]+)\\", plain):
        found.add("escape_lookalike")
    if "\r\n" in plain:
        found.add("crlf")
    if re.search(r"\r(?!\n)", plain):
        found.add("cr")
    if re.search(r"[ \t](?:\r\n|\r|\n|\Z)", plain):
        found.add("trailing_space")
    return found


def hl7_texts(*, require: Iterable[str] = (), charset: str = "UNICODE UTF-8", wire: bool | None = None,
              negation_words: Iterable[str] = NEGATION_WORDS,
              wrap_columns: Iterable[int] = WRAP_COLUMNS) -> st.SearchStrategy[GeneratedText]:
    """Report texts for an HL7 v2 TX/FT/ST field in a message whose MSH-18 is ``charset``
    ("UNICODE UTF-8", "8859/1" or "8859/15": every character encodes in it, hex escapes are its
    bytes).  ``wire``: True always, False never, None sometimes (always when ``require`` names a
    wire feature).  ``fmt_*`` (FT) and ``repetition`` (TX) cannot be required together."""
    if charset not in CHARSETS or not charset:
        raise ValueError(f"charset must be one of {', '.join(repr(c) for c in CHARSETS if c)}; got {charset!r}")
    codec = codec_for(charset)
    req_list = (require,) if isinstance(require, str) else tuple(require)
    wire_req = set(req_list) & set(HL7_WIRE_FEATURES)
    if wire_req and wire is False:
        raise ValueError(f"wire=False but wire features required: {', '.join(sorted(wire_req))}")
    if wire_req & _FT_ONLY and wire_req & _TX_ONLY:
        raise ValueError("FT formatting commands (fmt_*) and TX repetitions cannot be required together")
    breaks_needed = len(wire_req & {"fmt_br", "fmt_sp", "hex_line_break", "repetition"})
    spec = _spec(req_list, HL7_FEATURES, negation_words, wrap_columns, codec, None, strip=False,
                 what=f"hl7_texts(charset={charset!r})", min_lines=breaks_needed + 1)
    clinical = _Spec(spec.require & frozenset(CLINICAL_FEATURES), spec.negation_words,
                     spec.wrap_columns, codec, None, False, spec.min_lines)
    # a required named escape needs its delimiter in the text: type it rather than hope for it
    typed = spec.require | {_DELIMITER_OF[f] for f in spec.require if f in _DELIMITER_OF}
    return _hl7_text(spec, typed, _clinical_text(clinical), charset, codec, wire).filter(lambda g: g is not None)


_TRAILING_SPACE = len(_PLAIN_TOKENS)  # its byte of the chances after the plain tokens'
_DELIMITER_OF = {"esc_F": "field_sep", "esc_S": "component_sep", "esc_T": "subcomponent_sep",
                 "esc_R": "repetition_sep", "esc_E": "escape_char"}
_TYPED_BREAKS = ("\n", "\n", "\r\n", "\r")


@st.composite
def _hl7_text(draw, spec: _Spec, typed: frozenset[str], clinical: st.SearchStrategy[str], charset: str,
              codec: str, wire_mode: bool | None) -> GeneratedText | None:
    lines = draw(clinical).split("\n")
    # typed delimiters and escape look-alikes, each on a line of its own (inserted between lines,
    # so columns, first and last words stay where the clinical text put them); each one time in four
    chance = chances(draw, _TRAILING_SPACE + 1)
    for k, (feature, tokens) in enumerate(_PLAIN_TOKENS.items()):
        if feature in typed or chance[k] % 4 == 0:
            token = pick(draw, tokens)
            line = pick(draw, (f"Jfr {token} ovan.", token, f"{token} se bilaga", f"Ref: {token}"))
            at = integer(draw, 1, len(lines) - 1) if len(lines) >= 2 else 1
            lines.insert(at, line)
    if "trailing_space" in spec.require or chance[_TRAILING_SPACE] % 4 == 0:
        i = integer(draw, 0, len(lines) - 1)
        lines[i] += pick(draw, (" ", "  ", "\t", " \t "))
    expected = "\n".join(lines)

    # the typed line endings: LF, CR LF or CR; a CR never directly before an LF of the next break
    seps = [_TYPED_BREAKS[b % 4] for b in chances(draw, len(lines) - 1)]
    if seps:
        if "crlf" in spec.require and "\r\n" not in seps:
            seps[integer(draw, 0, len(seps) - 1)] = "\r\n"
        if "cr" in spec.require and "\r" not in seps:
            seps[integer(draw, 0, len(seps) - 1)] = "\r"
    for i in range(len(seps) - 1):
        if seps[i] == "\r" and lines[i + 1] == "" and seps[i + 1].startswith("\n"):
            seps[i + 1] = "\r"  # "\r" + "\r\n" or "\r" + "\n" would read as one CR LF
    plain = lines[0] + "".join(sep + line for sep, line in zip(seps, lines[1:]))

    features = set(clinical_features(expected, negation_words=spec.negation_words,
                                     wrap_columns=spec.wrap_columns))
    features |= _hl7_plain_features(plain)

    wire_req = spec.require & frozenset(HL7_WIRE_FEATURES)
    use_wire = wire_mode if wire_mode is not None else (bool(wire_req) or coin(draw))
    wire = wire_type = None
    if use_wire:
        if wire_req & _FT_ONLY:
            dialect = "FT"
        elif wire_req & _TX_ONLY:
            dialect = "TX"
        else:
            dialect = pick(draw, ("FT", "TX"))
        encoded = _encode_wire(draw, expected, dialect, codec, wire_req)
        if encoded is None:
            return None
        wire, wire_features = encoded
        features |= wire_features
        wire_type = dialect
        if dialect == "TX" and "\n" not in expected and len(expected) < 200 and "highlight" not in wire_features:
            wire_type = "ST"
    if not spec.require <= features or not _ok(plain, codec) or not _clean(plain, wire, expected):
        return None
    return GeneratedText(plain, wire, expected, _ordered(features, HL7_FEATURES), wire_type,
                         charset if wire is not None else None)


_NAMED = {"|": "F", "^": "S", "&": "T", "~": "R", "\\": "E"}


def _hex(data: bytes, lower: bool) -> str:
    h = data.hex()
    return "\\X" + (h if lower else h.upper()) + "\\"


def _encode_wire(draw, expected: str, dialect: str, codec: str,
                 require: frozenset[str]) -> tuple[str, set[str]] | None:
    """``expected`` as an escaped OBX-5 value of type ``dialect`` that genrep's decoder reads back
    as ``expected`` (line breaks: CR LF and CR decode as such; see the package docstring)."""
    features: set[str] = set()
    n = len(expected)
    lower = coin(draw)
    chars = [i for i, c in enumerate(expected) if c != "\n"]
    non_ascii = [i for i in chars if ord(expected[i]) > 127]
    delims = [i for i in chars if expected[i] in _NAMED]
    newline_idx = [i for i, c in enumerate(expected) if c == "\n"]

    # hex-escaped characters (and whether a multi-byte one is split)
    hexed = {chars[k] for k in draw(index_lists(len(chars), 6))} if chars else set()
    if "hex_non_ascii" in require or "hex_split" in require:
        if not non_ascii:
            return None
        if not hexed & set(non_ascii):
            hexed.add(pick(draw, non_ascii))
    if "hex" in require and not hexed and not ({"hex_line_break"} & require):
        if not chars:
            return None
        hexed.add(pick(draw, chars))
    split_ok = [i for i in hexed if len(expected[i].encode(codec)) > 1]
    split = {split_ok[k] for k in draw(index_lists(len(split_ok), 2))} if split_ok else set()
    if "hex_split" in require and not split:
        if not split_ok:
            return None
        split.add(split_ok[0])
    # delimiters: named escape unless hex-escaped; a required named escape keeps one named
    for name in ("esc_F", "esc_S", "esc_T", "esc_R", "esc_E"):
        if name in require:
            char = next(c for c, letter in _NAMED.items() if letter == name[-1])
            where = [i for i in delims if expected[i] == char]
            if not where:
                return None
            if all(i in hexed for i in where):
                hexed.discard(where[0])

    # highlighted words
    words = [m.span() for m in re.finditer(r"[^\s]+", expected)]
    highlighted = set(draw(index_lists(len(words), 3))) if words else set()
    if "highlight" in require and not highlighted:
        if not words:
            return None
        highlighted.add(0)
    h_open = {words[k][0] for k in highlighted}
    h_close = {words[k][1] for k in highlighted}

    # line starts and positions after a space, for FT commands
    line_starts = [0] + [i + 1 for i in newline_idx]
    after_space = [i + 1 for i, c in enumerate(expected) if c == " " and i + 1 < n + 1]
    before: dict[int, list[str]] = {}

    def put(pos: int, command: str) -> None:
        before.setdefault(pos, []).append(command)

    if dialect == "FT":
        for cmd in ("in", "ti", "ce"):
            feat = f"fmt_{cmd}"
            chosen = {line_starts[k] for k in draw(index_lists(len(line_starts), 1))}
            if feat in require and not chosen:
                chosen = {line_starts[0]}
            for pos in chosen:
                if cmd == "ce":
                    put(pos, "\\.ce\\")
                else:
                    sign = pick(draw, ("", "+", "-", " ", " +", " -"))
                    put(pos, f"\\.{cmd}{sign}{integer(draw, 1, 8)}\\")
                features.add(feat)
        spots = sorted(set(line_starts) | set(after_space))
        for cmd in ("fi", "nf"):
            feat = f"fmt_{cmd}"
            chosen = {spots[k] for k in draw(index_lists(len(spots), 1))}
            if feat in require and not chosen:
                chosen = {spots[0]}
            for pos in chosen:
                put(pos, f"\\.{cmd}\\")
                features.add(feat)
        chosen = ({after_space[k] for k in draw(index_lists(len(after_space), 1))} if after_space
                  else set())
        if "fmt_sk" in require and not chosen:
            if not after_space:
                return None
            chosen = {after_space[0]}
        for pos in chosen:
            put(pos, f"\\.sk{pick(draw, ('', ' ', '+', ' +'))}{integer(draw, 1, 8)}\\")
            features.add("fmt_sk")

    # line breaks: runs of consecutive LFs
    runs: list[list[int]] = []
    for i in newline_idx:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    break_code: dict[int, str] = {}   # index of an LF -> its encoding ("" = covered by a .sp)
    # a run of LFs is one .sp one time in four (FT); each other LF a .br (FT) or ~ (TX) two times in three,
    # else hex
    run_sp = [b % 4 == 0 for b in chances(draw, len(runs))] if dialect == "FT" else [False] * len(runs)
    modes = ("br", "br", "hex") if dialect == "FT" else ("rep", "rep", "hex")
    lf_mode = {i: modes[b % 3] for i, b in zip(newline_idx, chances(draw, len(newline_idx)))}
    needed = [m for feat, m in (("fmt_sp", "sp"), ("fmt_br", "br"), ("hex_line_break", "hex"),
                                ("repetition", "rep")) if feat in require]
    if "sp" in needed and not any(run_sp):
        if not runs:
            return None
        run_sp[integer(draw, 0, len(runs) - 1)] = True
    if runs and all(run_sp) and any(m != "sp" for m in needed) and ("sp" not in needed or len(runs) > 1):
        run_sp[-1] = False  # leave LFs for the line break asked for
    for mode in needed:
        if mode == "sp":
            continue
        each = [i for k, run in enumerate(runs) if not run_sp[k] for i in run]
        if any(lf_mode[i] == mode for i in each):
            continue
        modes_of = [lf_mode[i] for i in each]
        spare = [i for i in each if lf_mode[i] not in needed or modes_of.count(lf_mode[i]) > 1]
        if not spare:
            return None
        lf_mode[spare[0]] = mode
    for k, run in enumerate(runs):
        if run_sp[k]:
            count = len(run)
            form = pick(draw, ("", " ", "+"))
            if count == 1 and coin(draw):
                break_code[run[0]] = "\\.sp\\"  # no number: one line
            else:
                break_code[run[0]] = f"\\.sp{form}{count}\\"
            for i in run[1:]:
                break_code[i] = ""
            features.add("fmt_sp")
            continue
        for pos, i in enumerate(run):
            mode = lf_mode[i]
            if mode == "br":
                break_code[i] = "\\.br\\"
                features.add("fmt_br")
            elif mode == "rep":
                break_code[i] = "~"
                features.add("repetition")
            else:  # a lone CR only ends a run: CR + the next LF would read as one CR LF
                last_of_run = pos == len(run) - 1
                form = pick(draw, ("0A", "0D0A", "0D") if last_of_run else ("0A", "0D0A"))
                break_code[i] = _hex(bytes.fromhex(form), lower)
                features |= {"hex", "hex_line_break"}

    out: list[str] = []
    for i, c in enumerate(expected):
        if i in h_close:
            out.append("\\N\\")
        out.extend(before.get(i, ()))
        if i in h_open:
            out.append("\\H\\")
            features.add("highlight")
        if c == "\n":
            out.append(break_code[i])
            continue
        if i in hexed:
            data = c.encode(codec)
            if i in split and len(data) > 1:
                cut = integer(draw, 1, len(data) - 1)
                out.append(_hex(data[:cut], lower) + _hex(data[cut:], lower))
                features.add("hex_split")
            else:
                out.append(_hex(data, lower))
            features.add("hex")
            if ord(c) > 127:
                features.add("hex_non_ascii")
        elif c in _NAMED:
            out.append(f"\\{_NAMED[c]}\\")
            features.add(f"esc_{_NAMED[c]}")
        else:
            out.append(c)
    if n in h_close:
        out.append("\\N\\")
    out.extend(before.get(n, ()))
    return "".join(out), features
