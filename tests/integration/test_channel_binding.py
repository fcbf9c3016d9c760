"""Login proofs over TLS: bound to the origin always, and to the TLS channel where both
ends have a binding (RFC 5929 tls-unique: TLS 1.2 and older; TLS 1.3 has none, Python's
ssl has no tls-exporter, browsers expose nothing).

A real server on TLS, a real Python client. With TLS 1.2 the client binds tls-unique and
the server checks it against its own end of the channel: a proof bound to another TLS
channel (what a relay that terminates TLS with a certificate for the same name would
forward) is refused even though it names the right origin.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import hotline.server.session as session_module
from hotline.client.signaling import SignalingClient, trust
from hotline.crypto import tls
from hotline.crypto.identity import Identity
from hotline.errors import Unauthorized
from hotline.server.app import make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore

from ..support.server import listen

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture(params=["TLSv1_2", "TLSv1_3"])
async def tls_server(request: pytest.FixtureRequest, tmp_path: Path
                     ) -> AsyncIterator[tuple[str, SqliteStore, Path, str]]:
    async for server in _tls_server(tmp_path, request.param):
        yield server


@pytest_asyncio.fixture
async def tls12_server(tmp_path: Path) -> AsyncIterator[tuple[str, SqliteStore, Path, str]]:
    async for server in _tls_server(tmp_path, "TLSv1_2"):
        yield server


async def _tls_server(tmp_path: Path, version: str
                      ) -> AsyncIterator[tuple[str, SqliteStore, Path, str]]:
    cert, key = tls.self_signed(["127.0.0.1"], datetime.datetime.now(datetime.UTC))
    (tmp_path / "c.pem").write_bytes(cert)
    (tmp_path / "k.pem").write_bytes(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    context.maximum_version = getattr(ssl.TLSVersion, version)
    store = SqliteStore(tmp_path / "data")
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=tmp_path / "data"), store=store)
    runner, url = await listen(app, ssl_context=context)
    yield url, store, tmp_path / "c.pem", version
    await runner.cleanup()
    store.close()


async def test_login_over_tls_binds_the_channel_where_it_can(
        tls_server: tuple[str, SqliteStore, Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    url, store, cert, version = tls_server
    checked: list[dict[str, Any]] = []
    original = session_module.check_proof

    def check_proof(*args: Any, **kwargs: Any) -> bool:
        checked.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(session_module, "check_proof", check_proof)
    store.add_party("alice")
    alice = Identity.generate()
    async with SignalingClient(url, alice, ssl_context=trust(str(cert))) as client:
        await client.enroll(store.new_enrollment_code("alice"))
    async with SignalingClient(url, alice, ssl_context=trust(str(cert))) as client:
        await client.authenticate()
    assert [c["origin"] for c in checked] == [url] * 2
    bindings = [c["channel_binding"] for c in checked]
    if version == "TLSv1_2":
        assert all(b.startswith(b"tls-unique:") and len(b) > 11 for b in bindings)
        assert bindings[0] != bindings[1]  # one per TLS channel
    else:
        assert bindings == [b"", b""]  # TLS 1.3: no tls-unique; the origin binds alone


async def test_a_proof_bound_to_another_tls_channel_is_refused(
        tls12_server: tuple[str, SqliteStore, Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, store, cert, _ = tls12_server
    store.add_party("alice")
    alice = Identity.generate()
    async with SignalingClient(url, alice, ssl_context=trust(str(cert))) as client:
        await client.enroll(store.new_enrollment_code("alice"))
    # the client's TLS channel is not the server's: as behind a TLS-terminating relay
    monkeypatch.setattr(SignalingClient, "_tls_unique", lambda self: b"tls-unique:" + b"\x01" * 12)
    async with SignalingClient(url, alice, ssl_context=trust(str(cert))) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.authenticate()
    assert caught.value.code == "unauthorized"
