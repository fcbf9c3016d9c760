"""``hotline serve``: run the server until SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import ssl
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from aiohttp import web
from rich.console import Console

from hotline import __version__
from hotline.cli.exits import failed
from hotline.cli.listening import listen, until_stopped
from hotline.cli.runfile import running
from hotline.errors import ConfigError, HotlineError
from hotline.server.app import make_app
from hotline.server.hotline.outcomes import Thresholds
from hotline.server.settings import (
    DEFAULT_DATA,
    DEFAULT_HOST,
    DEFAULT_PORT,
    Settings,
    path_kinds,
)
from hotline.server.tls_files import self_signed_files

Host = Annotated[str, typer.Option("--host", envvar="HOTLINE_HOST", help="Address to listen on.")]
Port = Annotated[int, typer.Option("--port", envvar="HOTLINE_PORT", help="TCP port.")]
Data = Annotated[Path, typer.Option("--data", envvar="HOTLINE_DATA", help="Data directory.")]
Media = Annotated[str | None, typer.Option("--media-host", envvar="HOTLINE_MEDIA_HOST",
                                           help="Address for media (default: --host).")]
TlsFile = Annotated[Path | None, typer.Option(help="PEM file (with --tls-cert/--tls-key: "
                                              "serve HTTPS and WSS).")]


async def _serve(settings: Settings, console: Console) -> None:
    app = make_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    ssl_context = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(settings.tls_cert, settings.tls_key)
        except (OSError, ssl.SSLError) as exc:
            await runner.cleanup()
            raise ConfigError(f"cannot use the TLS certificate/key: {exc}") from None
    await listen(runner, settings.host, settings.port, ssl_context,
                 port_option="--port or HOTLINE_PORT")
    console.print(f"[bold]Hotline {__version__}[/] serving at [bold cyan]{settings.url}[/]"
                  f"  (data: {settings.data_dir.resolve()})")
    if settings.public_urls:
        console.print("Logins are accepted for this address and: "
                      + ", ".join(sorted(settings.public_origins)))
    if settings.turn_urls:
        console.print("Relay (TURN) for clients: " + ", ".join(settings.turn_urls))
    console.print("Hotline link tests cover the paths: " + ", ".join(settings.link_paths))
    console.print("Press Ctrl-C to stop.")
    try:
        with running(settings.data_dir, settings.url):
            await until_stopped()
    finally:
        console.print("stopping…")
        await runner.cleanup()
        console.print("stopped.")


def turn_secret_from(value: str | None, file: Path | None) -> str | None:
    """The TURN shared secret from ``--turn-secret`` or ``--turn-secret-file`` (its first
    line). Errors name the file, never what it holds."""
    if file is None:
        return value or None
    if value:
        raise ConfigError("--turn-secret or --turn-secret-file, not both")
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the TURN secret file {file}: "
                          f"{type(exc).__name__}") from None
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError(f"the TURN secret file {file} is empty")
    return secret


def serve(host: Host = DEFAULT_HOST, port: Port = DEFAULT_PORT, data: Data = DEFAULT_DATA,
          media_host: Media = None, tls_cert: TlsFile = None, tls_key: TlsFile = None,
          tls_self_signed: Annotated[bool, typer.Option(
              "--tls-self-signed", help="Make a self-signed certificate for a quick LAN "
              "trial (browsers warn; not for real use).")] = False,
          linktest_interval: Annotated[float, typer.Option(
              "--linktest-interval", envvar="HOTLINE_LINKTEST_INTERVAL",
              help="Seconds between link tests of each hotline (at least 60).")] = 3600.0,
          linktest_path: Annotated[list[str] | None, typer.Option(
              "--linktest-path", envvar="HOTLINE_LINKTEST_PATHS",
              help="A media path each link test covers: sfu, direct or relay (repeat; "
              "default: sfu and direct, and relay with --turn-url).")] = None,
          alarm_webhook: Annotated[str | None, typer.Option(
              "--alarm-webhook", envvar="HOTLINE_ALARM_WEBHOOK",
              help="POST every hotline alarm (JSON) to this URL.")] = None,
          ring_timeout: Annotated[float, typer.Option(
              help="Seconds a hotline call rings before it is no_answer.")] = 120.0,
          degraded_rtt_ms: Annotated[float, typer.Option(
              help="Link tests above this round trip are degraded.")] = 400.0,
          degraded_loss: Annotated[float, typer.Option(
              help="... above this packet loss (fraction).")] = 0.05,
          degraded_jitter_ms: Annotated[float, typer.Option(
              help="... above this jitter.")] = 50.0,
          allow_origin: Annotated[list[str] | None, typer.Option(
              "--allow-origin", help="Allow only these browser origins besides the server's "
              "own to open the signaling WebSocket (repeat; e.g. a `hotline web` page, "
              "http://127.0.0.1:8765). Default: any origin.")] = None,
          public_url: Annotated[list[str] | None, typer.Option(
              "--public-url", envvar="HOTLINE_PUBLIC_URL",
              help="A URL clients reach this server by (a DNS name, a reverse proxy); "
              "repeatable. Login and enrollment proofs must name the server they are for: "
              "the address a connection arrives at is always accepted.")] = None,
          turn_url: Annotated[list[str] | None, typer.Option(
              "--turn-url", envvar="HOTLINE_TURN_URL",
              help="A TURN server for clients whose UDP is blocked: "
              "turn:HOST:PORT?transport=udp|tcp or turns:HOST:PORT?transport=tcp; "
              "repeatable (docs/OPERATIONS.md).")] = None,
          turn_secret: Annotated[str | None, typer.Option(
              "--turn-secret", envvar="HOTLINE_TURN_SECRET", show_default=False,
              help="The TURN server's static-auth-secret. On the command line it shows in "
              "ps: prefer the environment variable or --turn-secret-file.")] = None,
          turn_secret_file: Annotated[Path | None, typer.Option(
              "--turn-secret-file", envvar="HOTLINE_TURN_SECRET_FILE",
              help="A file holding the TURN shared secret (one line).")] = None,
          turn_credential_lifetime: Annotated[float, typer.Option(
              "--turn-credential-lifetime", envvar="HOTLINE_TURN_CREDENTIAL_LIFETIME",
              help="Seconds a TURN credential is valid; it must outlive the call "
              "(default 6 h: a 4-hour call plus margin).")] = 6 * 3600.0,
          verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the Hotline server: signaling, storage and the embedded SFU."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("hotline.presence").setLevel(logging.INFO)  # joins and leaves
    console = Console()
    try:
        if tls_self_signed:
            if tls_cert or tls_key:
                raise ConfigError("--tls-self-signed or --tls-cert/--tls-key, not both")
            tls_cert, tls_key, fp = self_signed_files(data, [host, "localhost"])
            console.print("[yellow]warning:[/] self-signed certificate: browsers will warn, "
                          "and anyone on the network path could impersonate this server "
                          f"until users compare the certificate fingerprint {fp}. "
                          "For a LAN trial only.")
        thresholds = Thresholds(max_rtt_ms=degraded_rtt_ms, max_loss=degraded_loss,
                                max_jitter_ms=degraded_jitter_ms)
        settings = Settings(host=host, port=port, data_dir=data, media_host=media_host,
                            tls_cert=tls_cert, tls_key=tls_key,
                            linktest_interval=linktest_interval, alarm_webhook=alarm_webhook,
                            ring_timeout=ring_timeout, linktest_thresholds=thresholds,
                            allowed_origins=tuple(allow_origin) if allow_origin else None,
                            linktest_paths=path_kinds(linktest_path) if linktest_path
                            else None,
                            public_urls=tuple(public_url or ()),
                            turn_urls=tuple(turn_url or ()),
                            turn_secret=turn_secret_from(turn_secret, turn_secret_file),
                            turn_credential_lifetime=turn_credential_lifetime)
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(_serve(settings, console))  # the SFU's hot path wants uvloop
    except HotlineError as exc:
        raise failed(exc) from None
