"""A real HTTP endpoint for tests that need to see what the gateway sends to an e-service
(back-channel logout tokens): it records each POST and answers with the statuses it is told to,
and serves the JSON documents it is given on GET (a sector_identifier_uri document)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class Receiver:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.statuses: list[int] = []  # answered in order; 200 once they run out
        self.documents: dict[str, bytes] = {}  # path -> JSON body served on GET
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length).decode()
                receiver.received.append({"path": self.path, "content_type": self.headers.get("content-type"),
                                          "form": {k: v[0] for k, v in parse_qs(body).items()}})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):  # noqa: N802
                body = receiver.documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def tokens(self) -> list[str]:
        return [r["form"].get("logout_token") for r in self.received]
