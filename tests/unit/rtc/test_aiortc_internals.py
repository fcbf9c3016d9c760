"""The registry of private aiortc names (hotline.rtc.aiortc_internals) and its check."""

from __future__ import annotations

import importlib.metadata

import aiortc
import pytest
from aiortc import RTCRtpSender
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from hotline import rtc
from hotline.rtc import aiortc_internals as internals
from hotline.rtc.aiortc_internals import (
    AIORTC_INTERNALS,
    VERSIONS,
    AiortcInternalsError,
    check_internals,
)


def test_check_aiortc_internals_passes() -> None:
    assert aiortc.__version__ == VERSIONS["aiortc"]
    check_internals()
    names = {item.name for item in AIORTC_INTERNALS}
    assert {"_packetize", "_RTCRtpSender__encoder", "_RTCRtpReceiver__decoder_queue"} <= names


def test_check_aiortc_internals_notices_a_changed_signature(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def _packetize(cls: type, buffer: bytes, picture_id: int, extra: int) -> list[bytes]:
        return []

    monkeypatch.setattr(Vp8Encoder, "_packetize", classmethod(_packetize))
    with pytest.raises(AiortcInternalsError, match="_packetize"):
        check_internals()


def test_check_aiortc_internals_notices_a_missing_hook(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def _run_rtp(self: RTCRtpSender, codec: RTCRtpCodecParameters) -> None:
        return None  # no longer calls _next_encoded_frame

    monkeypatch.setattr(RTCRtpSender, "_run_rtp", _run_rtp)
    with pytest.raises(AiortcInternalsError, match="_run_rtp no longer uses"):
        check_internals()


def test_check_aiortc_internals_notices_another_version(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.17.0")
    with pytest.raises(AiortcInternalsError, match=r"aiortc 1\.17\.0 installed"):
        check_internals()


def test_installed_aiortc_has_everything_we_hook() -> None:
    rtc.check_internals()  # every module of the package


def test_a_different_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "9.9.9" if name == "aiortc" else real(name))
    with pytest.raises(internals.AiortcInternalsError, match=r"aiortc 9\.9\.9"):
        internals.check_internals()


def test_a_moved_internal_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = internals.Internal("aiortc.rtcrtpsender.RTCRtpSender", "_no_such_thing", None,
                               ("aiortc.rtcrtpsender.RTCRtpSender.__init__",), "a test")
    monkeypatch.setattr(internals, "AIORTC_INTERNALS", (*internals.AIORTC_INTERNALS, moved))
    with pytest.raises(internals.AiortcInternalsError, match="_no_such_thing"):
        internals.check_internals()
