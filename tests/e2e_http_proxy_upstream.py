"""A raw HTTP/1.1 upstream for the HTTPProxy tests, run as a child process.

``python e2e_http_proxy_upstream.py MARKER_DIR`` listens on 127.0.0.1 (an
ephemeral port, printed as ``PORT <n>``), keeps connections alive, and exits by
itself after ``LIFETIME`` seconds. Written on sockets (not a WSGI server) so it
can answer with any header, hop-by-hop ones included, and show the requests
exactly as they arrived. Paths:

- ``/echo...``: JSON of the request (method, target, header pairs, body size,
  whether it came chunked, the connection's number). Request headers
  ``X-Reply-Status`` and ``X-Reply-Headers`` (a JSON list of pairs) set the
  answer's status and extra headers.
- ``/sleep/<seconds>``: answers after that long.
- ``/handshake/<name>?size=N[&chunked=1]``: sends N bytes of ``f``, then waits
  (10 s at most) for the file ``MARKER_DIR/<name>`` before sending
  ``second`` (or ``timeout``).
- ``/upload/<name>``: writes ``MARKER_DIR/<name>`` when the first body bytes
  arrived, then echoes like ``/echo``.
- ``/garbage``: answers something that is not HTTP and closes.
- ``/short``: announces 10 bytes, sends 2 and closes the connection.
- ``/big/<bytes>?name=N``: that many bytes, 64 KiB per write; writes
  ``MARKER_DIR/<N>`` when the connection broke off before the end.
"""

from __future__ import annotations

import itertools
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
from pathlib import Path

LIFETIME = 300
MARKERS = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")
_connection_ids = itertools.count(1)


class Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        connection = next(_connection_ids)
        while self._one_request(connection):
            pass

    def _one_request(self, connection: int) -> bool:
        line = self.rfile.readline(65537)
        if not line.strip():
            return False
        method, target, _version = line.decode("latin-1").split()
        headers: list[tuple[str, str]] = []
        while True:
            raw = self.rfile.readline(65537).decode("latin-1")
            if raw in ("\r\n", "\n", ""):
                break
            name, _, value = raw.partition(":")
            headers.append((name, value.strip()))
        lookup = {name.lower(): value for name, value in headers}
        path, _, query = target.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        chunked = lookup.get("transfer-encoding", "").lower() == "chunked"
        body_size = 0
        for index, chunk in enumerate(self._body(lookup, chunked)):
            if index == 0 and path.startswith("/upload/"):
                (MARKERS / path.rsplit("/", 1)[1]).write_text("got it")
            body_size += len(chunk)
        status = lookup.get("x-reply-status", "200 OK")
        extra = [tuple(pair) for pair in json.loads(lookup.get("x-reply-headers", "[]"))]
        closing = any(
            name.lower() == "connection" and "close" in value.lower() for name, value in extra
        )
        if path.startswith("/sleep/"):
            time.sleep(float(path.rsplit("/", 1)[1]))
        if path.startswith("/handshake/"):
            self._handshake(path.rsplit("/", 1)[1], params)
            return True
        if path == "/garbage":  # not HTTP at all
            self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
            return False
        if path == "/short":  # announces 10 bytes, sends 2, hangs up
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
            self.wfile.write(b"Content-Length: 10\r\n\r\nab")
            return False
        if path.startswith("/big/"):
            self._big(int(path.rsplit("/", 1)[1]), params.get("name", "big"))
            return True
        body = json.dumps(
            {
                "method": method,
                "target": target,
                "headers": headers,
                "body_size": body_size,
                "chunked": chunked,
                "connection": connection,
            }
        ).encode()
        self._send(status, [("Content-Type", "application/json"), *extra], body, method)
        return not closing

    def _body(self, lookup: dict[str, str], chunked: bool):  # type: ignore[no-untyped-def]
        if chunked:
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(lookup.get("content-length", "0"))
        while remaining > 0:
            chunk = self.rfile.read1(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def _send(self, status: str, headers: list, body: bytes, method: str = "GET") -> None:  # type: ignore[type-arg]
        lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers)]
        if status[:3] in ("204", "304"):
            body = b""
        else:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (b"" if method == "HEAD" else body))

    def _handshake(self, name: str, params: dict[str, str]) -> None:
        first = b"f" * int(params.get("size", "5"))
        if params.get("chunked"):
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            self.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
        else:
            length = len(first) + len(b"second")
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                % (length, first)
            )
        self.wfile.flush()
        deadline = time.monotonic() + 10
        while not (MARKERS / name).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        second = b"second" if (MARKERS / name).exists() else b"timeout"
        if params.get("chunked"):
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
        else:
            self.wfile.write(second)

    def _big(self, size: int, name: str) -> None:
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % size
        )
        block = b"x" * 65536
        try:
            while size > 0:
                self.wfile.write(block[:size])
                size -= len(block)
        except OSError:
            (MARKERS / name).write_text("client went away")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Timer(LIFETIME, os._exit, args=(0,)).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
