"""The stand-in on a threaded werkzeug server of its own, in a background thread."""

from __future__ import annotations

import threading

from werkzeug.serving import BaseWSGIServer, make_server

from local.stripe_standin.app import StripeStandIn


class StripeServer:
    """The stand-in served on `host:port` (0: a free port) in a thread of its own."""

    def __init__(self, app: StripeStandIn, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host  # noqa: S104
        self.url = f"http://{shown}:{self._server.server_port}"
        app.public_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stripe-standin", daemon=True
        )

    def start(self) -> StripeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.app.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
