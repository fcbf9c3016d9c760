"""The store's hotline options: a per-hotline link-test interval, the last log entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.errors import UsageError
from tests.support.server import store_with_hotline


def test_hotline_interval_override(tmp_path: Path) -> None:
    store = store_with_hotline(tmp_path)
    assert store.hotline_interval("red") is None
    store.set_hotline_interval("red", 120.0)
    assert store.hotline_interval("red") == 120.0
    store.set_hotline_interval("red", None)
    assert store.hotline_interval("red") is None
    assert store.last_log_entry("red") is None
    store.append_log("red", 0, b"x")
    store.append_log("red", 1, b"y")
    assert store.last_log_entry("red") == b"y"
    with pytest.raises(UsageError):
        store.set_hotline_interval("nope", 60.0)
