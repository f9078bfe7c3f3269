"""Compress against plain zlib (the floor: the app compressing its own body at the
same level) and Paste's gzipper (the anchor), on a 20 KB HTML page and a 1 MB
body; the gzip backends (zlib, zlib-ng, ISA-L) through Compress against the
stdlib's ``gzip.compress`` at level 6 on a 20 KiB and a 1 MiB page of word
rows and on two real generated pages, pydoc's of ``secrets`` (20 KiB) and
``json`` (44 KiB) (the note gives each output's size relative to it); and what
a response that is not compressed costs over the bare app."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import brotli
import zstandard
from harness import Case, bare_app, documentation_page, html, request
from paste.gzipper import middleware as paste_gzipper

from wsgikit import _deflate
from wsgikit.compress import Compress

LEVEL = 6


def self_compressing_app(body: bytes, compress: Any, coding: str) -> Any:
    """The floor: an app that sends its body compressed, no middleware."""
    headers = [
        ("Content-Type", "text/html"),
        ("Content-Encoding", coding),
        ("Vary", "Accept-Encoding"),
    ]

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        data = compress(body)
        start_response("200 OK", [*headers, ("Content-Length", str(len(data)))])
        return [data]

    return app


def streaming_app(body: bytes, chunk: int = 64 * 1024) -> Any:
    """Yields ``body`` in ``chunk``-sized pieces, no Content-Length."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    return app


def _gzip(body: bytes) -> bytes:
    return zlib.compress(body, LEVEL, wbits=31)


def _brotli(body: bytes) -> bytes:
    return bytes(brotli.compress(body, quality=4))


def _zstd(body: bytes) -> bytes:
    return bytes(zstandard.ZstdCompressor(level=3).compress(body))


def _size_group(label: str, body: bytes) -> list[Case]:
    app = bare_app(body, "text/html")
    group = f"compress: {label}, gzip level {LEVEL}"
    gzip_request = {"HTTP_ACCEPT_ENCODING": "gzip, deflate"}
    return [
        Case(
            group,
            "plain zlib.compress in the app",
            "floor",
            request(self_compressing_app(body, _gzip, "gzip")),
        ),
        Case(
            group,
            "Compress (buffered, Content-Length)",
            "wsgikit",
            request(Compress(app, level=LEVEL, backend="zlib"), **gzip_request),
        ),
        Case(
            group,
            "Compress (streamed, 64 KiB app chunks)",
            "wsgikit",
            request(Compress(streaming_app(body), level=LEVEL, backend="zlib"), **gzip_request),
        ),
        Case(
            group,
            "paste.gzipper",
            "anchor",
            request(paste_gzipper(app, compress_level=LEVEL), **gzip_request),
        ),
    ]


def _codec_group(body: bytes, coding: str, compress: Any, note: str) -> list[Case]:
    group = f"compress: 20 KB HTML, {note}"
    return [
        Case(
            group,
            f"plain {coding} in the app",
            "floor",
            request(self_compressing_app(body, compress, coding)),
        ),
        Case(
            group,
            f"Compress ({coding})",
            "wsgikit",
            request(Compress(bare_app(body, "text/html")), HTTP_ACCEPT_ENCODING=coding),
        ),
    ]


#: (backend, level) rows of the backend groups.
BACKEND_ROWS = (
    ("zlib", 6),
    ("zlib-ng", 6),
    ("zlib-ng", 4),
    ("zlib-ng", 2),
    ("isal", 3),
    ("isal", 1),
)


def _backend_group(label: str, body: bytes) -> list[Case]:
    """Each gzip backend through Compress (buffered) against ``gzip.compress``."""
    group = f"compress: gzip backends, {label}"
    reference = len(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    app = bare_app(body, "text/html")
    cases = [
        Case(
            group,
            f"gzip.compress(level {LEVEL}) in the app",
            "floor",
            request(
                self_compressing_app(
                    body, partial(gzip.compress, compresslevel=LEVEL, mtime=0), "gzip"
                )
            ),
            note=f"{reference} bytes",
        )
    ]
    for backend, level in BACKEND_ROWS:
        size = len(_deflate.gzip_whole(backend, level)(body))
        middleware = Compress(app, level=level, backend=backend, buffer_limit=len(body))
        cases.append(
            Case(
                group,
                f"Compress backend={backend} level={level}",
                "wsgikit",
                request(middleware, HTTP_ACCEPT_ENCODING="gzip"),
                note=f"size {size / reference:.3f}x gzip.compress",
            )
        )
    return cases


def cases() -> list[Case]:
    page = html(20 * 1024)
    big = html(1000 * 1000, seed=2)
    png = bare_app(b"\x89PNG fake image", "image/png")
    text = bare_app()  # 13-byte text/plain
    group = "compress: not compressed, 13-byte response"
    return [
        *_size_group("20 KB HTML", page),
        *_size_group("1 MB body", big),
        *_backend_group("20 KiB HTML", html(20 * 1024)),
        *_backend_group("1 MiB HTML", html(1024 * 1024, seed=2)),
        *_backend_group("a real 20 KiB page: pydoc's of secrets", documentation_page("secrets")),
        *_backend_group("a real 44 KiB page: pydoc's of json", documentation_page("json")),
        *_codec_group(page, "br", _brotli, "brotli quality 4"),
        *_codec_group(page, "zstd", _zstd, "zstandard level 3"),
        Case(group, "bare app (image/png)", "floor", request(png)),
        Case(
            group,
            "Compress: image/png, gzip accepted",
            "wsgikit",
            request(Compress(png), HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd"),
            note="untouched, app iterable returned",
        ),
        Case(
            group,
            "Compress: text below min_size (adds Vary)",
            "wsgikit",
            request(Compress(text), HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd"),
        ),
        Case(
            group,
            "Compress: text, no Accept-Encoding (adds Vary)",
            "wsgikit",
            request(Compress(text)),
        ),
        Case(
            group,
            "paste.gzipper: image/png, gzip accepted",
            "anchor",
            request(paste_gzipper(png), HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd"),
        ),
    ]
