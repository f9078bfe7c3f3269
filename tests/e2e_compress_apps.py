"""Targets for the end-to-end compression tests (``wsgikit serve MODULE:ATTR``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

from werkzeug.http import parse_etags

from wsgikit.compress import Compress
from wsgikit.errors import JSONErrors

#: The page ``/`` sends, in three chunks, without a Content-Length.
PAGE_CHUNKS = (
    b"<html><body><h1>e2e</h1>",
    b"<p>" + b"compress me, " * 800 + b"</p>",
    b"</body></html>\n",
)
#: The body ``/known`` sends with its Content-Length.
KNOWN = b'{"items": [' + b", ".join(b'{"n": %d}' % n for n in range(500)) + b"]}"
ETAG = '"v1"'


def _pages(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO")
    if path == "/known":
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak("v1"):
            start_response("304 Not Modified", [("ETag", ETAG)])
            return []
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(KNOWN))),
                ("ETag", ETAG),
            ],
        )
        return [KNOWN]
    if path == "/png":
        body = b"\x89PNG" + bytes(range(256)) * 8
        start_response(
            "200 OK", [("Content-Type", "image/png"), ("Content-Length", str(len(body)))]
        )
        return [body]
    return _page(start_response)


def _page(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    yield from PAGE_CHUNKS


compressed = Compress(_pages)


def _fails_in_body(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
    """Passes an image through, then raises before its first byte."""
    start_response("200 OK", [("Content-Type", "image/png")])
    yield b""
    raise RuntimeError("failed in the body")


#: JSONErrors' 500 replaces a response Compress passed through (#8 item 6).
errors_inside = Compress(JSONErrors(_fails_in_body), min_size=50, buffer_limit=10)


def pages_factory(global_conf: object, **local_conf: object) -> object:
    """A PasteDeploy app factory for the uncompressed pages."""
    return _pages
