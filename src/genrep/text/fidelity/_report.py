"""Words the line and structure observations as findings: what ``_lines`` and ``_structure``
recorded in ``_Acc`` (line breaks lost or added, words merged or split, lines moved, missing or
extra, spacing changed) becomes one finding per kind, quoting the first example and counting all.

Apart from the detectors because they only observe; the choice of example and the wording of each
message (part of the interface: tests and the selftest read them) live here in one place.
"""

from __future__ import annotations

from genrep.text.fidelity._context import _Analysis
from genrep.text.fidelity._kinds import KINDS
from genrep.text.fidelity._result import Finding
from genrep.text.fidelity._wording import _end, _line_list, _plural, _q


def _findings_from_acc(an: _Analysis) -> list[Finding]:
    acc, a, b = an.acc, an.a, an.b
    out: list[Finding] = []
    counts = {"sent_lines": len(a), "stored_lines": len(b)}
    if acc.lb_lost:
        first = acc.lb_lost[0]
        i, j = first["sent_line"], first["stored_line"]
        nxt = a[i] if i < len(a) else ""
        msg = (f"Line breaks lost: the sent text has {_plural(len(a), 'line')}, the stored "
               f"text {len(b)} ({_plural(len(acc.lb_lost), 'line break')} missing); ")
        if a[i - 1].strip() == "" or nxt.strip() == "":
            blank = i if a[i - 1].strip() == "" else i + 1
            before = a[blank - 2] if blank >= 2 else ""
            after = a[blank] if blank < len(a) else ""
            msg += (f"a blank line (paragraph break) was removed, e.g. sent line {blank} "
                    f"between {_q(before, 40)} and {_q(after, 40)}")
        else:
            msg += (f"lines ran together, e.g. sent lines {i}-{i + 1} {_q(a[i - 1], 40)} + "
                    f"{_q(nxt, 40)} are stored as one line {_q(b[j - 1])}")
        out.append(Finding("line_breaks_lost", KINDS["line_breaks_lost"], _end(msg),
                           {**counts, "lost": len(acc.lb_lost),
                            "joined_after_sent_lines": [x["sent_line"] for x in acc.lb_lost],
                            "stored_lines_affected": sorted({x["stored_line"] for x in acc.lb_lost})}))
    if acc.merges:
        shown = "; ".join(" + ".join(_q(p, 30) for p in m["sent"]) + f" -> {_q(m['stored'], 40)}"
                          + f" (line {m['stored_line']})" for m in acc.merges[:5])
        msg = (f"Words run together: {shown}"
               + (f"; {len(acc.merges)} places in total" if len(acc.merges) > 1 else ""))
        out.append(Finding("merged_words", KINDS["merged_words"], _end(msg),
                           {"count": len(acc.merges), "words": acc.merges[:200]}))
    if acc.lb_added:
        first = acc.lb_added[0]
        i, j = first["sent_line"], first["stored_line"]
        nxt = b[j] if j < len(b) else ""
        msg = (f"Line breaks added: the sent text has {_plural(len(a), 'line')}, the stored "
               f"text {len(b)} ({_plural(len(acc.lb_added), 'extra line break')}); lines were "
               f"split, e.g. sent line {i} {_q(a[i - 1])} is stored as {_q(b[j - 1], 40)} / "
               f"{_q(nxt, 40)}")
        out.append(Finding("line_breaks_added", KINDS["line_breaks_added"], _end(msg),
                           {**counts, "added": len(acc.lb_added),
                            "split_after_stored_lines": [x["stored_line"] for x in acc.lb_added],
                            "sent_lines_affected": sorted({x["sent_line"] for x in acc.lb_added})}))
    if acc.splits:
        shown = "; ".join(f"{_q(m['sent'], 40)} -> " + " + ".join(_q(p, 30) for p in m["stored"])
                          + f" (sent line {m['sent_line']})" for m in acc.splits[:5])
        msg = (f"Words split apart: {shown}"
               + (f"; {len(acc.splits)} places in total" if len(acc.splits) > 1 else ""))
        out.append(Finding("split_words", KINDS["split_words"], _end(msg),
                           {"count": len(acc.splits), "words": acc.splits[:200]}))
    if acc.moved:
        i, j = acc.moved[0]
        msg = (f"Lines in a different order: {_plural(len(acc.moved), 'line')} moved, e.g. "
               f"{_q(a[i - 1])} is sent line {i} but stored line {j}")
        out.append(Finding("reordered_lines", KINDS["reordered_lines"], _end(msg),
                           {"count": len(acc.moved),
                            "moved": [{"sent_line": x, "stored_line": y} for x, y in acc.moved]}))
    if acc.missing:
        missing = sorted(acc.missing)
        at_end = missing[-1] == len(a) and all(
            x == y for x, y in zip(missing, range(missing[0], len(a) + 1)))
        quoted = ", ".join(_q(a[i - 1]) for i in missing[:3]) + (", ..." if len(missing) > 3 else "")
        msg = (f"Lines missing: {_plural(len(missing), 'line')} of the sent text "
               f"{'is' if len(missing) == 1 else 'are'} not in the stored text "
               f"(sent {'line' if len(missing) == 1 else 'lines'} {_line_list(missing)}): {quoted}")
        if at_end:
            msg += "; they are the last lines of the report (cut off?)"
        out.append(Finding("missing_lines", KINDS["missing_lines"], _end(msg),
                           {"sent_lines": missing, "count": len(missing), "at_end": at_end}))
    if acc.extra:
        extra = sorted(acc.extra)
        quoted = ", ".join(_q(b[j - 1]) for j in extra[:3]) + (", ..." if len(extra) > 3 else "")
        msg = (f"Extra lines: {_plural(len(extra), 'line')} in the stored text "
               f"{'was' if len(extra) == 1 else 'were'} not sent (stored "
               f"{'line' if len(extra) == 1 else 'lines'} {_line_list(extra)}): {quoted}")
        out.append(Finding("extra_lines", KINDS["extra_lines"], _end(msg),
                           {"stored_lines": extra, "count": len(extra)}))
    if acc.ws_lines:
        i, j = acc.ws_lines[0]
        msg = (f"Spacing changed on {_plural(len(acc.ws_lines), 'line')} (tabs, non-breaking "
               f"or repeated spaces, indentation); all words and line breaks are intact; "
               f"e.g. sent line {i} {_q(a[i - 1])} is stored as {_q(b[j - 1])}")
        out.append(Finding("whitespace_changed", KINDS["whitespace_changed"], _end(msg),
                           {"sent_lines": [x for x, _ in acc.ws_lines],
                            "stored_lines": [y for _, y in acc.ws_lines]}))
    return out
