"""The aiortc adapter: ICE address choice, configuration, buffers, SDP details."""

from __future__ import annotations

import asyncio
import socket

import aioice.ice
import pytest

from hotline.rtc import aiortc_adapter as adapter


def test_host_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    original = aioice.ice.get_host_addresses
    try:
        adapter.use_host_addresses(["127.0.0.1"])
        assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(False, True) == []
        with pytest.raises(ValueError):
            adapter.use_host_addresses(["not-an-ip"])
        adapter.use_host_addresses(None)
        assert adapter._chosen is None  # aioice's own choice again
    finally:
        adapter.use_host_addresses(None)
        aioice.ice.get_host_addresses = original
    assert adapter.host_addresses_for("0.0.0.0") is None
    assert adapter.host_addresses_for("127.0.0.5") == ["127.0.0.5"]


@pytest.mark.asyncio
async def test_host_addresses_per_task() -> None:
    """One task (a standby's link-test call) gathers elsewhere; the process is unchanged."""
    adapter.use_host_addresses(["127.0.0.1"])

    async def here() -> list[str]:
        adapter.use_host_addresses_here(["::1"])
        return list(aioice.ice.get_host_addresses(True, True))

    try:
        assert await asyncio.ensure_future(here()) == ["::1"]
        assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"]
    finally:
        adapter.use_host_addresses(None)


def test_configuration_contacts_no_server_and_bundles() -> None:
    config = adapter.configuration()
    assert config.iceServers == []
    assert config.bundlePolicy.name == "MAX_BUNDLE"


def test_media_socket_buffers_are_raised() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        before = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        adapter.raise_socket_buffers(sock)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) > before


def test_the_clear_audio_level_is_taken_out_of_an_offer() -> None:
    sdp = ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
           "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
           f"a=extmap:2 {adapter.AUDIO_LEVEL}\r\na=sendonly\r\n")
    out = adapter.without_extension(sdp, adapter.AUDIO_LEVEL)
    assert adapter.AUDIO_LEVEL not in out and "sdes:mid" in out and out.endswith("sendonly\r\n")
