"""NLL's texts HTML-entity-encoded on the way (markup characters and every non-ASCII letter)."""

from __future__ import annotations

from genrep.mutate.operators.base import NLLTextOperator


def encode(text: str) -> str:
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join(c if ord(c) < 128 else f"&#{ord(c)};" for c in out)


class NLLEntityEncoded(NLLTextOperator):
    name = "nll-text-entity-encoded"
    changes = ("what NLL answers the EHR: every text is HTML-encoded by a gateway that thinks it feeds a "
               "web page: &, < and > become &amp;, &lt;, &gt; and every non-ASCII character a numeric "
               "reference (\"måltid\" -> \"m&#229;ltid\"), which a text field shows literally")

    def change(self, text, rng):
        return encode(text)
