"""A static file server on a free 127.0.0.1 port for the browser test pages."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _Handler(http.server.SimpleHTTPRequestHandler):
    served: tuple[str, ...] = ()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if ".." in path or not path.startswith(self.served):
            self.send_error(404)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def guess_type(self, path: Any) -> str:
        return "text/javascript" if str(path).endswith(".js") else super().guess_type(path)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def serve_static(root: Path, served: tuple[str, ...]) -> Iterator[str]:
    """Serve only the paths under ``served`` (prefixes) of ``root``; yields the base URL."""
    handler_class = type("Handler", (_Handler,), {"served": served})
    handler = functools.partial(handler_class, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
