"""The portal's web server inside `chanquan serve` (and the demo): uvicorn in a thread of the service
process, so that the portal shares the one Workflow, Ledger, IntakeService and document issuer.

The listening socket is bound first, before anything else starts: a port taken by another program
is refused at once, and with port 0 the port the system picked is known before the QR codes' and
mails' base URL is settled (`with_bound_port`).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from chanquan.config import Settings

log = logging.getLogger(__name__)

STARTUP_SECONDS = 30.0
SHUTDOWN_SECONDS = 10.0


class PortalServer:
    """One uvicorn server on a socket bound at construction; `start(app)`, then `stop()`."""

    def __init__(self, host: str, port: int) -> None:
        """Binds (host, port) now; OSError when it cannot be had (in use, no such address)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.host = host
        self.port = int(self.socket.getsockname()[1])
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address it listens on (`http://host:port`), for the log and the line `serve` prints."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, app: Any) -> None:
        """Serves `app` from a thread and returns once uvicorn listens (RuntimeError if it does not)."""
        config = uvicorn.Config(
            app,
            lifespan="on",  # the app's shutdown closes the portal's session store
            log_config=None,  # the service's JSON logging stays as it is
            access_log=False,
            timeout_graceful_shutdown=int(SHUTDOWN_SECONDS),
            server_header=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [self.socket]}, name="portal-web", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:  # uvicorn's own flag, set once it serves the socket
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the portal did not start on {self.url}")
            time.sleep(0.02)
        log.info("portal.started", extra={"url": self.url})

    def stop(self) -> None:
        """Finishes the requests in flight (up to SHUTDOWN_SECONDS), then closes the socket."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_SECONDS + 5.0)
        self._server = self._thread = None
        self.socket.close()


def with_bound_port(settings: Settings, port: int) -> Settings:
    """The settings with `web.port` the port actually bound (it differs when 0 was asked for), so that
    the base URL printed in QR codes and mail (`web.base_url()`) is the portal's real address."""
    if settings.web.port == port:
        return settings
    return settings.model_copy(update={"web": settings.web.model_copy(update={"port": port})})
