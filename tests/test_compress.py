"""Response compression (wsgikit.compress): Compress."""

from __future__ import annotations

import gzip
import io
import json
import logging
import random
import subprocess
import sys
import textwrap
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import brotli
import pytest
import zstandard
from helpers import (
    NOT_TRANSFORMABLE,
    ROOT,
    Handshake,
    Tracked,
    call,
    echo_environ_app,
    exc_info_app,
    header_value,
    late_exc_info_app,
    lazy_app,
    linted,
    make_environ,
    raising_app,
    run_wsgi,
    testapp,
    text_app,
    tracked_app,
    vary_cases,
    write_app,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.http import parse_etags

from wsgikit import _deflate
from wsgikit.compress import Compress
from wsgikit.errors import JSONErrors

HTML = b"<html><body>" + b"<p>Compress me, please.</p>" * 200 + b"</body></html>"
Calls = list[tuple[str, list[tuple[str, str]]]]


# --- local helpers --------------------------------------------------------------


def decode(coding: str | None, data: bytes) -> bytes:
    """Decompress ``data`` sent with ``Content-Encoding: coding``."""
    if coding is None:
        return data
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "br":
        return bytes(brotli.decompress(data))
    if coding == "zstd":
        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    raise AssertionError(f"unexpected coding {coding}")


def compress(**options: Any) -> Callable[[WSGIApplication], WSGIApplication]:
    return partial(Compress, **options)


def chunked_app(
    chunks: Iterable[bytes],
    content_type: str = "text/html",
    headers: Iterable[tuple[str, str]] = (),
) -> WSGIApplication:
    """Returns ``chunks`` as a list, without Content-Length."""
    body = list(chunks)
    extra = list(headers)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", content_type), *extra])
        return list(body)

    return app


def conditional_app(etag: str = '"abc"', body: bytes = HTML) -> WSGIApplication:
    """A bare app doing its own If-None-Match logic (werkzeug's weak comparison)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        tag = etag.removeprefix("W/").strip('"')
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(tag):
            start_response("304 Not Modified", [("ETag", etag)])
            return []
        start_response(
            "200 OK",
            [("Content-Type", "text/html"), ("Content-Length", str(len(body))), ("ETag", etag)],
        )
        return [body]

    return app


class Paced:
    """A generator app with a Content-Length whose next chunk is produced only
    after the previous one was seen (like helpers.Handshake, with headers)."""

    def __init__(self, chunks: list[bytes], headers: list[tuple[str, str]]) -> None:
        self.chunks = chunks
        self.headers = headers
        self.seen = 0
        self.produced = 0

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", list(self.headers))
        for chunk in self.chunks:
            if self.produced != self.seen:
                raise AssertionError("a chunk was requested before the previous one was seen")
            self.produced += 1
            yield chunk


def drive(app: WSGIApplication, paced: Paced, **environ: Any) -> list[bytes]:
    """Iterate ``app`` as a server does, telling ``paced`` about each non-empty chunk."""
    out: list[bytes] = []
    result = app(make_environ(**environ), lambda status, headers, exc_info=None: out.append)
    try:
        for chunk in result:
            out.append(chunk)
            if chunk:
                paced.seen = paced.produced
    finally:
        getattr(result, "close", lambda: None)()
    return out


# --- options --------------------------------------------------------------------


def test_options_are_public_attributes() -> None:
    middleware = Compress(
        text_app(),
        min_size=10,
        level=9,
        encodings=("GZIP", "br"),
        content_types=("Text/HTML", "+json"),
        buffer_limit=0,
        flush_size=5,
        flush_types=("application/x-ndjson",),
        brotli_quality=1,
        zstd_level=19,
    )
    assert (middleware.min_size, middleware.level, middleware.buffer_limit) == (10, 9, 0)
    assert middleware.encodings == ("gzip", "br")
    assert middleware.content_types == ("text/html", "+json")
    assert middleware.flush_types == ("application/x-ndjson",)
    assert (middleware.flush_size, middleware.brotli_quality, middleware.zstd_level) == (5, 1, 19)


# --- negotiation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "encodings", "expected"),
    [
        pytest.param("gzip", None, "gzip", id="gzip"),
        pytest.param("gzip, deflate, br, zstd", None, "br", id="browser: server order"),
        pytest.param("br, gzip", ("gzip", "br"), "gzip", id="tie: server order wins"),
        pytest.param("gzip;q=0.8, br;q=0.9", ("gzip", "br"), "br", id="higher q wins"),
        pytest.param("*", None, "br", id="star"),
        pytest.param("*;q=0.5, gzip", None, "gzip", id="listed beats star"),
        pytest.param("gzip;q=0, *", None, "br", id="gzip refused, star"),
        pytest.param("gzip;q=0", None, None, id="gzip refused"),
        pytest.param("identity;q=1, gzip;q=0.5", None, None, id="identity preferred"),
        pytest.param("identity, gzip", None, "gzip", id="identity tie: compress"),
        pytest.param("gzip;q=0.1, *", ("gzip",), None, id="star makes identity preferred"),
        pytest.param("x-gzip", None, "gzip", id="x-gzip"),
        pytest.param("GZip", None, "gzip", id="case-insensitive"),
        pytest.param("gzip;level=1;q=0.5", None, "gzip", id="parameters ignored"),
        pytest.param("gzip;q=0, gzip;q=0.5", None, "gzip", id="duplicate: higher q"),
        pytest.param("", None, None, id="empty"),
        pytest.param("identity", None, None, id="identity only"),
        pytest.param("deflate, compress", None, None, id="nothing we offer"),
        pytest.param("br", ("gzip",), None, id="br not enabled"),
        pytest.param("gzip;q=abc", None, None, id="bad q dropped"),
        pytest.param(",,;;,", None, None, id="punctuation"),
    ],
)
def test_negotiation(accept: str, encodings: tuple[str, ...] | None, expected: str | None) -> None:
    middleware = Compress(text_app(), encodings=encodings)
    assert middleware.negotiate(accept)[0] == expected
    # And the response agrees (the cached second answer too).
    for _ in range(2):
        _, headers, body = call(
            text_app(HTML, content_type="text/html"),
            partial(Compress, encodings=encodings),
            HTTP_ACCEPT_ENCODING=accept,
        )
        assert header_value(headers, "content-encoding") == expected
        assert decode(expected, body) == HTML


def test_no_accept_encoding_header_means_identity() -> None:
    _, headers, body = call(text_app(HTML, content_type="text/html"), compress())
    assert header_value(headers, "content-encoding") is None
    assert body == HTML
    assert header_value(headers, "vary") == "Accept-Encoding"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param("identity;q=0, gzip", "gzip", id="identity refused"),
        pytest.param("*;q=0, gzip", "gzip", id="star refused"),
        pytest.param("*;q=0, identity, gzip", None, id="identity allowed again"),
        pytest.param("gzip", None, id="identity implied"),
    ],
)
def test_refused_identity_overrides_min_size(accept: str, expected: str | None) -> None:
    _, headers, body = call(
        text_app(b"tiny", content_type="text/plain"), compress(), HTTP_ACCEPT_ENCODING=accept
    )
    assert header_value(headers, "content-encoding") == expected
    assert decode(expected, body) == b"tiny"


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_buffered_body_that_does_not_shrink_is_sent_identity(coding: str) -> None:
    """Incompressible data (500 random bytes) would grow: it goes out as it
    is, with its own length and ETag, and still with Vary."""
    noise = random.Random(8).randbytes(500)
    app = text_app(noise, content_type="text/plain", headers=[("ETag", '"n1"')])
    _, headers, body = call(app, compress(), HTTP_ACCEPT_ENCODING=coding)
    assert body == noise
    assert header_value(headers, "content-encoding") is None
    assert header_value(headers, "content-length") == "500"
    assert header_value(headers, "etag") == '"n1"'
    assert header_value(headers, "vary") == "Accept-Encoding"


def test_buffered_body_that_shrinks_is_compressed() -> None:
    _, headers, body = call(
        text_app(HTML, content_type="text/html"), compress(), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert header_value(headers, "content-encoding") == "gzip"
    assert len(body) < len(HTML)


#: Accept-Encoding values that leave no coding to use: Compress only adds Vary.
NO_CODING = {
    "absent": None,
    "identity": "identity",
    "unknown coding": "compress",
    "q=0": "gzip;q=0",
}


def test_nothing_acceptable_sends_identity() -> None:
    status, headers, body = call(
        text_app(HTML, content_type="text/html"), compress(), HTTP_ACCEPT_ENCODING="*;q=0"
    )
    assert status == "200 OK"
    assert header_value(headers, "content-encoding") is None
    assert header_value(headers, "vary") == "Accept-Encoding"
    assert body == HTML


_TOKENS = st.sampled_from(
    ["gzip", "br", "zstd", "identity", "*", "x-gzip", "deflate", "GZIP", "", " ", '"', "\x00"]
)
_Q = st.one_of(
    st.sampled_from(["", ";q=0", ";q=1", ";q=0.5", ";q=", ";q=2", ";q=-1", ";q=nan", ";q=1e9"]),
    st.text(alphabet=";=q.0123456789 ,\"'", max_size=8),
)
_ACCEPT = st.one_of(
    st.text(alphabet=st.characters(max_codepoint=255), max_size=60),
    st.lists(st.tuples(_TOKENS, _Q).map("".join), max_size=6).map(", ".join),
)


@settings(max_examples=150, deadline=None)
@given(accept=_ACCEPT)
def test_hostile_accept_encoding_never_raises(accept: str) -> None:
    middleware = Compress(text_app(HTML, content_type="text/html"))
    coding, _ = middleware.negotiate(accept)
    assert coding in (None, *middleware.encodings)
    if coding is not None:
        lowered = accept.lower()
        assert coding in lowered or "*" in lowered or (coding == "gzip" and "x-gzip" in lowered)
    status, headers, body = call(middleware, HTTP_ACCEPT_ENCODING=accept)
    assert status == "200 OK"
    assert decode(header_value(headers, "content-encoding"), body) == HTML


# --- optional codecs ---------------------------------------------------------------


def test_missing_codec_packages_leave_gzip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)
    monkeypatch.setitem(sys.modules, "zstandard", None)
    middleware = Compress(text_app(HTML, content_type="text/html"))
    assert middleware.encodings == ("gzip",)
    _, headers, body = call(middleware, HTTP_ACCEPT_ENCODING="br, zstd, gzip;q=0.1")
    assert header_value(headers, "content-encoding") == "gzip"
    assert gzip.decompress(body) == HTML
    _, headers, body = call(middleware, HTTP_ACCEPT_ENCODING="br, zstd")
    assert header_value(headers, "content-encoding") is None
    assert body == HTML


@pytest.mark.parametrize(
    ("module", "coding", "extra"),
    [
        pytest.param("brotli", "br", "brotli", id="br"),
        pytest.param("zstandard", "zstd", "zstd", id="zstd"),
    ],
)
def test_naming_a_missing_codec_is_an_error(
    monkeypatch: pytest.MonkeyPatch, module: str, coding: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ValueError, match=rf"encodings: {coding}.*wsgikit\[{extra}\]"):
        Compress(text_app(), encodings=(coding, "gzip"))


def test_works_when_codec_packages_cannot_be_imported_at_all() -> None:
    """In a fresh interpreter where brotli and zstandard fail to import."""
    script = textwrap.dedent(
        """
        import gzip, sys
        sys.modules["brotli"] = None
        sys.modules["zstandard"] = None
        sys.path.insert(0, "tests")
        from helpers import run_wsgi, text_app
        import wsgikit
        from wsgikit.compress import Compress
        app = Compress(text_app(b"x" * 2000, content_type="text/html"))
        calls, written, _ = run_wsgi(app, {"HTTP_ACCEPT_ENCODING": "zstd, br, gzip;q=0.5"})
        assert ("Content-Encoding", "gzip") in calls[0][1], calls
        assert gzip.decompress(b"".join(written)) == b"x" * 2000
        print(app.encodings)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "('gzip',)"


# --- what gets compressed -------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
@pytest.mark.parametrize(
    "content_type",
    [
        "text/html; charset=utf-8",
        "TEXT/CSS",
        "application/json",
        "application/problem+json",
        "application/javascript",
        "image/svg+xml",
        "application/xml",
        "application/wasm",
        "text/event-stream",
    ],
)
def test_compressible_types_are_compressed(coding: str, content_type: str) -> None:
    status, headers, body = call(
        text_app(HTML, content_type=content_type), compress(), HTTP_ACCEPT_ENCODING=coding
    )
    assert status == "200 OK"
    assert header_value(headers, "content-encoding") == coding
    assert header_value(headers, "vary") == "Accept-Encoding"
    assert decode(coding, body) == HTML
    assert len(body) < len(HTML)


def test_buffered_response_gets_exact_content_length() -> None:
    _, headers, body = call(
        text_app(HTML, content_type="text/html"), compress(), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert header_value(headers, "content-length") == str(len(body))
    assert gzip.decompress(body) == HTML


@pytest.mark.parametrize(
    ("app", "options"),
    [
        pytest.param(lambda: lazy_app([HTML[:100], HTML[100:]]), {}, id="unknown length"),
        pytest.param(
            lambda: text_app(HTML, content_type="text/html"),
            {"buffer_limit": 1000},
            id="longer than buffer_limit",
        ),
        pytest.param(
            lambda: text_app(HTML, content_type="text/event-stream"),
            {},
            id="event stream",
        ),
    ],
)
def test_streamed_response_has_no_content_length(
    app: Callable[[], WSGIApplication], options: dict[str, Any]
) -> None:
    _, headers, body = call(app(), compress(**options), HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(headers, "content-length") is None
    assert header_value(headers, "content-encoding") == "gzip"
    assert gzip.decompress(body) == HTML


def test_content_types_option_replaces_the_defaults() -> None:
    layer = compress(content_types=("application/x-custom", "text/*"))
    for content_type, expected in [
        ("application/x-custom", "gzip"),
        ("text/plain", "gzip"),
        ("application/json", None),
    ]:
        _, headers, body = call(
            text_app(HTML, content_type=content_type), layer, HTTP_ACCEPT_ENCODING="gzip"
        )
        assert header_value(headers, "content-encoding") == expected, content_type
        assert decode(expected, body) == HTML


def test_unknown_length_is_compressed_whatever_its_size() -> None:
    _, headers, body = call(lazy_app([b"tiny"]), compress(), HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(headers, "content-encoding") == "gzip"
    assert gzip.decompress(body) == b"tiny"


def test_error_pages_are_compressed() -> None:
    status, headers, body = call(
        text_app(HTML, status="404 Not Found", content_type="text/html"),
        compress(),
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert status == "404 Not Found"
    assert gzip.decompress(body) == HTML


@pytest.mark.parametrize("level", [1, 9])
def test_level_is_zlib_level(level: int) -> None:
    _, _, body = call(
        text_app(HTML, content_type="text/html"),
        compress(level=level, backend="zlib"),
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert body == zlib.compress(HTML, level, wbits=31)


@pytest.mark.parametrize(
    ("backend", "level", "chosen"),
    [
        pytest.param(None, 6, "zlib-ng", id="automatic: zlib-ng when installed"),
        pytest.param("zlib", 6, "zlib", id="zlib"),
        pytest.param("zlib-ng", 1, "zlib-ng", id="zlib-ng"),
        pytest.param("isal", 0, "isal", id="isal 0"),
        pytest.param("isal", 2, "isal", id="isal 2"),
    ],
)
@pytest.mark.parametrize("path", ["buffered", "streamed"])
def test_backend_writes_both_gzip_paths(
    backend: str | None, level: int, chosen: str, path: str
) -> None:
    headers = [("Content-Length", str(len(HTML)))] if path == "buffered" else []
    app = chunked_app([HTML[:700], HTML[700:]], content_type="text/html", headers=headers)
    middleware = Compress(app, level=level, backend=backend)
    assert middleware.backend == chosen
    _, out, body = call(middleware, HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(out, "content-encoding") == "gzip"
    assert (header_value(out, "content-length") is None) is (path == "streamed")
    assert gzip.decompress(body) == HTML
    if path == "buffered":  # the chosen engine's own bytes, deterministic
        assert body == _deflate.gzip_whole(chosen, level)(HTML)
    else:  # a sync flush after the first chunk, then the rest
        engine = _deflate.load(chosen)  # the chosen engine's own stream encoder
        encoder = engine.compressobj(level, engine.DEFLATED, 31)
        expected = encoder.compress(HTML[:700]) + encoder.flush(zlib.Z_SYNC_FLUSH)
        assert body == expected + encoder.compress(HTML[700:]) + encoder.flush()


def test_the_automatic_backend_is_zlib_without_zlib_ng(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_deflate._MODULES, "zlib-ng", "no_such_module_here")
    middleware = compress(backend=None)(text_app(HTML, content_type="text/html"))
    assert middleware.backend == "zlib"
    _, _, body = call(middleware, HTTP_ACCEPT_ENCODING="gzip")
    assert body == zlib.compress(HTML, 6, wbits=31)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=4000) | st.text(max_size=3000).map(str.encode),
    cut=st.integers(min_value=0, max_value=4000),
    known=st.booleans(),
)
@pytest.mark.parametrize(("backend", "level"), [("zlib", 6), ("zlib-ng", 6), ("isal", 1)])
def test_every_backend_round_trips_through_the_stdlib(
    backend: str, level: int, body: bytes, cut: int, known: bool
) -> None:
    headers = [("Content-Length", str(len(body)))] if known else []
    app = chunked_app([body[:cut], body[cut:]], content_type="text/plain", headers=headers)
    _, out, raw = call(
        app, compress(min_size=0, level=level, backend=backend), HTTP_ACCEPT_ENCODING="gzip"
    )
    if header_value(out, "content-encoding") is None:  # buffered, and would not shrink
        assert known and raw == body
    else:
        assert gzip.decompress(raw) == body


# --- Vary ---------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["gzip", "identity", "", None])
@pytest.mark.parametrize(("vary", "expected"), vary_cases("Accept-Encoding"))
def test_vary_is_merged_on_compressible_responses(
    accept: str | None, vary: list[str], expected: list[str]
) -> None:
    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    app = text_app(HTML, content_type="text/html", headers=[("Vary", value) for value in vary])
    _, headers, _ = call(app, compress(), **environ)
    assert [value for key, value in headers if key.lower() == "vary"] == expected


def test_vary_is_added_below_min_size() -> None:
    _, headers, body = call(
        text_app(b"small", content_type="text/html"), compress(), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert header_value(headers, "content-encoding") is None
    assert header_value(headers, "vary") == "Accept-Encoding"
    assert header_value(headers, "content-length") == "5"
    assert body == b"small"


def test_vary_is_not_added_to_incompressible_responses() -> None:
    _, headers, _ = call(
        text_app(HTML, content_type="image/png"), compress(), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert header_value(headers, "vary") is None


# --- pass-through: untouched and unbuffered -------------------------------------------


PASS_THROUGH = [
    pytest.param("200 OK", "image/png", [], {}, id="image"),
    pytest.param("200 OK", "application/octet-stream", [], {}, id="octet-stream"),
    pytest.param("200 OK", "application/zip", [], {}, id="archive"),
    pytest.param("200 OK", "font/woff2", [], {}, id="woff2"),
    pytest.param("200 OK", "text", [], {}, id="no subtype"),
    # the header side of the rule, shared with test_http's transformable()
    *(
        pytest.param("200 OK", "text/html", row.values[0], {}, id=row.id)
        for row in NOT_TRANSFORMABLE
    ),
    pytest.param(
        "206 Partial Content", "text/html", [("Content-Range", "bytes 0-9/100")], {}, id="206"
    ),
    pytest.param("500 Oops", "", [], {}, id="no content type"),
]


@pytest.mark.parametrize(("status", "content_type", "extra", "environ"), PASS_THROUGH)
def test_pass_through_returns_the_apps_own_iterable(
    status: str, content_type: str, extra: list[tuple[str, str]], environ: dict[str, str]
) -> None:
    tracked = Tracked([HTML[:50], HTML[50:]])
    headers = ([("Content-Type", content_type)] if content_type else []) + extra

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(headers))
        return tracked

    calls, written, result = run_wsgi(Compress(app), {"HTTP_ACCEPT_ENCODING": "gzip", **environ})
    assert result is tracked
    assert calls == [(status, headers)]
    assert written == [HTML[:50], HTML[50:]]
    assert tracked.closes == 1


@pytest.mark.parametrize(
    ("status", "content_type", "extra", "environ"),
    # wsgiref.validate insists on a Content-Type, so that case is only above.
    [param for param in PASS_THROUGH if param.id != "no content type"],
)
def test_pass_through_is_not_buffered(
    status: str, content_type: str, extra: list[tuple[str, str]], environ: dict[str, str]
) -> None:
    headers = ([("Content-Type", content_type)] if content_type else []) + extra
    paced = Paced([b"first", b"second"], headers)
    paced_status = status

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        def restatus(_: str, headers: Any, exc_info: Any = None) -> Any:
            return start_response(paced_status, headers, exc_info)

        return paced(environ, restatus)

    out = drive(linted(app, compress()), paced, HTTP_ACCEPT_ENCODING="gzip", **environ)
    assert paced.produced == 2
    assert b"".join(out) == b"firstsecond"


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses_pass_through(status: str) -> None:
    tracked = Tracked([])
    headers = [("ETag", '"abc"'), ("Content-Type", "text/html")]
    calls, written, result = run_wsgi(
        Compress(
            tracked_app(tracked, status=status, content_type="text/html", headers=headers[:1])
        ),
        {"HTTP_ACCEPT_ENCODING": "gzip", "HTTP_IF_NONE_MATCH": '"abc"'},
    )
    assert result is tracked
    assert calls == [(status, [("Content-Type", "text/html"), ("ETag", '"abc"')])]
    assert written == []
    assert tracked.closes == 1


@pytest.mark.parametrize(
    ("content_type", "extra_environ"),
    [
        pytest.param("image/png", {"HTTP_ACCEPT_ENCODING": "gzip"}, id="incompressible"),
        pytest.param("text/html", {}, id="no Accept-Encoding (Vary only)"),
        pytest.param("text/html", {"HTTP_ACCEPT_ENCODING": "identity"}, id="identity (Vary only)"),
        pytest.param("text/html", {"HTTP_ACCEPT_ENCODING": "gzip"}, id="compressed stream"),
        pytest.param("text/event-stream", {"HTTP_ACCEPT_ENCODING": "br"}, id="event stream br"),
        pytest.param("application/json", {"HTTP_ACCEPT_ENCODING": "zstd"}, id="zstd stream"),
    ],
)
def test_responses_stream_without_buffering(
    content_type: str, extra_environ: dict[str, str]
) -> None:
    handshake = Handshake(content_type=content_type)
    seen = handshake.drive(linted(handshake, compress()), extra_environ)
    assert handshake.second_produced
    coding = {"gzip": "gzip", "br": "br", "zstd": "zstd"}.get(
        extra_environ.get("HTTP_ACCEPT_ENCODING", "")
    )
    if content_type == "image/png":
        coding = None
    assert decode(coding, b"".join(seen)) == b"firstsecond"


def test_long_known_length_body_streams_chunk_by_chunk() -> None:
    chunks = [HTML[:3000], HTML[3000:]]
    paced = Paced(chunks, [("Content-Type", "text/html"), ("Content-Length", str(len(HTML)))])
    out = drive(linted(paced, compress(buffer_limit=1000)), paced, HTTP_ACCEPT_ENCODING="gzip")
    assert paced.produced == 2
    assert gzip.decompress(b"".join(out)) == HTML


# --- flush policy ------------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_event_stream_is_flushed_after_every_event(coding: str) -> None:
    events = [b"data: %d\n\n" % n for n in range(20)]
    paced = Paced(events, [("Content-Type", "text/event-stream")])
    app = linted(paced, compress())
    result = app(make_environ(HTTP_ACCEPT_ENCODING=coding), lambda *args: None)
    decoder: Any = {
        "gzip": lambda: zlib.decompressobj(31),
        "br": brotli.Decompressor,
        "zstd": lambda: zstandard.ZstdDecompressor().decompressobj(),
    }[coding]()
    decoded = b""
    try:
        for index, chunk in enumerate(result):
            paced.seen = paced.produced
            decoded += decoder.process(chunk) if coding == "br" else decoder.decompress(chunk)
            if index < len(events):
                # Every event is readable as soon as its chunk leaves.
                assert decoded == b"".join(events[: index + 1])
    finally:
        result.close()
    assert decoded == b"".join(events)


@pytest.mark.parametrize(
    ("flush_types", "content_type", "flushed"),
    [
        pytest.param(("application/x-ndjson",), "application/x-ndjson", True, id="exact"),
        pytest.param(("text/*",), "text/plain; charset=utf-8", True, id="wildcard"),
        pytest.param(("+json",), "application/x-ndjson", False, id="no match"),
    ],
)
def test_flush_types_option(flush_types: tuple[str, ...], content_type: str, flushed: bool) -> None:
    lines = [b'{"n": %d}\n' % n for n in range(10)]
    app = Compress(chunked_app(lines, content_type=content_type), flush_types=flush_types)
    result = app(make_environ(HTTP_ACCEPT_ENCODING="gzip"), lambda *args: None)
    decoder = zlib.decompressobj(31)
    try:
        decoded = [decoder.decompress(chunk) for chunk in result]
    finally:
        getattr(result, "close", lambda: None)()
    # The first line is always flushed; the others only with a flush type.
    assert decoded[0] == lines[0]
    assert (decoded[1:10] == lines[1:]) is flushed


def test_first_chunk_is_flushed_then_small_chunks_are_not() -> None:
    chunks = [b"<html><head>"] + [b"<li>item %d</li>" % n for n in range(2000)]
    paced = Paced(chunks, [("Content-Type", "text/html")])
    app = Compress(paced)
    result = app(make_environ(HTTP_ACCEPT_ENCODING="gzip"), lambda *args: None)
    decoder = zlib.decompressobj(31)
    outputs = []
    try:
        for chunk in result:
            paced.seen = paced.produced
            outputs.append(chunk)
            if len(outputs) == 1:
                assert decoder.decompress(chunk) == b"<html><head>"
    finally:
        result.close()
    # At least one output chunk for every application chunk (PEP 3333), and
    # not flushing every tiny chunk keeps the size near one-shot compression.
    assert len(outputs) >= len(chunks)
    whole = b"".join(chunks)
    assert gzip.decompress(b"".join(outputs)) == whole
    assert len(b"".join(outputs)) <= 1.05 * len(zlib.compress(whole, 6, wbits=31)) + 16


def test_flush_size_flushes_after_enough_input() -> None:
    chunks = [bytes([65 + n]) * 700 for n in range(6)]
    app = Compress(chunked_app(chunks), flush_size=1000)
    result = app(make_environ(HTTP_ACCEPT_ENCODING="gzip"), lambda *args: None)
    decoder = zlib.decompressobj(31)
    decoded = []
    try:
        decoded = [decoder.decompress(chunk) for chunk in result]
    finally:
        getattr(result, "close", lambda: None)()
    # Chunk 0 (first), then every second chunk (700 + 700 >= 1000) is complete.
    assert len(b"".join(decoded[:1])) == 700
    assert len(b"".join(decoded[:2])) < 1400
    assert len(b"".join(decoded[:4])) == 2100
    assert len(b"".join(decoded[:6])) == 3500


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=5000) | st.text(max_size=3000).map(str.encode),
    cuts=st.lists(st.integers(min_value=0, max_value=5000), max_size=8),
    coding=st.sampled_from(["gzip", "br", "zstd"]),
    flush_size=st.integers(min_value=1, max_value=4096),
    known=st.booleans(),
)
def test_output_decompresses_to_the_input(
    body: bytes, cuts: list[int], coding: str, flush_size: int, known: bool
) -> None:
    points = sorted({0, len(body), *(cut for cut in cuts if cut < len(body))})
    chunks = [body[start:end] for start, end in zip(points, points[1:], strict=False)]
    headers = [("Content-Length", str(len(body)))] if known else []
    app = chunked_app(chunks or [b""], content_type="text/plain", headers=headers)
    _, out_headers, raw = call(
        app,
        compress(min_size=0, flush_size=flush_size, buffer_limit=2500),
        HTTP_ACCEPT_ENCODING=coding,
    )
    sent = header_value(out_headers, "content-encoding")
    assert decode(sent, raw) == body
    buffered = known and len(body) <= 2500
    if sent is None:  # only a buffered body that would not shrink goes out as it is
        assert buffered
    else:
        assert sent == coding
        assert not buffered or len(raw) < len(body)


# --- ETags and conditional requests -----------------------------------------------


@pytest.mark.parametrize(
    ("etag", "coding", "expected"),
    [
        pytest.param('"abc"', "gzip", '"abc-gzip"', id="strong gzip"),
        pytest.param('W/"abc"', "gzip", 'W/"abc-gzip"', id="weak stays weak"),
        pytest.param('"abc"', "br", '"abc-br"', id="br"),
        pytest.param('"abc"', "zstd", '"abc-zstd"', id="zstd"),
        pytest.param("abc", "gzip", '"abc-gzip"', id="unquoted"),
        pytest.param('"a"b"', "gzip", None, id="unquotable dropped"),
    ],
)
def test_compressed_variant_has_its_own_etag(etag: str, coding: str, expected: str | None) -> None:
    app = text_app(HTML, content_type="text/html", headers=[("ETag", etag)])
    _, headers, _ = call(app, compress(), HTTP_ACCEPT_ENCODING=coding)
    assert header_value(headers, "etag") == expected


def test_identity_response_keeps_its_etag() -> None:
    app = text_app(HTML, content_type="text/html", headers=[("ETag", '"abc"')])
    _, headers, _ = call(app, compress(), HTTP_ACCEPT_ENCODING="identity")
    assert header_value(headers, "etag") == '"abc"'


def test_identity_content_encoding_counts_as_none() -> None:
    app = text_app(HTML, content_type="text/html", headers=[("Content-Encoding", "identity")])
    _, headers, body = call(app, compress(), HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(headers, "content-encoding") == "gzip"
    assert gzip.decompress(body) == HTML


def test_compressed_response_drops_digest_and_ranges() -> None:
    extra = [("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ=="), ("Accept-Ranges", "bytes")]
    app = text_app(HTML, content_type="text/html", headers=extra)
    _, headers, _ = call(app, compress(), HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(headers, "content-md5") is None
    assert header_value(headers, "accept-ranges") is None
    _, headers, _ = call(app, compress(), HTTP_ACCEPT_ENCODING="identity")
    assert header_value(headers, "accept-ranges") == "bytes"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("name", ["Content-Digest", "Repr-Digest", "Digest"])
def test_compressed_response_drops_the_digests_of_the_uncoded_bytes(name: str, method: str) -> None:
    """RFC 9530 digests (and RFC 3230's) cover the content coding: the uncoded
    body's digest is wrong for the gzip bytes, as BodyRewriter already knows."""
    extra = [(name, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:")]
    app = text_app(HTML, content_type="text/html", headers=extra)
    _, headers, _ = call(app, compress(), HTTP_ACCEPT_ENCODING="gzip", REQUEST_METHOD=method)
    assert header_value(headers, "content-encoding") == "gzip"
    assert header_value(headers, name) is None
    _, headers, _ = call(app, compress(), HTTP_ACCEPT_ENCODING="identity")
    assert header_value(headers, name) == extra[0][1]


@pytest.mark.parametrize(
    ("etag", "accept", "if_none_match", "status", "expected_etag"),
    [
        pytest.param('"abc"', "gzip", '"abc-gzip"', "304", '"abc-gzip"', id="gzip variant held"),
        pytest.param('"abc"', "br", '"abc-br"', "304", '"abc-br"', id="br variant held"),
        pytest.param('W/"abc"', "gzip", 'W/"abc-gzip"', "304", 'W/"abc-gzip"', id="weak"),
        pytest.param('"abc"', "gzip", 'W/"abc-gzip"', "304", '"abc-gzip"', id="weak compare"),
        pytest.param(
            '"abc"', "gzip", '"old-gzip", "abc-gzip"', "304", '"abc-gzip"', id="among others"
        ),
        pytest.param('"abc"', "gzip", '"abc", "abc-gzip"', "304", '"abc-gzip"', id="both held"),
        pytest.param('"abc"', "gzip", '"abc"', "304", '"abc"', id="identity held"),
        pytest.param('"abc"', "gzip", "*", "304", '"abc"', id="star"),
        pytest.param('"abc"', "br", '"abc-gzip"', "200", '"abc-br"', id="other variant held"),
        pytest.param('"abc"', "identity", '"abc-gzip"', "200", '"abc"', id="identity now"),
        pytest.param('"abc"', "gzip", '"old-gzip"', "200", '"abc-gzip"', id="stale"),
        pytest.param('"abc"', "gzip", '"-gzip"', "200", '"abc-gzip"', id="bare suffix"),
    ],
)
def test_conditional_request_with_variant_etag(
    etag: str, accept: str, if_none_match: str, status: str, expected_etag: str
) -> None:
    got_status, headers, body = call(
        conditional_app(etag),
        compress(),
        HTTP_ACCEPT_ENCODING=accept,
        HTTP_IF_NONE_MATCH=if_none_match,
    )
    assert got_status.startswith(status)
    assert header_value(headers, "etag") == expected_etag
    if status == "304":
        assert body == b""
    else:
        assert decode(header_value(headers, "content-encoding"), body) == HTML


def test_not_modified_for_a_held_variant_gets_vary() -> None:
    _, headers, _ = call(
        conditional_app(),
        compress(),
        HTTP_ACCEPT_ENCODING="gzip",
        HTTP_IF_NONE_MATCH='"abc-gzip"',
    )
    assert header_value(headers, "vary") == "Accept-Encoding"


@pytest.mark.parametrize(
    ("if_none_match", "if_match", "seen_none_match", "seen_match"),
    [
        pytest.param(
            '"a-gzip", W/"b-gzip", "c-br"',
            '"a-br", "plain"',
            '"a-gzip", W/"b-gzip", "c-br", "a", W/"b"',
            '"a-br", "plain", "a"',
            id="variant tags expanded",
        ),
        pytest.param('"abc"', "*", '"abc"', "*", id="no variant tags: untouched"),
        pytest.param('"a-br"', '"a-gzip"', '"a-br"', '"a-gzip", "a"', id="other coding held"),
    ],
)
def test_condition_headers_expanded_with_originals_kept(
    if_none_match: str, if_match: str, seen_none_match: str, seen_match: str
) -> None:
    """If-None-Match gets the identity tag of the negotiated coding's variant,
    If-Match that of any enabled coding's; the originals are kept."""
    _, headers, body = call(
        echo_environ_app,
        compress(),
        HTTP_ACCEPT_ENCODING="gzip",
        HTTP_IF_NONE_MATCH=if_none_match,
        HTTP_IF_MATCH=if_match,
    )
    seen = json.loads(decode(header_value(headers, "content-encoding"), body))
    assert (seen["HTTP_IF_NONE_MATCH"], seen["HTTP_IF_MATCH"]) == (seen_none_match, seen_match)
    originals = {
        key: value
        for key, value, changed in [
            ("HTTP_IF_NONE_MATCH", if_none_match, seen_none_match != if_none_match),
            ("HTTP_IF_MATCH", if_match, seen_match != if_match),
        ]
        if changed
    }
    assert seen.get("wsgikit.compress.orig") == (originals or None)


@pytest.mark.parametrize("accept", NO_CODING.values(), ids=NO_CODING.keys())
def test_if_match_is_expanded_without_a_coding_to_use(accept: str | None) -> None:
    """A PUT carrying the ETag of a compressed GET needs no Accept-Encoding
    of its own: If-Match still gets the identity tag, If-None-Match does not
    (no variant is served)."""
    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    _, headers, body = call(
        echo_environ_app,
        compress(),
        REQUEST_METHOD="PUT",
        HTTP_IF_MATCH='"a-gzip"',
        HTTP_IF_NONE_MATCH='"b-gzip"',
        **environ,
    )
    assert header_value(headers, "content-encoding") is None
    seen = json.loads(body)
    assert seen["HTTP_IF_MATCH"] == '"a-gzip", "a"'
    assert seen["HTTP_IF_NONE_MATCH"] == '"b-gzip"'
    assert seen["wsgikit.compress.orig"] == {"HTTP_IF_MATCH": '"a-gzip"'}


@settings(max_examples=100, deadline=None)
@given(value=st.text(alphabet=st.characters(max_codepoint=255), max_size=60))
def test_hostile_if_none_match_never_raises(value: str) -> None:
    status, headers, body = call(
        conditional_app('"abc"'),
        compress(),
        HTTP_ACCEPT_ENCODING="gzip",
        HTTP_IF_NONE_MATCH=value + "-gzip",
        HTTP_IF_MATCH=value,
    )
    assert status[:3] in ("200", "304")
    if status.startswith("200"):
        assert gzip.decompress(body) == HTML


def test_flask_conditional_responses_with_variant_etags(flask_app: Any) -> None:
    import flask

    @flask_app.route("/page")
    def page() -> Any:
        response = flask.make_response(HTML.decode())
        response.set_etag("page-v1")
        return response.make_conditional(flask.request)

    @flask_app.route("/file")
    def file() -> Any:
        return flask.send_file(io.BytesIO(HTML), mimetype="text/css", etag="file-v1")

    for path in ("/page", "/file"):
        for coding in ("gzip", "br", "zstd"):
            status, headers, body = call(
                flask_app, compress(), PATH_INFO=path, HTTP_ACCEPT_ENCODING=coding
            )
            assert header_value(headers, "content-encoding") == coding
            assert decode(coding, body) == HTML
            etag = header_value(headers, "etag")
            assert etag is not None and etag.endswith(f'-{coding}"')
            status, headers, body = call(
                flask_app,
                compress(),
                PATH_INFO=path,
                HTTP_ACCEPT_ENCODING=coding,
                HTTP_IF_NONE_MATCH=etag,
            )
            assert (status[:3], body) == ("304", b"")
            assert header_value(headers, "etag") == etag
            # Without compression, the variant's ETag does not match: a full response.
            status, headers, body = call(
                flask_app, compress(), PATH_INFO=path, HTTP_IF_NONE_MATCH=etag
            )
            assert (status[:3], body) == ("200", HTML)


def test_pyramid_conditional_response_with_variant_etag() -> None:
    from pyramid.config import Configurator
    from pyramid.response import Response

    def view(request: Any) -> Response:
        response = Response(HTML, content_type="text/html", conditional_response=True)
        response.etag = "pyr-v1"
        return response

    with Configurator() as config:
        config.add_route("page", "/")
        config.add_view(view, route_name="page")
        pyramid_app = config.make_wsgi_app()
    client = testapp(pyramid_app, compress())
    first = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert first.headers["ETag"] == '"pyr-v1-gzip"'
    again = client.get(
        "/", headers={"Accept-Encoding": "gzip", "If-None-Match": '"pyr-v1-gzip"'}, status=304
    )
    assert again.headers["ETag"] == '"pyr-v1-gzip"'


# --- HEAD ----------------------------------------------------------------------------


def test_head_gets_the_headers_get_would_get_and_no_body() -> None:
    tracked = Tracked([HTML])
    headers = [("Content-Length", str(len(HTML))), ("ETag", '"abc"')]
    calls, written, _ = run_wsgi(
        linted(tracked_app(tracked, headers=headers), compress()),
        {"REQUEST_METHOD": "HEAD", "HTTP_ACCEPT_ENCODING": "gzip"},
    )
    sent = calls[-1][1]
    assert header_value(sent, "content-encoding") == "gzip"
    assert header_value(sent, "etag") == '"abc-gzip"'
    assert header_value(sent, "vary") == "Accept-Encoding"
    assert header_value(sent, "content-length") is None
    assert written == []
    assert (tracked.served, tracked.closes) == (0, 1)


def test_head_without_compression_is_untouched_but_varied(framework_app: Any) -> None:
    client = testapp(framework_app, compress(min_size=0))
    response = client.head("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"].endswith("Accept-Encoding")


# --- the PEP 3333 corners -------------------------------------------------------------


def test_legacy_write_app() -> None:
    _, headers, body = call(
        write_app([b"written " * 100, b"more "], [b"returned" * 100]),
        compress(),
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert header_value(headers, "content-encoding") == "gzip"
    assert gzip.decompress(body) == b"written " * 100 + b"more " + b"returned" * 100


def test_legacy_write_app_passed_through() -> None:
    _, headers, body = call(
        write_app([b"written "], [b"returned"], content_type="image/gif"),
        compress(),
        HTTP_ACCEPT_ENCODING="gzip",
    )
    assert header_value(headers, "content-encoding") is None
    assert body == b"written returned"


@pytest.mark.parametrize("content_type", ["text/html", "image/png"])
def test_exc_info_replacement_wins(content_type: str) -> None:
    status, headers, body = call(
        exc_info_app(content_type=content_type), compress(), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert status == "500 Internal Server Error"
    assert decode(header_value(headers, "content-encoding"), body) == b"replacement error page"


# A response Compress passes through, by kind: (headers of the first response).
PASSED_THROUGH = {
    "incompressible type": [("Content-Type", "image/png")],
    "below min_size": [("Content-Type", "text/html"), ("Content-Length", "10")],
    "no-transform": [("Content-Type", "text/html"), ("Cache-Control", "no-transform")],
    "already encoded": [("Content-Type", "text/html"), ("Content-Encoding", "br")],
}
REPLACEMENT_POINTS = ("before returning", "first iteration", "after an empty chunk")
BUFFER_LIMITS = {"stream everything": 0, "small": 100, "default": 1024 * 1024}


def replacing_app(first: list[tuple[str, str]], point: str) -> WSGIApplication:
    """Starts a response with headers ``first`` (passed through by Compress),
    then replaces it at ``point`` with a compressible 500 page (``HTML``)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def replace() -> None:
            try:
                raise ValueError("replaced")
            except ValueError:
                start_response(
                    "500 Internal Server Error",
                    [("Content-Type", "text/html"), ("Content-Length", str(len(HTML)))],
                    sys.exc_info(),
                )

        def body() -> Iterator[bytes]:
            if point == "after an empty chunk":
                yield b""
            replace()
            yield HTML

        start_response("200 OK", list(first))
        if point == "before returning":
            replace()
            return [HTML]
        return body()

    return app


@pytest.mark.parametrize("limit", BUFFER_LIMITS.values(), ids=BUFFER_LIMITS.keys())
@pytest.mark.parametrize("point", REPLACEMENT_POINTS)
@pytest.mark.parametrize("first", PASSED_THROUGH.values(), ids=PASSED_THROUGH.keys())
def test_replacing_a_passed_through_response_sends_matching_headers_and_body(
    first: list[tuple[str, str]], point: str, limit: int
) -> None:
    """Whenever the app replaces a response Compress passed through, the
    headers sent describe the body sent: a body labelled gzip is gzip."""
    calls, written, _ = run_wsgi(
        linted(replacing_app(first, point), compress(buffer_limit=limit)),
        {"HTTP_ACCEPT_ENCODING": "gzip"},
    )
    status, headers = calls[-1]
    raw = b"".join(written)
    coding = header_value(headers, "content-encoding")
    assert status == "500 Internal Server Error"
    assert decode(coding, raw) == HTML
    assert header_value(headers, "content-length") in (None, str(len(raw)))
    if point == "before returning":  # the body is not handed back yet: compressed
        assert coding == "gzip"


@pytest.mark.parametrize("limit", BUFFER_LIMITS.values(), ids=BUFFER_LIMITS.keys())
@pytest.mark.parametrize("point", REPLACEMENT_POINTS[1:])
@pytest.mark.parametrize("first", PASSED_THROUGH.values(), ids=PASSED_THROUGH.keys())
def test_json_errors_inside_compress_sends_matching_headers_and_body(
    first: list[tuple[str, str]], point: str, limit: int
) -> None:
    """JSONErrors replacing a passed-through response with its 500 (an
    exception while the body is iterated) gets headers that match the body."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", list(first))
        if point == "after an empty chunk":
            yield b""
        raise RuntimeError("failed in the body")

    calls, written, _ = run_wsgi(
        linted(app, compress(min_size=50, buffer_limit=limit), JSONErrors),
        {"HTTP_ACCEPT_ENCODING": "gzip"},
    )
    status, headers = calls[-1]
    raw = b"".join(written)
    assert status == "500 Internal Server Error"
    assert json.loads(decode(header_value(headers, "content-encoding"), raw))["status"] == 500
    assert header_value(headers, "content-length") in (None, str(len(raw)))


@pytest.mark.parametrize("point", REPLACEMENT_POINTS)
@pytest.mark.parametrize("accept", NO_CODING.values(), ids=NO_CODING.keys())
def test_a_replacement_without_a_coding_to_use_is_sent_with_vary(
    accept: str | None, point: str
) -> None:
    """No coding to use (the header-only path): the replacement's own headers
    reach the server, with ``Vary`` as the final page is compressible, and the
    body is the app's."""
    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    calls, written, _ = run_wsgi(
        linted(replacing_app([("Content-Type", "image/png")], point), compress()), environ
    )
    status, headers = calls[-1]
    assert status == "500 Internal Server Error"
    assert header_value(headers, "content-encoding") is None
    assert header_value(headers, "vary") == "Accept-Encoding"
    assert header_value(headers, "content-length") == str(len(HTML))
    assert b"".join(written) == HTML


@pytest.mark.parametrize("accept", NO_CODING.values(), ids=NO_CODING.keys())
def test_without_a_coding_to_use_the_apps_iterable_goes_to_the_server(accept: str | None) -> None:
    body = Tracked([HTML[:100], HTML[100:]])
    app = tracked_app(body, content_type="text/html")
    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    calls, written, result = run_wsgi(compress()(app), environ)
    assert result is body  # not wrapped, so wsgi.file_wrapper and sendfile work
    assert body.closes == 1
    assert b"".join(written) == HTML
    assert header_value(calls[-1][1], "vary") == "Accept-Encoding"


@pytest.mark.parametrize("accept", NO_CODING.values(), ids=NO_CODING.keys())
@pytest.mark.parametrize(
    ("method", "status", "vary"),
    [
        ("HEAD", "200 OK", "Accept-Encoding"),
        ("GET", "204 No Content", None),
        ("GET", "304 Not Modified", None),
        ("GET", "206 Partial Content", None),
    ],
)
def test_without_a_coding_to_use_head_and_bodiless_statuses(
    accept: str | None, method: str, status: str, vary: str | None
) -> None:
    """HEAD gets GET's headers (Vary, the length); 204, 304 and 206 are never
    transformed, so they owe no Vary, even when a sloppy app labels a 204 or
    304 text/html (which wsgiref.validate refuses, so it is off for those).
    The headers are otherwise the app's."""
    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    bodiless = status[:3] in ("204", "304")
    body = b"" if bodiless else HTML
    app = text_app(body, status=status, content_type="text/html")
    calls, _, _ = run_wsgi(
        compress()(app) if bodiless else linted(app, compress()),
        {"REQUEST_METHOD": method, **environ},
    )
    sent_status, headers = calls[-1]
    assert sent_status == status
    assert header_value(headers, "vary") == vary
    assert header_value(headers, "content-encoding") is None
    assert header_value(headers, "content-length") == str(len(body))


@pytest.mark.parametrize("accept", NO_CODING.values(), ids=NO_CODING.keys())
def test_without_a_coding_to_use_a_second_start_response_needs_exc_info(
    accept: str | None,
) -> None:
    def twice(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        start_response("500 Internal Server Error", [("Content-Type", "text/html")])
        return [b""]

    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    with pytest.raises(RuntimeError, match="twice"):
        run_wsgi(compress()(twice), environ)


@pytest.mark.parametrize("accept", NO_CODING.values(), ids=NO_CODING.keys())
def test_without_a_coding_to_use_a_lazy_or_writing_app_is_sent_as_it_is(
    accept: str | None,
) -> None:
    environ = {} if accept is None else {"HTTP_ACCEPT_ENCODING": accept}
    for app, expected in (
        (lazy_app([b"lazy " * 200, b"body"]), b"lazy " * 200 + b"body"),
        (write_app([b"written "], [b"returned"]), b"written returned"),
    ):
        _, headers, body = call(app, compress(), **environ)
        assert header_value(headers, "content-encoding") is None
        assert header_value(headers, "vary") == "Accept-Encoding"
        assert body == expected


def test_exc_info_after_compressed_bytes_left_is_reraised() -> None:
    app = late_exc_info_app(HTML, b"too late")
    with pytest.raises(ValueError, match="failed after the body started"):
        run_wsgi(linted(app, compress()), {"HTTP_ACCEPT_ENCODING": "gzip"})


def test_invalid_content_length_counts_as_unknown() -> None:
    app = chunked_app([HTML], headers=[("Content-Length", "12x")])
    _, headers, body = call(app, compress(), HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(headers, "content-length") is None
    assert gzip.decompress(body) == HTML


def test_lazy_app() -> None:
    _, headers, body = call(
        lazy_app([b"lazy " * 200, b"body"]), compress(), HTTP_ACCEPT_ENCODING="br"
    )
    assert header_value(headers, "content-encoding") == "br"
    assert decode("br", body) == b"lazy " * 200 + b"body"


def test_raising_app_propagates() -> None:
    with pytest.raises(RuntimeError, match="secret internal detail"):
        run_wsgi(Compress(raising_app), {"HTTP_ACCEPT_ENCODING": "gzip"})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("Content-Length", str(len(HTML)))], id="buffered"),
        pytest.param([], id="streamed"),
        pytest.param([("Content-Length", "3")], id="below min_size"),
    ],
)
@pytest.mark.parametrize("consume", [True, False], ids=["iterated", "closed unread"])
def test_inner_iterable_closed_exactly_once(headers: list[tuple[str, str]], consume: bool) -> None:
    tracked = Tracked([HTML[:10], HTML[10:]])
    run_wsgi(
        linted(tracked_app(tracked, headers=headers), compress()),
        {"HTTP_ACCEPT_ENCODING": "gzip"},
        consume=consume,
    )
    assert tracked.closes == 1


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("Content-Length", str(len(HTML)))], id="buffered"),
        pytest.param([], id="streamed"),
    ],
)
def test_inner_iterable_closed_when_it_fails(headers: list[tuple[str, str]]) -> None:
    tracked = Tracked([HTML[:10], HTML[10:]], fail_at=1)
    with pytest.raises(RuntimeError, match="boom"):
        run_wsgi(Compress(tracked_app(tracked, headers=headers)), {"HTTP_ACCEPT_ENCODING": "gzip"})
    assert tracked.closes == 1


class FailingEncoder:
    """A zlib compressobj whose second compress() call fails."""

    def __init__(self, *args: Any) -> None:
        self.calls = 0

    def compress(self, data: bytes) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise zlib.error("codec bug")
        return b""

    def flush(self, mode: int = zlib.Z_FINISH) -> bytes:
        return b""


def failing_compress(*args: Any, **kwargs: Any) -> bytes:
    raise zlib.error("codec bug")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([("Content-Length", str(len(HTML)))], id="buffered"),
        pytest.param([], id="streamed, fails mid-body"),
    ],
)
def test_inner_iterable_closed_once_when_compression_fails(
    monkeypatch: pytest.MonkeyPatch, headers: list[tuple[str, str]]
) -> None:
    monkeypatch.setattr(zlib, "compress", failing_compress)
    monkeypatch.setattr(zlib, "compressobj", FailingEncoder)
    tracked = Tracked([HTML[:10], HTML[10:]])
    app = Compress(tracked_app(tracked, headers=headers), encodings=["gzip"], backend="zlib")
    with pytest.raises(zlib.error, match="codec bug"):
        run_wsgi(app, {"HTTP_ACCEPT_ENCODING": "gzip"})
    assert tracked.closes == 1


def test_body_longer_than_declared_goes_out_uncompressed(caplog: pytest.LogCaptureFixture) -> None:
    lying = chunked_app([HTML[:2000], HTML[2000:]], headers=[("Content-Length", "600")])
    with caplog.at_level(logging.WARNING, logger="wsgikit.compress"):
        calls, written, _ = run_wsgi(
            Compress(lying, buffer_limit=1000), {"HTTP_ACCEPT_ENCODING": "gzip"}
        )
    assert header_value(calls[-1][1], "content-encoding") is None
    assert b"".join(written) == HTML
    assert "sent uncompressed" in caplog.text


def test_file_wrapper_body_is_compressed() -> None:
    from wsgiref.util import FileWrapper

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/css")])
        return environ["wsgi.file_wrapper"](io.BytesIO(HTML), 4096)  # type: ignore[no-any-return]

    _, headers, body = call(
        app, compress(), HTTP_ACCEPT_ENCODING="gzip", **{"wsgi.file_wrapper": FileWrapper}
    )
    assert gzip.decompress(body) == HTML


# --- real frameworks ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/json", "/missing"])
@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_framework_responses_compressed(framework_app: Any, path: str, coding: str) -> None:
    """Refusing identity forces compression of these small bodies (which would
    not shrink, so would otherwise go out as they are)."""
    plain_status, _, plain = call(framework_app, PATH_INFO=path)
    status, headers, body = call(
        framework_app,
        compress(min_size=0),
        PATH_INFO=path,
        HTTP_ACCEPT_ENCODING=f"{coding}, identity;q=0",
    )
    assert status == plain_status
    assert header_value(headers, "content-encoding") == coding
    assert "Accept-Encoding" in (header_value(headers, "vary") or "")
    assert header_value(headers, "content-length") == str(len(body))
    assert decode(coding, body) == plain


def test_framework_through_webtest(framework_app: Any) -> None:
    """WebTest (lint on) decodes our gzip itself, as a browser would."""
    client = testapp(framework_app, compress(min_size=0))
    response = client.get("/json", headers={"Accept-Encoding": "gzip"})
    assert response.json == {"ok": True}
    assert "Accept-Encoding" in response.headers["Vary"]


def test_framework_small_responses_not_compressed(framework_app: Any) -> None:
    _, headers, body = call(framework_app, compress(), HTTP_ACCEPT_ENCODING="gzip")
    assert header_value(headers, "content-encoding") is None
    assert (header_value(headers, "vary") or "").endswith("Accept-Encoding")
    assert b"<h1>" in body


def test_flask_streamed_response(flask_app: Any) -> None:
    import flask

    @flask_app.route("/stream")
    def stream() -> Any:
        def generate() -> Iterator[str]:
            for n in range(300):
                yield f"line {n}\n"

        return flask.Response(generate(), mimetype="text/plain")

    _, headers, body = call(flask_app, compress(), PATH_INFO="/stream", HTTP_ACCEPT_ENCODING="zstd")
    assert header_value(headers, "content-length") is None
    assert decode("zstd", body) == "".join(f"line {n}\n" for n in range(300)).encode()


# --- through a real server -------------------------------------------------------------


def test_json_errors_replacement_through_waitress(serve: Any) -> None:
    """The headers a real server sends for JSONErrors' 500, replacing a
    passed-through image inside Compress, describe the bytes it sends."""
    server = serve("e2e_compress_apps:errors_inside")
    raw = server.get("/", {"Accept-Encoding": "gzip"})
    with raw:
        status, coding, body = raw.status, raw.headers["Content-Encoding"], raw.read()
    assert status == 500
    assert json.loads(decode(coding, body))["status"] == 500


def test_end_to_end_through_waitress(serve: Any) -> None:
    import requests
    from e2e_compress_apps import KNOWN, PAGE_CHUNKS

    server = serve("e2e_compress_apps:compressed")
    page = requests.get(server.url + "/", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert page.headers["Content-Encoding"] == "gzip"
    assert page.headers["Vary"] == "Accept-Encoding"
    assert page.content == b"".join(PAGE_CHUNKS)

    known = requests.get(server.url + "/known", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert known.headers["ETag"] == '"v1-gzip"'
    assert known.content == KNOWN
    again = requests.get(
        server.url + "/known",
        headers={"Accept-Encoding": "gzip", "If-None-Match": known.headers["ETag"]},
        timeout=10,
    )
    assert again.status_code == 304
    assert again.headers["ETag"] == '"v1-gzip"'

    for coding in ("br", "zstd", "gzip"):
        raw = urllib.request.urlopen(
            urllib.request.Request(server.url + "/known", headers={"Accept-Encoding": coding}),
            timeout=10,
        )
        with raw:
            assert raw.headers["Content-Encoding"] == coding
            data = raw.read()
            assert int(raw.headers["Content-Length"]) == len(data)
        assert decode(coding, data) == KNOWN

    head = requests.head(server.url + "/known", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert head.status_code == 200
    assert (head.headers["Content-Encoding"], head.headers["ETag"]) == ("gzip", '"v1-gzip"')
    assert head.content == b""

    png = requests.get(server.url + "/png", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert "Content-Encoding" not in png.headers
    assert png.content.startswith(b"\x89PNG")


@pytest.mark.parametrize("accept", [";q=1\n\x1b[2KERROR forged", ",\r\n, ;"])
def test_log_lines_escape_the_accept_encoding(
    accept: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Client text in a log line is escaped: it cannot start a forged line."""
    with caplog.at_level(logging.DEBUG, logger="wsgikit.compress"):
        Compress(text_app(HTML, content_type="text/html")).negotiate(accept)
    assert caplog.records
    for record in caplog.records:
        assert record.getMessage().isprintable(), record.getMessage()
