"""Targets for the end-to-end body-rewriting tests (``wsgikit serve MODULE:ATTR``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

from wsgikit.rewrite import BodyRewriter, InjectHTML


def _pages(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/plain":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"plain </body> text\n"]
    return _page(start_response)


def _page(start_response: StartResponse) -> Iterator[bytes]:
    # A generator with no Content-Length: the middleware must set the right one.
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    yield b"<html><body><h1>e2e</h1>"
    yield b"<p>" + b"x" * 5000 + b"</p>"
    yield b"</body></html>\n"


injected = InjectHTML(_pages, "<!-- injected -->")


def _failing_rewrite(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        raise ValueError(f"stream bug at {chunk[:10]!r}")
    yield b""


broken_stream = BodyRewriter(_pages, stream=_failing_rewrite)
