"""UTF-8 read as 8859-1 and re-encoded: mojibake ("å" -> "Ã¥")."""

from __future__ import annotations

from genrep.mutate.operators.base import TextOperator


class Utf8ReadAsLatin1(TextOperator):
    name = "utf8-read-as-latin1"
    changes = ("the report text's UTF-8 bytes are read as ISO 8859-1 and encoded again: every å, ä, ö, é "
               "and other non-ASCII character becomes two or three wrong ones (Ã¥, Ã¤, Ã¶); MSH-18 unchanged")

    def change(self, lines, rng):
        return [line.encode("utf-8").decode("latin-1") if not line.isascii() else line for line in lines]
