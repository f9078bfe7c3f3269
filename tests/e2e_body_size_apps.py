"""Targets for the end-to-end MaxBodySize tests (waitress and gunicorn)."""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

from wsgikit import JSONErrors, MaxBodySize

LIMIT = 1024


def read_all(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Reads the whole body (to its end, as for a chunked upload) and answers its size."""
    stream = environ["wsgi.input"]
    if environ.get("CONTENT_LENGTH"):
        body = stream.read(int(environ["CONTENT_LENGTH"]))
    else:
        body = stream.read()
    text = f"read {len(body)} bytes\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]


#: MaxBodySize alone: plain-text 413.
plain = MaxBodySize(read_all, LIMIT)
#: With JSONErrors outside: 413 as problem JSON.
app = JSONErrors(MaxBodySize(read_all, LIMIT))
