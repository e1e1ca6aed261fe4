"""Markup characters entity-encoded in the served text ("&" -> "&amp;")."""

from __future__ import annotations

from genrep.mutate.operators.base import BinaryTextOperator


class EntityEncoded(BinaryTextOperator):
    name = "markup-entity-encoded"
    changes = ("the report text is HTML-escaped on its way out of the API: &, < and > are served as &amp;, "
               "&lt; and &gt;, which a plain-text reader shows literally (\"< 5 mm\" -> \"&lt; 5 mm\")")

    def change(self, text, rng):
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
