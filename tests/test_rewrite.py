"""Body rewriting (wsgikit.rewrite): BodyRewriter, and the machinery InjectHTML shares.

InjectHTML's own behaviour (placement, charsets, Compress) is in test_inject_html.py.
"""

from __future__ import annotations

import gzip
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgiref.util import FileWrapper

import pytest
from helpers import (
    MEDIA_TYPE_SELECTION,
    NOT_TRANSFORMABLE,
    Handshake,
    Tracked,
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
    write_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgikit.compress import Compress
from wsgikit.rewrite import BodyRewriter, InjectHTML, declared_charset

SNIPPET = "<script>live()</script>"
HTML = b"<html><head></head><body><p>Hi</p></body></html>"


# --- local helpers --------------------------------------------------------------


def upper(body: bytes) -> bytes:
    return body.upper()


def upper_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.upper()


def never(body: Any) -> bytes:
    raise AssertionError("the rewrite function must not be called")


def reheader(
    app: WSGIApplication, *, add: Iterable[tuple[str, str]] = (), drop: Iterable[str] = ()
) -> WSGIApplication:
    """Wrap a test app so its response carries ``add`` and lacks ``drop`` headers."""
    extra = list(add)
    dropped = {name.lower() for name in drop}

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def patched(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() not in dropped]
            return start_response(status, kept + extra, exc_info)

        return app(environ, patched)

    return wrapped


def final(calls: list[tuple[str, list[tuple[str, str]]]]) -> tuple[str, list[tuple[str, str]]]:
    """The status and headers that won (the last start_response call)."""
    return calls[-1]


def rewrite_only(**kwargs: Any) -> Callable[[WSGIApplication], WSGIApplication]:
    return partial(BodyRewriter, **kwargs)


def every_mode(
    rewrite: Callable[..., bytes] = upper, stream: Callable[..., Any] = upper_stream
) -> list[Any]:
    """``rewriter`` rows: one layer of each mode (a buffered rewrite, a stream
    transform, InjectHTML), for the rules they all follow."""
    return [
        pytest.param(rewrite_only(rewrite=rewrite), id="buffered"),
        pytest.param(rewrite_only(stream=stream), id="streaming"),
        pytest.param(partial(InjectHTML, snippet=SNIPPET), id="inject"),
    ]


# --- options --------------------------------------------------------------------


def test_options_are_public_attributes() -> None:
    app = text_app()
    rewriter = BodyRewriter(app, upper, content_types="Text/*", buffer_limit=5, statuses=[200])
    assert rewriter.app is app
    assert rewriter.rewrite is upper
    assert rewriter.stream is None
    assert rewriter.content_types == ("text/*",)
    assert rewriter.buffer_limit == 5
    assert rewriter.statuses == frozenset({200})
    injector = InjectHTML(app, b"x", marker="</head>")
    assert (injector.snippet, injector.marker) == (b"x", "</head>")
    assert injector.content_types == ("text/html", "application/xhtml+xml")


# --- buffered rewriting -----------------------------------------------------------


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        pytest.param(text_app(HTML, content_type="text/html"), HTML.upper(), id="list app"),
        pytest.param(lazy_app([b"<p>a", b"b</p>"]), b"<P>AB</P>", id="lazy generator app"),
        pytest.param(write_app([b"<p>w", b"x"], [b"r</p>"]), b"<P>WXR</P>", id="write() app"),
        pytest.param(tracked_app(Tracked([b"<i>", b"", b"t</i>"])), b"<I>T</I>", id="tracked"),
    ],
)
def test_buffered_rewrite_sets_content_length(app: WSGIApplication, expected: bytes) -> None:
    response = testapp(app, rewrite_only(rewrite=upper)).get("/")
    assert response.body == expected
    assert response.headers["Content-Length"] == str(len(expected))


def test_buffered_rewrite_closes_the_app_iterable_once() -> None:
    tracked = Tracked([b"<p>", b"x</p>"])
    calls, body, _ = run_wsgi(linted(tracked_app(tracked), rewrite_only(rewrite=upper)))
    assert b"".join(body) == b"<P>X</P>"
    assert tracked.closes == 1


def test_response_closed_without_iteration_closes_app_once() -> None:
    tracked = Tracked([b"<p>x</p>"])
    _, body, _ = run_wsgi(linted(tracked_app(tracked), rewrite_only(rewrite=upper)), consume=False)
    assert body == []
    assert tracked.closes == 1


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param('"abc"', 'W/"abc"', id="strong becomes weak"),
        pytest.param('W/"abc"', 'W/"abc"', id="weak stays weak"),
        pytest.param('w/"abc"', 'W/"abc"', id="lower-case weak prefix normalised"),
        pytest.param("abc", 'W/"abc"', id="unquoted tag quoted"),
        pytest.param(' "a b" ', 'W/"a b"', id="spaces around"),
        pytest.param('"a"b"', None, id="quote inside: dropped"),
    ],
)
def test_etag_becomes_weak_after_rewrite(given: str, expected: str | None) -> None:
    app = text_app(b"<p>x</p>", content_type="text/html", headers=[("ETag", given)])
    calls, _, _ = run_wsgi(linted(app, rewrite_only(rewrite=upper)))
    assert header_value(final(calls)[1], "ETag") == expected


def test_stale_headers_removed_after_rewrite() -> None:
    stale = [
        ("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
        ("Accept-Ranges", "bytes"),
        ("Content-Digest", "sha-256=:abc=:"),
        ("Repr-Digest", "sha-256=:abc=:"),
        ("Digest", "SHA-256=abc="),
    ]
    kept = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Custom", "yes")]
    app = text_app(b"<p>x</p>", content_type="text/html", headers=stale + kept)
    calls, body, _ = run_wsgi(linted(app, rewrite_only(rewrite=upper)))
    headers = final(calls)[1]
    names = {name.lower() for name, _ in headers}
    assert names.isdisjoint(name.lower() for name, _ in stale)
    assert [pair for pair in headers if pair in kept] == kept
    assert header_value(headers, "Content-Length") == str(len(b"".join(body)))


def test_unchanged_body_keeps_every_header() -> None:
    headers = [("ETag", '"v1"'), ("Content-MD5", "abc"), ("Accept-Ranges", "bytes")]
    app = text_app(HTML, content_type="text/html", headers=headers)
    calls, body, _ = run_wsgi(linted(app, rewrite_only(rewrite=lambda body: bytes(body))))
    assert b"".join(body) == HTML
    assert all(pair in final(calls)[1] for pair in headers)


@pytest.mark.parametrize(("content_types", "content_type", "rewritten"), MEDIA_TYPE_SELECTION)
def test_content_type_selection(content_types: Any, content_type: str, rewritten: bool) -> None:
    app = text_app(b"body", content_type=content_type)
    rewriter = BodyRewriter(app, upper, content_types=content_types)
    _, body, _ = run_wsgi(rewriter)
    assert (b"".join(body) == b"BODY") is rewritten


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([("Content-Encoding", "identity")], id="identity encoding"),
        pytest.param([("Cache-Control", "no-cache, no-store")], id="no-cache"),
        pytest.param([("Cache-Control", 'private="no-transform"')], id="quoted directive value"),
        pytest.param([("Content-Length", "8")], id="declared length within the limit"),
    ],
)
def test_headers_that_do_not_prevent_rewriting(extra: list[tuple[str, str]]) -> None:
    app = reheader(
        text_app(b"<p>x</p>", content_type="text/html"), add=extra, drop=["Content-Length"]
    )
    calls, body, _ = run_wsgi(linted(app, rewrite_only(rewrite=upper, buffer_limit=8)))
    assert b"".join(body) == b"<P>X</P>"
    assert header_value(final(calls)[1], "Content-Length") == "8"


def test_statuses_option_selects_by_status() -> None:
    rewriter = partial(BodyRewriter, rewrite=upper, statuses=[404])
    ok = testapp(text_app(b"<p>ok</p>", content_type="text/html"), rewriter).get("/")
    missing = testapp(text_app(b"<p>gone</p>", "404 Not Found", "text/html"), rewriter).get(
        "/", status=404
    )
    assert (ok.body, missing.body) == (b"<p>ok</p>", b"<P>GONE</P>")


def test_error_statuses_rewritten_by_default() -> None:
    app = text_app(b"<p>oops</p>", "500 Internal Server Error", "text/html")
    response = testapp(app, rewrite_only(rewrite=upper)).get("/", status=500)
    assert response.body == b"<P>OOPS</P>"


# --- pass-through: unbuffered, untouched ------------------------------------------


class Passed(NamedTuple):
    """A response BodyRewriter passes through as the app made it."""

    options: dict[str, Any]  # BodyRewriter's
    content_type: str | None  # None: the app sends no Content-Type
    status: str
    extra: Iterable[tuple[str, str]]  # more response headers
    environ: dict[str, str]


PASS_THROUGH = [
    pytest.param(Passed({}, "text/plain", "200 OK", (), {}), id="non-matching type"),
    pytest.param(
        Passed({}, "text/html", "206 Partial Content", [("Content-Range", "bytes 0-10/100")], {}),
        id="206 partial content",
    ),
    # the header side of the rule, shared with test_http's transformable()
    *[pytest.param(Passed({}, "text/html", "200 OK", row.values[0], {}), id=row.id)
      for row in NOT_TRANSFORMABLE],
    pytest.param(
        Passed({"statuses": [200]}, "text/html", "404 Not Found", (), {}),
        id="status not selected",
    ),
    pytest.param(Passed({"content_types": ["*/*"]}, None, "200 OK", (), {}), id="no Content-Type"),
    pytest.param(Passed({}, "text/html", "204 No Content", (), {}), id="204"),
    pytest.param(Passed({}, "text/html", "304 Not Modified", (), {}), id="304"),
    pytest.param(Passed({}, "text/html", "103 Early Hints", (), {}), id="1xx"),
]  # fmt: skip
# Buffered mode only: streaming has no limit.
DECLARED_TOO_LONG = pytest.param(
    Passed({"buffer_limit": 3}, "text/html", "200 OK", [("Content-Length", "11")], {}),
    id="declared length over the limit",
)
HEAD = {"REQUEST_METHOD": "HEAD"}
# HEAD follows GET's selection: every response a GET passes through, HEAD does too.
HEAD_PASS_THROUGH = [
    pytest.param(case.values[0]._replace(environ=HEAD), id=f"HEAD, {case.id}")
    for case in [*PASS_THROUGH, DECLARED_TOO_LONG]
]


@pytest.mark.parametrize(
    ("mode", "case"),
    [
        *[pytest.param(mode, *case.values, id=f"{mode}: {case.id}") for case in PASS_THROUGH
          for mode in ("rewrite", "stream")],
        pytest.param("rewrite", *DECLARED_TOO_LONG.values, id=DECLARED_TOO_LONG.id),
        # A selected HEAD has its headers edited, but its body is not read either.
        *[pytest.param(mode, Passed({}, "text/html", "200 OK", (), HEAD),
                       id=f"{mode}: selected HEAD")
          for mode in ("rewrite", "stream")],
    ],
)  # fmt: skip
def test_pass_through_is_unbuffered(mode: str, case: Passed) -> None:
    """The second chunk is produced only after the server saw the first one."""
    handshake = Handshake(content_type=case.content_type or "text/html", status=case.status)
    drop = () if case.content_type else ["Content-Type"]
    app = reheader(handshake, add=case.extra, drop=drop)
    rewriter = BodyRewriter(app, **{mode: never}, **case.options)
    assert handshake.drive(rewriter, case.environ) == [b"first", b"second"]
    assert handshake.second_produced


@pytest.mark.parametrize("case", [*PASS_THROUGH, DECLARED_TOO_LONG, *HEAD_PASS_THROUGH])
def test_pass_through_returns_the_app_iterable_and_headers(case: Passed) -> None:
    """The server gets the app's own iterable (file_wrapper works) and its headers as sent."""
    tracked = Tracked([b"<p>a", b"b</p>"])
    headers = [*([("Content-Type", case.content_type)] if case.content_type else []), *case.extra]
    sent_headers = [*headers, ("ETag", '"strong"'), ("Content-MD5", "x")]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(case.status, list(sent_headers))
        return tracked

    calls, body, result = run_wsgi(BodyRewriter(app, never, **case.options), case.environ)
    assert result is tracked
    assert calls == [(case.status, sent_headers)]
    assert b"".join(body) == b"<p>ab</p>"
    assert tracked.closes == 1


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_statuses_pass_through(status: str) -> None:
    headers = [("Content-Type", "text/html"), ("ETag", '"x"')]

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(headers))
        return []

    # Not linted: wsgiref.validate itself rejects Content-Type on these statuses.
    calls, body, result = run_wsgi(BodyRewriter(app, never))
    assert calls == [(status, headers)]
    assert body == []


def page_app(body: bytes, content_type: str, headers: Iterable[tuple[str, str]]) -> WSGIApplication:
    """Like ``text_app``, but with no body for HEAD, as frameworks do."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK",
            [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers],
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    return app


HEAD_LAYERS = [
    pytest.param(partial(InjectHTML, snippet=SNIPPET), id="InjectHTML"),
    pytest.param(rewrite_only(rewrite=upper), id="BodyRewriter buffered"),
    pytest.param(rewrite_only(stream=upper_stream), id="BodyRewriter streaming"),
]


@pytest.mark.parametrize("layer", HEAD_LAYERS)
def test_head_gets_the_headers_of_the_get(
    layer: Callable[[WSGIApplication], WSGIApplication],
) -> None:
    """RFC 9110 9.3.2: same headers as GET, except the Content-Length HEAD cannot know."""
    stale = [("ETag", '"x"'), ("Content-MD5", "abc"), ("Accept-Ranges", "bytes")]
    app = page_app(HTML, content_type="text/html", headers=[*stale, ("X-Kept", "1")])
    get = testapp(app, layer).get("/")
    head = testapp(app, layer).head("/")
    assert get.body != HTML  # the GET was rewritten
    assert head.body == b""
    assert head.headers["ETag"] == get.headers["ETag"] == 'W/"x"'
    assert "Content-Length" not in head.headers
    without_length = [(k, v) for k, v in get.headerlist if k.lower() != "content-length"]
    assert head.headerlist == without_length


@pytest.mark.parametrize("layer", HEAD_LAYERS)
def test_head_never_reads_the_body_nor_calls_the_rewrite(
    layer: Callable[[WSGIApplication], WSGIApplication],
) -> None:
    tracked = Tracked([b"<p>a", b"b</p>"], fail_at=0)  # reading it would raise

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", "9")])
        return tracked

    wrapped = layer(app)
    environ = make_environ(REQUEST_METHOD="HEAD")
    calls: list[tuple[str, list[tuple[str, str]]]] = []
    result = wrapped(
        environ, lambda status, headers, exc_info=None: calls.append((status, headers))
    )
    assert result is tracked
    assert calls == [("200 OK", [("Content-Type", "text/html")])]
    assert tracked.served == 0
    tracked.close()  # the server closes what it got: the same object
    assert tracked.closes == 1


def test_head_in_an_unsearchable_charset_passes_through_like_its_get() -> None:
    """InjectHTML leaves a UTF-16 page and its headers alone on GET: HEAD too."""
    body = "<html><body>hi</body></html>".encode("utf-16")
    app = page_app(body, content_type="text/html; charset=utf-16", headers=[("ETag", '"x"')])
    layer = partial(InjectHTML, snippet=SNIPPET)
    get_calls, get_body, _ = run_wsgi(linted(app, layer))
    head_calls, head_body, _ = run_wsgi(linted(app, layer), {"REQUEST_METHOD": "HEAD"})
    assert (b"".join(get_body), head_body) == (body, [])
    [(get_status, get_headers)], [(head_status, head_headers)] = get_calls, head_calls
    assert head_status == get_status
    assert sorted(head_headers) == sorted(get_headers)  # the core re-appends Content-Length
    assert header_value(head_headers, "ETag") == '"x"'


def test_file_wrapper_survives_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"file body")

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return FileWrapper(path.open("rb"))  # type: ignore[no-any-return]

    calls, body, result = run_wsgi(BodyRewriter(app, never))
    assert isinstance(result, FileWrapper)
    assert b"".join(body) == b"file body"


# --- the buffer limit ---------------------------------------------------------------


@pytest.mark.parametrize(
    "app_factory",
    [
        pytest.param(lambda chunks: tracked_app(Tracked(chunks)), id="iterable"),
        pytest.param(lambda chunks: lazy_app(chunks), id="lazy generator"),
        pytest.param(lambda chunks: write_app(chunks[:2], chunks[2:]), id="write() then iterable"),
        pytest.param(lambda chunks: lazy_app([b"".join(chunks)]), id="one read-ahead chunk"),
        pytest.param(lambda chunks: write_app(chunks, []), id="write() only"),
    ],
)
def test_overflow_sends_everything_unmodified(
    app_factory: Callable[[list[bytes]], WSGIApplication], caplog: pytest.LogCaptureFixture
) -> None:
    chunks = [b"<p>one", b"two", b"three", b"four</p>"]
    app = app_factory(chunks)
    with caplog.at_level(logging.WARNING, logger="wsgikit.rewrite"):
        calls, body, _ = run_wsgi(linted(app, rewrite_only(rewrite=never, buffer_limit=10)))
    assert b"".join(body) == b"".join(chunks)
    assert header_value(final(calls)[1], "Content-Length") is None
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "buffer_limit=10" in caplog.text


def test_overflow_keeps_the_app_content_length_and_closes_once() -> None:
    tracked = Tracked([b"0123456789", b"abcdef"])
    app = tracked_app(tracked, headers=[("Content-Length", "16"), ("ETag", '"e"')])
    # Lie about nothing: declared 16 > limit 12 would pass through at once, so
    # give no limit breach on the header by declaring via the chunks only.
    no_length = reheader(app, drop=["Content-Length"])
    calls, body, _ = run_wsgi(linted(no_length, rewrite_only(rewrite=never, buffer_limit=12)))
    assert b"".join(body) == b"0123456789abcdef"
    assert header_value(final(calls)[1], "ETag") == '"e"'
    assert tracked.closes == 1


def test_body_exactly_at_the_limit_is_rewritten() -> None:
    app = text_app(b"<p>12345</p>", content_type="text/html")
    response = testapp(app, rewrite_only(rewrite=upper, buffer_limit=12)).get("/")
    assert response.body == b"<P>12345</P>"


def test_no_limit_buffers_everything() -> None:
    chunks = [b"x" * 1000] * 50
    calls, body, _ = run_wsgi(
        linted(lazy_app(chunks), rewrite_only(rewrite=upper, buffer_limit=None))
    )
    assert body == [b"X" * 50000]


@settings(max_examples=60, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=20), max_size=8),
    limit=st.integers(min_value=0, max_value=80),
)
def test_overflow_never_truncates_or_half_rewrites(chunks: list[bytes], limit: int) -> None:
    """Either the whole body is rewritten or it goes out exactly as produced."""
    original = b"".join(chunks)
    app = lazy_app(chunks)
    calls, body, _ = run_wsgi(
        linted(app, rewrite_only(rewrite=lambda b: b"[" + b + b"]", buffer_limit=limit))
    )
    sent = b"".join(body)
    if len(original) > limit:
        assert sent == original
    else:
        assert sent == b"[" + original + b"]"
        assert header_value(final(calls)[1], "Content-Length") == str(len(sent))


# --- streaming mode -------------------------------------------------------------------


def test_stream_mode_streams() -> None:
    """Chunks come out as they are rewritten, not after the whole body."""
    handshake = Handshake(content_type="text/html")
    rewriter = BodyRewriter(handshake, stream=upper_stream)
    assert handshake.drive(linted(rewriter)) == [b"FIRST", b"SECOND"]


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        pytest.param(text_app(b"<p>x</p>", content_type="text/html"), b"<P>X</P>", id="list"),
        pytest.param(lazy_app([b"a", b"b"]), b"AB", id="lazy generator"),
        pytest.param(write_app([b"w1", b"w2"], [b"r"]), b"W1W2R", id="write() app"),
    ],
)
def test_stream_mode_drops_content_length_and_weakens_etag(
    app: WSGIApplication, expected: bytes
) -> None:
    app = reheader(app, add=[("ETag", '"s"'), ("Accept-Ranges", "bytes")])
    calls, body, _ = run_wsgi(linted(app, rewrite_only(stream=upper_stream)))
    headers = final(calls)[1]
    assert b"".join(body) == expected
    assert header_value(headers, "Content-Length") is None
    assert header_value(headers, "Accept-Ranges") is None
    assert header_value(headers, "ETag") == 'W/"s"'


def test_stream_function_may_change_the_number_of_chunks() -> None:
    def regroup(chunks: Iterator[bytes]) -> Iterable[bytes]:
        return [b"".join(chunks), b"<!-- end -->"]

    response = testapp(lazy_app([b"a", b"b", b"c"]), rewrite_only(stream=regroup)).get("/")
    assert response.body == b"abc<!-- end -->"


def test_stream_mode_closes_app_iterable_once() -> None:
    tracked = Tracked([b"a", b"b"])
    _, body, _ = run_wsgi(linted(tracked_app(tracked), rewrite_only(stream=upper_stream)))
    assert body == [b"A", b"B"]
    assert tracked.closes == 1


# --- errors in the rewrite function -------------------------------------------------


def broken(body: bytes) -> bytes:
    raise ValueError("rewrite bug")


def broken_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    raise ValueError("stream bug")


def broken_first(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for _ in chunks:
        raise ValueError("stream bug")
    yield b""


def str_chunks(chunks: Iterator[bytes]) -> Iterator[Any]:
    for chunk in chunks:
        yield chunk.decode()


@pytest.mark.parametrize(
    ("options", "statuses"),
    [
        pytest.param({"rewrite": broken}, ["500"], id="rewrite raises"),
        pytest.param({"rewrite": lambda body: body.decode()}, ["500"], id="rewrite returns str"),
        pytest.param({"rewrite": lambda body: None}, ["500"], id="rewrite returns None"),
        # Streaming: the 200 went to the server, the 500 replaces it with exc_info.
        pytest.param({"stream": broken_stream}, ["200", "500"], id="stream function raises"),
        pytest.param({"stream": broken_first}, ["200", "500"], id="stream raises at first chunk"),
        pytest.param({"stream": str_chunks}, ["200", "500"], id="stream yields str"),
    ],
)
def test_rewrite_error_before_body_gives_500(
    options: dict[str, Any], statuses: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    tracked = Tracked([b"<p>secret", b" page</p>"])
    app = tracked_app(tracked, headers=[("Set-Cookie", "s=1")])
    with caplog.at_level(logging.ERROR, logger="wsgikit.rewrite"):
        calls, body, _ = run_wsgi(linted(app, rewrite_only(**options)))
    headers = final(calls)[1]
    assert [status[:3] for status, _ in calls] == statuses
    assert b"".join(body) == b"Internal Server Error\n"
    assert header_value(headers, "Content-Type") == "text/plain; charset=utf-8"
    assert header_value(headers, "Content-Length") == str(len(b"".join(body)))
    assert header_value(headers, "Set-Cookie") is None
    assert tracked.closes == 1
    [record] = caplog.records
    assert record.name == "wsgikit.rewrite" and record.exc_info is not None


def passing_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from chunks


@pytest.mark.parametrize(
    "stream", [upper_stream, passing_stream], ids=["stream uses the chunk", "stream passes it on"]
)
def test_str_chunk_from_the_app_is_blamed_on_the_app(
    stream: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A str in the application's body is the application's bug: the error
    names it, and the rewrite is neither blamed in the log nor turned into
    a 500 of its own."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[Any]:
        start_response("200 OK", [("Content-Type", "text/html")])
        yield "<p>str, not bytes</p>"

    with (
        caplog.at_level(logging.DEBUG, logger="wsgikit.rewrite"),
        pytest.raises(TypeError, match="application's response body must be bytes.*not str"),
    ):
        run_wsgi(BodyRewriter(app, stream=stream))
    assert not caplog.records


def test_str_chunk_from_the_stream_function_is_blamed_on_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="wsgikit.rewrite"):
        calls, body, _ = run_wsgi(
            linted(text_app(HTML, content_type="text/html"), rewrite_only(stream=str_chunks))
        )
    assert b"".join(body) == b"Internal Server Error\n"
    [record] = caplog.records
    assert "streaming body rewrite failed" in record.getMessage()
    assert record.exc_info is not None
    assert "stream must return bytes, not str" in str(record.exc_info[1])


@pytest.mark.parametrize("min_size", [0, 500], ids=["500 page compressible", "500 page too small"])
def test_stream_error_inside_compress_sends_matching_headers_and_body(min_size: int) -> None:
    """The rewriter's 500 replaces a response Compress is streaming: Compress
    decides it afresh, and what it sends is what its headers say (a buffered
    plan cannot start once the body was handed back: sent uncompressed)."""
    app = lazy_app([b"<p>one", b"two</p>"])
    calls, written, _ = run_wsgi(
        linted(app, partial(Compress, min_size=min_size), rewrite_only(stream=broken_stream)),
        {"HTTP_ACCEPT_ENCODING": "gzip"},
    )
    status, headers = final(calls)
    raw = b"".join(written)
    coding = header_value(headers, "Content-Encoding")
    assert status == "500 Internal Server Error"
    assert (gzip.decompress(raw) if coding == "gzip" else raw) == b"Internal Server Error\n"
    assert header_value(headers, "Content-Length") in (None, str(len(raw)))


def test_buffered_rewrite_error_through_webtest() -> None:
    response = testapp(text_app(HTML, content_type="text/html"), rewrite_only(rewrite=broken))
    assert response.get("/", status=500).text == "Internal Server Error\n"


def test_stream_error_after_body_started_is_reraised(caplog: pytest.LogCaptureFixture) -> None:
    def fails_late(chunks: Iterator[bytes]) -> Iterator[bytes]:
        for index, chunk in enumerate(chunks):
            if index == 1:
                raise ValueError("late stream bug")
            yield chunk

    tracked = Tracked([b"<p>one", b"two</p>"])
    with (
        caplog.at_level(logging.ERROR, logger="wsgikit.rewrite"),
        pytest.raises(ValueError, match="late stream bug"),
    ):
        run_wsgi(linted(tracked_app(tracked), rewrite_only(stream=fails_late)))
    assert tracked.closes == 1
    assert "aborting" in caplog.text


@pytest.mark.parametrize("fail_at", [0, 1])
@pytest.mark.parametrize("rewriter", every_mode())
def test_app_errors_are_not_disguised(
    rewriter: Callable[[WSGIApplication], WSGIApplication],
    fail_at: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An exception of the application propagates as is (an errors layer decides)."""
    tracked = Tracked([b"<p>a", b"b</p>"], fail_at=fail_at)
    with pytest.raises(RuntimeError, match="boom at chunk"):
        run_wsgi(linted(tracked_app(tracked), rewriter))
    assert tracked.closes == 1
    assert not [r for r in caplog.records if r.name == "wsgikit.rewrite"]


@pytest.mark.parametrize("rewriter", every_mode(rewrite=never, stream=never))
def test_app_raising_before_start_response_propagates(
    rewriter: Callable[[WSGIApplication], WSGIApplication], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RuntimeError, match="secret internal detail"):
        run_wsgi(linted(raising_app, rewriter))
    assert not [r for r in caplog.records if r.name == "wsgikit.rewrite"]


# --- exc_info ---------------------------------------------------------------------------


@pytest.mark.parametrize("rewriter", every_mode())
def test_exc_info_replacement_before_body_wins(
    rewriter: Callable[[WSGIApplication], WSGIApplication],
) -> None:
    calls, body, _ = run_wsgi(linted(exc_info_app(), rewriter))
    status, headers = final(calls)
    assert status.startswith("500 ")
    assert header_value(headers, "Content-Type") == "text/plain"
    assert b"".join(body) == b"replacement error page"


def replacing_app(first_type: str, second_type: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", first_type)])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Error", [("Content-Type", second_type)], sys.exc_info())
        return [b"<p>error</p>"]

    return app


def test_exc_info_replacement_while_buffering_is_rewritten() -> None:
    app = replacing_app("text/html", "text/html; charset=utf-8")
    calls, body, _ = run_wsgi(linted(app, partial(InjectHTML, snippet="<hr>")))
    assert [status for status, _ in calls] == ["500 Error"]
    assert b"".join(body) == b"<p>error</p><hr>"


def test_exc_info_replacement_after_pass_through_is_still_rewritten() -> None:
    """Passed through, then replaced before the app returned: nothing was sent,
    so the replacement is selected and rewritten on its own merits."""
    app = replacing_app("text/plain", "text/html")
    calls, body, _ = run_wsgi(linted(app, partial(InjectHTML, snippet="<hr>")))
    assert final(calls)[0] == "500 Error"
    assert b"".join(body) == b"<p>error</p><hr>"


@pytest.mark.parametrize(
    ("content_type", "rewriter"),
    [
        pytest.param("text/plain", rewrite_only(rewrite=never), id="passed through"),
        pytest.param("text/html", rewrite_only(stream=upper_stream), id="streaming"),
    ],
)
def test_exc_info_after_body_is_reraised_by_the_server(
    content_type: str, rewriter: Callable[[WSGIApplication], WSGIApplication]
) -> None:
    app = late_exc_info_app(b"<p>partial", b"never", content_type=content_type, error=KeyError)
    with pytest.raises(KeyError, match="after the body started"):
        run_wsgi(linted(app, rewriter))


# --- framework apps ------------------------------------------------------------------------


def test_stream_rewriter_on_framework_apps(framework_app: WSGIApplication) -> None:
    _, bare, _ = run_wsgi(linted(framework_app))
    calls, body, _ = run_wsgi(linted(framework_app, rewrite_only(stream=upper_stream)))
    assert b"".join(body) == b"".join(bare).upper()
    assert header_value(final(calls)[1], "Content-Length") is None


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=40), max_size=6),
    kind=st.sampled_from(["list", "lazy", "write"]),
    grow=st.binary(max_size=50),
    method=st.sampled_from(["GET", "POST"]),
)
def test_content_length_always_matches_the_body(
    chunks: list[bytes], kind: str, grow: bytes, method: str
) -> None:
    if kind == "list":
        body = b"".join(chunks)
        app = text_app(body, content_type="text/html")
    elif kind == "lazy":
        app = lazy_app(chunks)
    else:
        app = write_app(chunks[:1], chunks[1:])
    rewriter = rewrite_only(rewrite=lambda b: grow + b[::-1])
    calls, sent, _ = run_wsgi(linted(app, rewriter), {"REQUEST_METHOD": method})
    result = b"".join(sent)
    assert result == grow + b"".join(chunks)[::-1]
    assert header_value(final(calls)[1], "Content-Length") == str(len(result))


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=60))
def test_declared_charset_never_raises(value: str) -> None:
    charset = declared_charset([("Content-Type", value)])
    assert charset is None or charset == charset.lower()


def test_declared_charset_reads_the_parameter() -> None:
    assert declared_charset([("content-type", 'text/html; Charset="ISO-8859-1"')]) == "iso-8859-1"
    assert declared_charset([("Content-Type", "text/html")]) is None
    assert declared_charset([]) is None


# --- end to end through waitress ------------------------------------------------------------


def test_stream_error_through_a_real_server_is_a_500(serve: Callable[..., Any]) -> None:
    server = serve("e2e_rewrite_apps:broken_stream")
    response = server.get("/")
    with response:
        assert response.status == 500
        assert response.read() == b"Internal Server Error\n"
    assert "stream bug" in server.stop()


# --- examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        pytest.param("pyramid_inject_html", "/", b"livereload.js", id="pyramid InjectHTML"),
        pytest.param("flask_body_rewriter", "/", b"staff [at] example.com", id="flask buffered"),
        pytest.param("flask_body_rewriter", "/log", b"token=******1", id="flask streaming"),
    ],
)
def test_examples_run(
    name: str, path: str, expected: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    file = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # Pyramid looks its caller up
    spec.loader.exec_module(module)
    response = testapp(module.app).get(path)
    assert expected in response.body


# --- log lines quote client text escaped ----------------------------------------------


FORGED_PATH = "/page\nERROR wsgikit.auth: admin logged in\r\x1b[2K"


@pytest.mark.parametrize(
    ("app", "options"),
    [
        pytest.param(
            text_app(HTML, content_type="text/html"),
            {"rewrite": upper, "buffer_limit": 10},
            id="declared length over the limit",
        ),
        pytest.param(lazy_app([HTML]), {"rewrite": upper, "buffer_limit": 10}, id="overflow"),
        pytest.param(text_app(HTML, content_type="text/html"), {"rewrite": broken}, id="rewrite"),
        pytest.param(
            text_app(HTML, content_type="text/html"), {"stream": broken_stream}, id="stream"
        ),
    ],
)
def test_log_lines_escape_the_request_path(
    app: WSGIApplication, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """A CR, LF or escape sequence in the path cannot start a forged log line."""
    with caplog.at_level(logging.WARNING, logger="wsgikit.rewrite"):
        run_wsgi(linted(app, rewrite_only(**options)), {"PATH_INFO": FORGED_PATH})
    [record] = caplog.records
    message = record.getMessage()
    assert message.isprintable(), message
    assert message.startswith("GET /page\\nERROR wsgikit.auth: admin logged in\\r\\x1b[2K: ")
