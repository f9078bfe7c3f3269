"""HTML snippet injection (wsgikit.inject_html): InjectHTML.

The selection, pass-through, HEAD and error rules it shares with BodyRewriter
are tested in test_rewrite.py.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any
from wsgiref.types import WSGIApplication

import pytest
from helpers import header_value, lazy_app, linted, run_wsgi, testapp, text_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsgikit.inject_html import InjectHTML

SNIPPET = "<script>live()</script>"
HTML = b"<html><head></head><body><p>Hi</p></body></html>"


# --- placement, charsets, selection -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "marker", "expected"),
    [
        pytest.param(HTML, "</body>", HTML.replace(b"</body>", b"<!--S--></body>"), id="basic"),
        pytest.param(b"<BODY>x</BODY>", "</body>", b"<BODY>x<!--S--></BODY>", id="upper-case"),
        pytest.param(b"<p>x</BoDy>", "</BODY>", b"<p>x<!--S--></BoDy>", id="mixed-case marker"),
        pytest.param(
            b"<script>'</body>'</script></body>", "</body>",
            b"<script>'</body>'</script><!--S--></body>", id="last occurrence",
        ),
        pytest.param(b"<p>fragment", "</body>", b"<p>fragment<!--S-->", id="missing: appended"),
        pytest.param(b"", "</body>", b"<!--S-->", id="empty body"),
        pytest.param(
            b"<head></head><body></body>", "</head>", b"<head><!--S--></head><body></body>",
            id="custom marker",
        ),
    ],
)  # fmt: skip
def test_inject_places_snippet(body: bytes, marker: str, expected: bytes) -> None:
    app = text_app(body, content_type="text/html; charset=utf-8")
    response = testapp(app, partial(InjectHTML, snippet="<!--S-->", marker=marker)).get("/")
    assert response.body == expected
    assert response.headers["Content-Length"] == str(len(expected))


@pytest.mark.parametrize(
    ("content_type", "snippet", "inserted"),
    [
        pytest.param("text/html", "<p>é€</p>", "<p>é€</p>".encode(), id="no charset: UTF-8"),
        pytest.param(
            "text/html; charset=utf-8", "<p>é€</p>", "<p>é€</p>".encode(), id="utf-8 declared"
        ),
        pytest.param(
            "text/html; charset=ISO-8859-1", "<p>é€</p>", b"<p>\xe9&#8364;</p>",
            id="latin-1: encoded, unencodable as reference",
        ),
        pytest.param(
            'text/html; charset="windows-1252"', "<p>€</p>", b"<p>\x80</p>", id="quoted cp1252"
        ),
        pytest.param(
            "text/html; charset=latin-1", "é".encode(), "é".encode(), id="bytes snippet as is"
        ),
        pytest.param("application/xhtml+xml", "<hr/>", b"<hr/>", id="xhtml"),
    ],
)  # fmt: skip
def test_inject_keeps_the_declared_charset(
    content_type: str, snippet: str | bytes, inserted: bytes
) -> None:
    app = text_app(b"<p>x</p></body>", content_type=content_type)
    response = testapp(app, partial(InjectHTML, snippet=snippet)).get("/")
    assert response.body == b"<p>x</p>" + inserted + b"</body>"
    assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize("charset", ["utf-16", "utf-32-le", "cp500", "x-no-such-charset"])
def test_inject_leaves_unsearchable_charsets_alone(
    charset: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Passed through as the app sent it (its own iterable: not buffered),
    with one warning per charset, not one per response."""
    body = "<p>x</p></body>".encode("utf-16") if charset == "utf-16" else b"<p>x</p></body>"
    app = text_app(body, content_type=f"text/html; charset={charset}", headers=[("ETag", '"e"')])
    with caplog.at_level(logging.WARNING, logger="wsgikit.rewrite"):
        calls, sent, _ = run_wsgi(linted(app, partial(InjectHTML, snippet=SNIPPET)))
        assert b"".join(sent) == body
        assert header_value(calls[-1][1], "ETag") == '"e"'
        own = [body]

        def returning_own(environ: Any, start_response: Any) -> Any:
            app(environ, start_response)
            return own

        middleware = InjectHTML(returning_own, SNIPPET)
        results = [run_wsgi(middleware)[2] for _ in range(2)]
    assert all(result is own for result in results)
    assert [charset in record.getMessage() for record in caplog.records] == [True, True]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/json", "text/css", "image/svg+xml"]
)
def test_inject_ignores_other_types(content_type: str) -> None:
    app = text_app(b"</body>", content_type=content_type)
    response = testapp(app, partial(InjectHTML, snippet=SNIPPET)).get("/")
    assert response.body == b"</body>"


def test_inject_weakens_etag_and_drops_content_md5() -> None:
    app = text_app(HTML, content_type="text/html", headers=[("ETag", '"v"'), ("Content-MD5", "x")])
    response = testapp(app, partial(InjectHTML, snippet=SNIPPET)).get("/")
    assert response.headers["ETag"] == 'W/"v"'
    assert "Content-MD5" not in response.headers


def test_inject_overflow_passes_through(caplog: pytest.LogCaptureFixture) -> None:
    chunks = [b"<p>" + b"x" * 40, b"</p></body>"]
    with caplog.at_level(logging.WARNING, logger="wsgikit.rewrite"):
        response = testapp(lazy_app(chunks), partial(InjectHTML, snippet=SNIPPET, buffer_limit=20))
        body = response.get("/").body
    assert body == b"".join(chunks)
    assert "buffer_limit=20" in caplog.text


@pytest.mark.parametrize(
    ("path", "status", "injected"),
    [
        pytest.param("/", 200, True, id="page"),
        pytest.param("/json", 200, False, id="json untouched"),
        pytest.param("/missing", 404, None, id="404 page if HTML"),
    ],
)
def test_inject_into_framework_apps(
    framework_app: WSGIApplication, path: str, status: int, injected: bool | None
) -> None:
    bare = testapp(framework_app).get(path, status=status)
    response = testapp(framework_app, partial(InjectHTML, snippet=SNIPPET)).get(path, status=status)
    assert response.headers["Content-Length"] == str(len(response.body))
    if injected is None:
        injected = bare.content_type in ("text/html", "application/xhtml+xml")
    if injected:
        assert response.body.count(SNIPPET.encode()) == 1
        assert response.body.replace(SNIPPET.encode(), b"", 1) == bare.body
        if b"</body>" in bare.body.lower():
            assert SNIPPET.encode() + b"</body>" in response.body
    else:
        assert response.body == bare.body


def test_inject_into_framework_head_request(framework_app: WSGIApplication) -> None:
    layer = partial(InjectHTML, snippet=SNIPPET)
    response = testapp(framework_app, layer).head("/")
    get = testapp(framework_app, layer).get("/")
    assert SNIPPET.encode() in get.body  # the GET was injected into
    assert response.body == b""
    assert "Content-Length" not in response.headers
    assert response.headers.get("ETag") == get.headers.get("ETag")
    assert response.headers["Content-Type"] == get.headers["Content-Type"]


# --- with Compress ---------------------------------------------------------------------------


def test_inject_inside_compress_injects_then_compresses() -> None:
    import gzip

    from wsgikit.rewrite import Compress

    body = b"<html><body>" + b"<p>compressible</p>" * 200 + b"</body></html>"
    app = text_app(body, content_type="text/html; charset=utf-8")
    stack = linted(app, Compress, partial(InjectHTML, snippet=SNIPPET))
    calls, sent, _ = run_wsgi(stack, {"HTTP_ACCEPT_ENCODING": "gzip"})
    headers = calls[-1][1]
    assert header_value(headers, "Content-Encoding") == "gzip"
    assert gzip.decompress(b"".join(sent)) == body.replace(
        b"</body>", SNIPPET.encode() + b"</body>"
    )


def test_inject_outside_compress_leaves_the_gzip_body_alone() -> None:
    from wsgikit.rewrite import Compress

    body = b"<html><body>" + b"<p>compressible</p>" * 200 + b"</body></html>"
    app = text_app(body, content_type="text/html; charset=utf-8")
    bare = run_wsgi(linted(app, Compress), {"HTTP_ACCEPT_ENCODING": "gzip"})
    calls, sent, _ = run_wsgi(
        linted(app, partial(InjectHTML, snippet=SNIPPET), Compress),
        {"HTTP_ACCEPT_ENCODING": "gzip"},
    )
    assert header_value(calls[-1][1], "Content-Encoding") == "gzip"
    assert b"".join(sent) == b"".join(bare[1])


def last_marker(body: bytes, marker: bytes) -> int:
    """Oracle: start of the last (possibly overlapping) case-insensitive match, or -1."""
    starts = [m.start() for m in re.finditer(b"(?=" + re.escape(marker) + b")", body, re.I)]
    return starts[-1] if starts else -1


ascii_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.binary(max_size=30), max_size=5),
    marker=ascii_text.filter(bool),
    snippet=st.binary(min_size=1, max_size=20),
    case=st.sampled_from([str.upper, str.lower, str.title, lambda s: s]),
)
def test_inject_keeps_every_byte_and_adds_snippet_once(
    parts: list[bytes], marker: str, snippet: bytes, case: Callable[[str], str]
) -> None:
    # Sprinkle the marker (in some letter case) between random bytes.
    body = case(marker).encode().join(parts)
    app = text_app(body, content_type="text/html")
    calls, sent, _ = run_wsgi(linted(app, partial(InjectHTML, snippet=snippet, marker=marker)))
    result = b"".join(sent)
    position = last_marker(body, marker.encode())
    if position < 0:
        position = len(body)
    assert result == body[:position] + snippet + body[position:]
    assert header_value(calls[-1][1], "Content-Length") == str(len(result))


@pytest.mark.parametrize(
    "offset_from_end",
    [0, 6, 7, 1023, 1024, 1030, 1031, 1032, 4 * 1031, 4 * 1031 + 3, 16 * 1031 + 1, 30000],
)
@pytest.mark.parametrize("second", [False, True])
def test_inject_finds_the_marker_far_from_the_end(offset_from_end: int, second: bool) -> None:
    """The marker is found wherever it sits, also across the search windows."""
    tail = b"y" * offset_from_end
    head = b"x" * 500 + (b"</body>" if second else b"") + b"x" * 40000
    body = head + b"</BoDy>" + tail
    app = text_app(body, content_type="text/html")
    _, sent, _ = run_wsgi(linted(app, partial(InjectHTML, snippet=b"<S>")))
    assert b"".join(sent) == head + b"<S></BoDy>" + tail


@settings(max_examples=40, deadline=None)
@given(
    before=st.integers(min_value=0, max_value=9000),
    after=st.integers(min_value=0, max_value=9000),
    markers=st.integers(min_value=0, max_value=2),
)
def test_inject_on_large_bodies_matches_the_oracle(before: int, after: int, markers: int) -> None:
    body = b"a" * before + b"</BODY>" * markers + b"<" * after
    _, sent, _ = run_wsgi(InjectHTML(text_app(body, content_type="text/html"), b"!"))
    position = last_marker(body, b"</body>")
    position = len(body) if position < 0 else position
    assert b"".join(sent) == body[:position] + b"!" + body[position:]


# --- end to end through waitress ------------------------------------------------------------


def test_inject_html_through_a_real_server(serve: Callable[..., Any]) -> None:
    server = serve("e2e_rewrite_apps:injected")
    with server.get("/") as response:
        body = response.read()
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == len(body)
    assert body.count(b"<!-- injected -->") == 1
    assert body.endswith(b"<!-- injected --></body></html>\n")
    with server.get("/plain") as response:
        assert response.read() == b"plain </body> text\n"
