from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.replay import ReplayWindow
from hotline.errors import Reason, SFrameError


def take(w: ReplayWindow, ctr: int) -> None:
    w.check(ctr)
    w.accept(ctr)


def test_accepts_each_counter_once() -> None:
    w = ReplayWindow(16)
    for ctr in range(40):
        take(w, ctr)
    for ctr in range(25, 40):
        with pytest.raises(SFrameError) as err:
            w.check(ctr)
        assert err.value.reason is Reason.REPLAYED


def test_reordering_within_window_is_accepted() -> None:
    w = ReplayWindow(16)
    for ctr in (10, 8, 9, 3, 12, 11, 0):
        take(w, ctr)
    with pytest.raises(SFrameError):
        w.check(8)


def test_older_than_window_is_refused() -> None:
    w = ReplayWindow(16)
    take(w, 100)
    take(w, 85)  # offset 15: last slot of the window
    with pytest.raises(SFrameError) as err:
        w.check(84)
    assert err.value.reason is Reason.TOO_OLD


def test_check_alone_changes_nothing() -> None:
    w = ReplayWindow(8)
    w.check(5)
    w.check(5)
    take(w, 5)


def test_huge_jump_does_not_blow_up() -> None:
    w = ReplayWindow()
    take(w, 0)
    take(w, 2**64 - 1)
    with pytest.raises(SFrameError):
        w.check(0)
    take(w, 2**64 - 2)


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReplayWindow(0)


@given(st.lists(st.integers(0, 300), max_size=200))
def test_matches_a_simple_model(counters: list[int]) -> None:
    w, size = ReplayWindow(32), 32
    seen: set[int] = set()
    for ctr in counters:
        highest = max(seen, default=-1)
        fresh = ctr not in seen and (ctr > highest or highest - ctr < size)
        try:
            w.check(ctr)
        except SFrameError:
            assert not fresh
        else:
            assert fresh
            w.accept(ctr)
            seen.add(ctr)
