"""The access features are the matrix: the committed features/access/ files equal what
steps/access_features.py renders from contracts/access.yaml, one scenario per cell in each language."""

from __future__ import annotations

import sys

from genrep.config.access import load_access
from genrep.paths import PROJECT_ROOT

if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from steps import access_features  # noqa: E402
from steps.feature_files import parse_feature  # noqa: E402


def test_the_committed_features_agree_with_the_matrix():
    stale = access_features.out_of_date()
    assert not stale, (f"{', '.join(str(p.relative_to(PROJECT_ROOT)) for p in stale)} disagree with "
                       f"contracts/access.yaml: run {access_features.COMMAND}")


def test_every_cell_is_one_examples_row_in_each_language():
    contract = load_access()
    for lang, path in access_features.FILES.items():
        findings: list = []
        feature = parse_feature(path, findings)
        assert feature is not None and not [f for f in findings if f.level == "error"], findings
        rows = [(row, {t for t, _ in sc.tags} | {t for t, _ in ex.tags})
                for sc in feature.scenarios for ex in sc.examples for row in ex.rows]
        assert len(rows) == len(contract.cells), lang
        allowed = [tags for _, tags in rows if "ACC-001" in tags]
        assert len(allowed) == sum(c.allowed for c in contract.cells)
        assert sum("ACC-003" in tags for _, tags in rows) == 3  # the non-physicians' referrals


def test_a_changed_matrix_makes_the_features_stale(tmp_path):
    text = (PROJECT_ROOT / "contracts" / "access.yaml").read_text(encoding="utf-8")
    changed = text.replace("    book_appointment:      allow\n    sign:\n      access: deny\n      reason: \"[A] entries by an assistant",
                           "    book_appointment:      deny\n    sign:\n      access: deny\n      reason: \"[A] entries by an assistant", 1)
    assert changed != text
    p = tmp_path / "access.yaml"
    p.write_text(changed, encoding="utf-8")
    assert set(access_features.out_of_date(load_access(p))) == set(access_features.FILES.values())
