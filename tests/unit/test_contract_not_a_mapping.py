"""Every contract loader refuses a file that is not a YAML mapping with one line naming the file
(radiology and Multum raised a TypeError traceback or an odd "unknown key" error before)."""

from __future__ import annotations

import pytest

from genrep.config.contracts import load_multum, load_nll, load_radiology
from genrep.errors import ConfigError


@pytest.mark.parametrize("loader", [load_radiology, load_multum, load_nll])
@pytest.mark.parametrize("body", ["- a\n- b\n", "just text\n", "42\n"])
def test_a_contract_that_is_not_a_mapping_is_one_clear_error(tmp_path, loader, body):
    path = tmp_path / "contract.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        loader(path)
    assert str(path) in str(err.value) and "mapping" in str(err.value)
