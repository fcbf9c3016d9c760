"""What a listener plays (hotline.client.interpretation, hotline.client.listenmix): an
interpreter of a chosen channel at full level, of another channel not at all (whatever
the server forwards), the floor at the chosen level or muted, changes at the next block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import pytest

from hotline.client.interpretation import Interpretation, floor_gain
from hotline.client.listenmix import BLOCK, ListenerMix, mono
from hotline.errors import UsageError

RU, ZH, FLOOR = 1, 2, 3


def frame(value: int, *, layout: str = "stereo", samples: int = BLOCK,
          rate: int = 48000) -> av.AudioFrame:
    f = av.AudioFrame(format="s16", layout=layout, samples=samples)
    f.sample_rate = rate
    channels = len(f.layout.channels)
    f.planes[0].update(value.to_bytes(2, "little", signed=True) * samples * channels)
    return f


def interpretation(listen: tuple[str, ...] = ("ru",), floor_db: float | None = 0.0
                   ) -> Interpretation:
    i = Interpretation(listen, floor_db)
    i.channels = ["ru", "zh"]
    i.member_channel = {RU: "ru", ZH: "zh"}
    return i


def test_gain_follows_the_signalled_channel_and_the_choice() -> None:
    i = interpretation(floor_db=-20)
    assert i.gain(RU) == 1.0 and i.gain(ZH) == 0.0
    assert i.gain(FLOOR) == pytest.approx(0.1)
    i.member_channel[RU] = ""  # back to the floor: heard at the floor's level
    assert i.gain(RU) == pytest.approx(0.1)
    i.set_floor(None)
    assert i.gain(FLOOR) == 0.0 and i.floor_db is None
    i.listening = frozenset()
    assert i.gain(ZH) == 0.0


def test_floor_levels_and_channel_checks() -> None:
    assert floor_gain(0) == 1.0 and floor_gain(None) == 0.0
    assert floor_gain(-40) == pytest.approx(0.01)
    for bad in (1.0, -40.5, -100):
        with pytest.raises(UsageError, match="0 to -40 dB"):
            floor_gain(bad)
    i = interpretation()
    i.check(["ru", "zh"])
    with pytest.raises(UsageError, match="unknown channel 'en'; this room's channels: ru, zh"):
        i.check(["ru", "en"])
    i.channels = []
    with pytest.raises(UsageError, match="channels: none"):
        i.check(["ru"])


def test_the_mix_sums_sources_at_their_gain_after_priming() -> None:
    i = interpretation(floor_db=-20)
    mix = ListenerMix(i.gain)
    for _ in range(3):
        mix.push(RU, frame(1000))
        mix.push(ZH, frame(5000))  # forwarded by a lying server: not heard
        mix.push(FLOOR, frame(2000))
    block = mix.block()
    assert len(block) == BLOCK and set(block) == {1000 + 200}
    i.listening = frozenset({"zh"})  # a change is heard at the next block
    assert set(mix.block()) == {5000 + 200}
    assert set(mix.block()) == {5000 + 200}
    assert set(mix.block()) == {0}  # every queue ran dry


def test_the_mix_clips_bounds_its_queues_and_drops_odd_frames() -> None:
    i = interpretation(listen=("ru", "zh"))
    mix = ListenerMix(i.gain)
    for _ in range(2):
        mix.push(RU, frame(30000))
        mix.push(ZH, frame(30000))
    assert set(mix.block()) == {32767}
    for _ in range(15):
        mix.push(FLOOR, frame(1))
    assert mix.dropped == 15 - 10
    mix.push(FLOOR, frame(1, samples=480))
    mix.push(FLOOR, frame(1, rate=16000))
    assert mix.dropped == 7
    assert mono(frame(7, layout="mono")) is not None
    mix.forget(FLOOR)
    mix.forget(FLOOR)


CASES = json.loads((Path(__file__).resolve().parents[3] / "protocol" / "conformance"
                    / "interpretation.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_conformance(case: dict[str, Any]) -> None:
    if case.get("floor_refused"):
        with pytest.raises(UsageError):
            Interpretation(case["listening"], case["floor_db"])
        return
    i = Interpretation(case["listening"], case["floor_db"])
    i.member_channel = {int(k): v for k, v in case["member_channel"].items()}
    for pid, gain in case["gains"].items():
        assert i.gain(int(pid)) == pytest.approx(gain, abs=1e-9)
