"""A fault-injecting HTTPS proxy between the agent and the real ingestion server (tests only).

It terminates TLS with the ingestion server's own certificate (so the agent's HTTPS path and CA check are
unchanged), reads each HTTP/1.1 request, and — per request, as ``plan(path, body)`` decides — does one of:

* ``pass``  — forward to the server, answer with the server's answer;
* ``cut``   — read the request, then close the connection: it never reaches the server;
* ``lose``  — forward (the server stores/anchors it), then close without answering;
* ``500``   — forward, then answer HTTP 500 (no Appendix B body) instead of the server's answer;
* ``hang``  — forward, then answer nothing for ``hang_s`` seconds (the client times out), then close.

The upstream URL can change (the server restarted on another port). When the upstream is unreachable the
connection is closed without an answer. Every request is logged (path, batchNo, mode, upstream rescode,
whether the client got the answer) for the exactly-once checks.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import httpx


@dataclass
class Hit:
    path: str
    batch_no: str | None
    mode: str
    rescode: str | None  # the server's answer, None when it was not reached
    delivered: bool      # the client received that answer
    at: float


class FaultProxy:
    def __init__(self, cert: str, key: str, upstream: str, plan: Callable[[str, Any], str], hang_s: float = 4.0) -> None:
        self.plan, self.hang_s, self.cert = plan, hang_s, cert
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ctx.load_cert_chain(cert, key)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._upstream: httpx.Client | None = None
        self.set_upstream(upstream)
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def set_upstream(self, url: str | None) -> None:
        old, self._upstream = self._upstream, (httpx.Client(
            base_url=url, verify=ssl.create_default_context(cafile=self.cert), timeout=120)
                                               if url else None)
        if old is not None:
            old.close()

    def close(self) -> None:
        self._stop = True
        self._sock.close()
        self.set_upstream(None)

    def syndata(self) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path.endswith("/syndata")]

    def lookups(self) -> list[Hit]:
        """Batch status requests (``batch_no`` from the path)."""
        with self._lock:
            return [h for h in self.hits if "/batch/" in h.path]

    # -- serving ---------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn = self._ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        reader = conn.makefile("rb")
        try:
            while self._one(conn, reader):
                pass
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _one(self, conn: ssl.SSLSocket, reader: Any) -> bool:
        line = reader.readline()
        if not line:
            return False
        method, target, _ = line.decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = reader.readline().decode("latin-1").strip()
            if not h:
                break
            name, value = h.split(":", 1)
            headers[name.strip().lower()] = value.strip()
        size = int(headers.get("content-length", "0"))
        path = target.split("?", 1)[0]
        body = reader.read(size) if size else b""
        body_doc: Any = None
        if body:
            try:
                body_doc = json.loads(body)
            except ValueError:
                body_doc = None
        mode = self.plan(path, body_doc)
        batch_no = body_doc.get("batchNo") if isinstance(body_doc, dict) else None
        if "/batch/" in path:
            batch_no = path.rsplit("/", 1)[-1]
        if mode == "cut":
            self._log(Hit(path, batch_no, mode, None, False, time.monotonic()))
            return False
        upstream = self._upstream
        try:
            if upstream is None:
                raise httpx.ConnectError("no upstream")
            answer = upstream.request(method, target, content=body,
                                      headers={"content-type": headers.get("content-type", "application/json")})
        except httpx.HTTPError:
            self._log(Hit(path, batch_no, "down", None, False, time.monotonic()))
            return False
        try:
            rescode = answer.json().get("rescode")
        except (ValueError, AttributeError):
            rescode = None
        if mode == "lose":
            self._log(Hit(path, batch_no, mode, rescode, False, time.monotonic()))
            return False
        if mode == "hang":
            self._log(Hit(path, batch_no, mode, rescode, False, time.monotonic()))
            time.sleep(self.hang_s)
            return False
        status, content = (500, b"Internal Server Error") if mode == "500" else (answer.status_code, answer.content)
        ctype = "text/plain" if mode == "500" else answer.headers.get("content-type", "application/json")
        conn.sendall(f"HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {len(content)}\r\n\r\n"
                     .encode("latin-1") + content)
        self._log(Hit(path, batch_no, mode, rescode, mode == "pass", time.monotonic()))
        return True

    def _log(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)
