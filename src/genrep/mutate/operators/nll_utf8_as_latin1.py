"""NLL's UTF-8 texts read as ISO 8859-1 on the way: mojibake."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLTextOperator


class NLLUtf8AsLatin1(NLLTextOperator):
    name = "nll-text-utf8-read-as-latin1"
    changes = ("what NLL answers the EHR: the UTF-8 bytes of every text with a non-ASCII character are "
               "read as ISO 8859-1 and served again as UTF-8 (\"kväll\" -> \"kvÃ¤ll\", \"1½\" -> \"1Â½\")")

    def change(self, text, rng):
        return text if text.isascii() else text.encode("utf-8").decode("latin-1")
