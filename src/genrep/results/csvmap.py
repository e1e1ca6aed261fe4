"""CSV files with a documented column mapping: the one home of reading another tool's CSV export.

Two imports use it: the defect register's tracker export (``genrep.results.register``, ``import:``
in ``contracts/defects.yaml``) and manual test results (``genrep.results.manual``, ``--manual``).
A mapping names, for each *role* the importer knows (``id``, ``title``, ``requirement``, ``result``
...), the export's column header, and for roles with a fixed set of values how the export's words
map to genrep's (``severity_values: {Blocker: critical}``, ``result_values: {Godkänd: passed}``):

    import:
      file: export.csv          # beside the YAML file that names it
      delimiter: ";"            # default ","
      columns:  {requirement: Krav-id, result: Resultat, ...}
      result_values: {Godkänd: passed, Underkänd: failed}

A value that is not in the mapping is taken as it is, compared without regard to case (``Passed``
is ``passed``); a value that is neither is refused. Every error names the CSV file, the line and
the column (its header and its number, counted from 1): a malformed row, a cell too many or too
few, an empty required cell, a value outside the allowed set. The file is read bounded
(``genrep.yamlfile.read_bounded``) and as UTF-8 (a byte-order mark is allowed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from genrep.errors import ConfigError
from genrep.yamlfile import Located, read_bounded, reject_unknown, require


@dataclass(frozen=True)
class Mapping:
    """Role -> column header, and role -> {export's word -> genrep's} for roles with fixed values."""
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> genrep's words
    delimiter: str = ","
    required: tuple[str, ...] = ()  # roles whose column must be in the header and whose cells must not be empty


def load_mapping(spec: Located | None, *, file: str, where: str, roles: tuple[str, ...],
                 required: tuple[str, ...], allowed: dict[str, tuple[str, ...]],
                 default_columns: dict[str, str] | None = None, extra_keys: tuple[str, ...] = ()) -> Mapping:
    """The mapping of ``spec`` (``columns``, ``<role>_values``, ``delimiter``, and ``extra_keys``
    its caller reads itself, such as ``file``); each error names ``file``, its line and key.
    ``default_columns``: the columns when ``spec`` names none (then every role's header is the
    default's)."""
    value_keys = {f"{role}_values" for role in allowed}
    if spec is None:
        spec = Located()
        spec.file, spec.lines = file, {}
    reject_unknown(spec, {"columns", "delimiter", *value_keys, *extra_keys}, where=where)
    if "columns" in spec or default_columns is None:
        columns_spec = require(spec, "columns", dict, where=where)
        reject_unknown(columns_spec, set(roles), where=f"{where}.columns")
        columns: dict[str, str] = {}
        for role, header in columns_spec.items():
            if not isinstance(header, str) or not header.strip():
                raise ConfigError("expected the column's header (a text)", file=file, key=f"{where}.columns.{role}",
                                  line=columns_spec.line_of(role) if isinstance(columns_spec, Located) else None)
            columns[role] = header.strip()
        for role in required:
            if role not in columns:
                raise ConfigError(f"the column of {role!r} is missing (needed: {', '.join(required)})", file=file,
                                  key=f"{where}.columns", line=spec.line_of("columns"))
    else:
        columns = dict(default_columns)
    values: dict[str, dict[str, str]] = {}
    for role, words in allowed.items():
        key = f"{role}_values"
        mapping = require(spec, key, dict, where=where, default={})
        for theirs, ours in mapping.items():
            if ours not in words:
                raise ConfigError(f"must be one of {', '.join(words)}; got {ours!r}", file=file,
                                  key=f"{where}.{key}.{theirs}",
                                  line=mapping.line_of(theirs) if isinstance(mapping, Located) else None)
        values[role] = {str(k).strip().casefold(): v for k, v in mapping.items()}
    delimiter = require(spec, "delimiter", str, where=where, default=",")
    if len(delimiter) != 1:
        raise ConfigError(f"must be one character; got {delimiter!r}", file=file, key=f"{where}.delimiter",
                          line=spec.line_of("delimiter"))
    return Mapping(columns, values, dict(allowed), delimiter, tuple(required))


@dataclass(frozen=True)
class Row:
    """One data row of the export: its cells by role."""
    file: str
    line: int
    cells: dict[str, str]
    mapping: Mapping
    header: tuple[str, ...]

    def column(self, role: str) -> str:
        """``column 3 'Resultat'``: the header and its number, as the errors say it."""
        name = self.mapping.columns.get(role, role)
        number = self.header.index(name) + 1 if name in self.header else 0
        return f"column {number} {name!r}" if number else f"column {name!r}"

    def error(self, role: str, message: str) -> ConfigError:
        return ConfigError(f"{self.column(role)}: {message}", file=self.file,
                           key=self.mapping.columns.get(role, role), line=self.line)

    def get(self, role: str) -> str:
        return self.cells.get(role, "")

    def value(self, role: str) -> str:
        """The cell as genrep's word (through ``<role>_values``, else as it is without regard to case);
        empty stays empty; anything else is refused naming the file, line and column."""
        text = self.get(role)
        if not text:
            return ""
        allowed = self.mapping.allowed.get(role, ())
        folded = text.casefold()
        mapped = self.mapping.values.get(role, {}).get(folded)
        if mapped is None:
            mapped = next((w for w in allowed if w.casefold() == folded), None)
        if mapped is None:
            theirs = sorted(self.mapping.values.get(role, {}))
            raise self.error(role, f"{text!r} is not one of {', '.join(allowed)}"
                             + (f" (nor mapped by {role}_values: {', '.join(theirs)})" if theirs else
                                f" (map the export's words with {role}_values)"))
        return mapped


def read_rows(csv_path: Path, mapping: Mapping, *, named_in: str | None = None, named_key: str = "file",
              named_line: int | None = None) -> Iterator[Row]:
    """The data rows of ``csv_path`` with ``mapping``. ``named_in``: the file that names the CSV
    (its missing file is an error there). Empty lines are skipped; each error names the CSV file,
    the line and the column."""
    file = str(csv_path)
    try:
        raw = read_bounded(csv_path)
    except FileNotFoundError:
        raise ConfigError(f"the CSV file {csv_path} does not exist", file=named_in or file,
                          key=named_key if named_in else None, line=named_line) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a CSV file", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the export as UTF-8",
                          file=file, line=line) from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise ConfigError("a NUL byte: not a CSV text file", file=file, line=line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ConfigError(f"malformed header row ({exc})", file=file, line=reader.line_num or 1) from None
    if not header or not any(h.strip() for h in header):
        raise ConfigError("empty: expected a header row naming the columns", file=file, line=1)
    header_t = tuple(h.strip() for h in header)
    for role in mapping.required:
        name = mapping.columns.get(role, role)
        if name not in header_t:
            raise ConfigError(f"the column {name!r} (for {role}) is not in the header ("
                              f"{', '.join(header_t) or 'empty'}); name it, or map it with columns: {{{role}: ...}}",
                              file=file, key=name, line=1)
    index = {role: header_t.index(name) for role, name in mapping.columns.items() if name in header_t}
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ConfigError(f"malformed CSV row ({exc}); a quoted cell must end with a quote followed by the "
                              "delimiter or the end of the line", file=file, line=start) from None
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header_t):
            raise ConfigError(f"column {len(header_t) + 1}: the row has {len(cells)} cells, the header "
                              f"{len(header_t)} (a delimiter {mapping.delimiter!r} inside a cell must be quoted)",
                              file=file, key=f"column {len(header_t) + 1}", line=start)
        if len(cells) < len(header_t):
            missing = header_t[len(cells)]
            raise ConfigError(f"column {len(cells) + 1} {missing!r}: the row has {len(cells)} cells, the header "
                              f"{len(header_t)}", file=file, key=missing, line=start)
        row = Row(file, start, {role: cells[i].strip() for role, i in index.items()}, mapping, header_t)
        for role in mapping.required:
            if not row.get(role):
                raise row.error(role, "empty")
        yield row
