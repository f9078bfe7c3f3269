"""The small shared HTTP jobs: status and header helpers, media type patterns, log
escaping and the is-this-body-transformable test."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from helpers import MEDIA_TYPE_SELECTION, NOT_TRANSFORMABLE, call, text_app, vary_cases
from hypothesis import given
from hypothesis import strategies as st

from wsgikit import BodyRewriter, Compress, InjectHTML
from wsgikit._http import (
    LOG_CHARS,
    Headers,
    MediaMatcher,
    body_forbidden,
    get_header,
    log_safe,
    media_patterns,
    media_type,
    select_by_type,
    status_code,
    transformable,
    transformed_headers,
    with_vary,
    without_headers,
)

# --- log_safe -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/plain/path", "/plain/path", id="printable text unchanged"),
        pytest.param("/a\nINFO forged", "/a\\nINFO forged", id="LF"),
        pytest.param("/a\r\nx", "/a\\r\\nx", id="CRLF"),
        pytest.param("\x1b[31mred", "\\x1b[31mred", id="terminal escape"),
        pytest.param("a\\nb", "a\\\\nb", id="a literal backslash cannot fake an escape"),
        pytest.param("caf\u00e9 \u2028", "caf\\xc3\\xa9 \\xe2\\x80\\xa8", id="UTF-8 bytes"),
        pytest.param('it\'s "q"', 'it\'s \\"q\\"', id="double quotes escaped"),
        pytest.param(42, "42", id="not a str"),
    ],
)
def test_log_safe_escapes_what_could_forge_a_line(value: object, expected: str) -> None:
    assert log_safe(value) == expected


def test_log_safe_caps_the_length() -> None:
    assert log_safe("x" * 1000) == "x" * LOG_CHARS + "..."
    assert log_safe("\n" * 1000, limit=3) == "\\n\\n\\n..."


@given(st.text())
def test_log_safe_output_is_one_printable_line(text: str) -> None:
    shown = log_safe(text)
    assert shown.isprintable()
    assert len(logging.makeLogRecord({"msg": shown}).getMessage().splitlines()) <= 1


# --- transformable ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        pytest.param("200 OK", [], True, id="plain"),
        pytest.param("500 Oops", [], True, id="error page"),
        pytest.param("200 OK", [("Content-Encoding", "identity")], True, id="identity"),
        pytest.param("200 OK", [("content-encoding", " IDENTITY ")], True, id="identity, any case"),
        pytest.param("200 OK", [("Content-Encoding", "")], True, id="empty coding list"),
        pytest.param("200 OK", [("Content-Encoding", "identity,\tbr")], False, id="tab is OWS"),
        pytest.param("200 OK", [("Cache-Control", "no-cache")], True, id="other directives"),
        pytest.param("206 Partial Content", [], False, id="206"),
        pytest.param("204 No Content", [], False, id="204"),
        pytest.param("304 Not Modified", [], False, id="304"),
        pytest.param("103 Early Hints", [], False, id="1xx"),
        pytest.param("600 Odd", [], False, id="not an HTTP status"),
    ],
)
def test_transformable(status: str, headers: list[tuple[str, str]], expected: bool) -> None:
    assert (transformable(status, headers) is not None) is expected


@pytest.mark.parametrize("headers", NOT_TRANSFORMABLE)
def test_codings_and_no_transform_forbid_transforming(headers: list[tuple[str, str]]) -> None:
    assert transformable("200 OK", headers) is None


@given(st.lists(st.text(alphabet="gzipdentyb ,\t", max_size=20), max_size=3))
def test_only_a_lone_identity_counts_as_not_encoded(values: list[str]) -> None:
    headers = [("Content-Encoding", value) for value in values]
    codings = [t.strip().lower() for value in values for t in value.split(",") if t.strip()]
    assert (transformable("200 OK", headers) is not None) is (codings in ([], ["identity"]))


@pytest.mark.parametrize(
    ("headers", "facts"),
    [
        pytest.param([], (None, False), id="neither"),
        pytest.param([("content-length", "12"), ("VARY", "Cookie")], ("12", True), id="both"),
    ],
)
def test_transformable_also_reports_length_and_vary(
    headers: list[tuple[str, str]], facts: tuple[str | None, bool]
) -> None:
    assert transformable("200 OK", [("Content-Type", "text/html"), *headers]) == facts


# --- status and header helpers -------------------------------------------------------


def test_status_code_reads_the_number_and_tolerates_garbage() -> None:
    assert status_code("404 Not Found") == 404
    assert status_code("garbage") == 0


@pytest.mark.parametrize(
    ("code", "forbidden"),
    [(100, True), (101, True), (200, False), (204, True), (304, True), (404, False)],
)
def test_body_forbidden(code: int, forbidden: bool) -> None:
    assert body_forbidden(code) is forbidden


def test_header_helpers_are_case_insensitive_and_copy() -> None:
    headers = [("Content-Type", "Text/HTML; charset=UTF-8"), ("content-length", "3"), ("X-A", "1")]
    original = list(headers)
    assert get_header(headers, "CONTENT-TYPE") == "Text/HTML; charset=UTF-8"
    assert get_header(headers, "missing") is None
    assert media_type(headers) == "text/html"
    assert media_type([]) == ""
    assert without_headers(headers, "Content-Length", "x-a") == [original[0]]
    assert headers == original


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([], [("Vary", "Cookie")], id="no Vary"),
        pytest.param([("Vary", "Accept")], [("Vary", "Accept, Cookie")], id="merged"),
        pytest.param(
            [("vary", "Accept"), ("X-A", "1"), ("Vary", "Origin")],
            [("vary", "Accept, Origin, Cookie"), ("X-A", "1")],
            id="several Vary headers become one",
        ),
        pytest.param([("Vary", "accept, COOKIE")], None, id="already named"),
        pytest.param([("Vary", "*")], None, id="star"),
    ],
)
def test_with_vary(headers: Headers, expected: Headers | None) -> None:
    snapshot = list(headers)
    result = with_vary(headers, "Cookie")
    if expected is None:
        assert result is headers
    else:
        assert result == expected
    assert headers == snapshot


@pytest.mark.parametrize(
    ("field", "vary", "expected"),
    [
        pytest.param(field, *case.values, id=f"{field}: {case.id}")
        for field in ("Cookie", "Accept-Encoding", "Origin")
        for case in vary_cases(field)
    ],
)
def test_with_vary_values(field: str, vary: list[str], expected: list[str]) -> None:
    headers = [("Content-Type", "text/html"), *[("Vary", value) for value in vary]]
    assert [value for key, value in with_vary(headers, field) if key == "Vary"] == expected


# --- media type patterns: one contract for every content_types option ---------------

# Every middleware with a media type option, built with that option set to ``value``.
MEDIA_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "Compress.content_types": lambda value: Compress(text_app(), content_types=value),
    "Compress.flush_types": lambda value: Compress(text_app(), flush_types=value),
    "BodyRewriter.content_types": lambda value: BodyRewriter(
        text_app(), bytes.upper, content_types=value
    ),
    "InjectHTML.content_types": lambda value: InjectHTML(text_app(), "x", content_types=value),
}


@pytest.mark.parametrize("option", MEDIA_OPTIONS)
@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        pytest.param(("text/html",), ("text/html",), id="exact"),
        pytest.param(["Text/*", " IMAGE/SVG+XML "], ("text/*", "image/svg+xml"), id="normalised"),
        pytest.param(("*/*",), ("*/*",), id="any type"),
        pytest.param(("+json",), ("+json",), id="suffix"),
        pytest.param("text/html", ("text/html",), id="one string, one pattern"),
        pytest.param("text/html, +json\n*/*", ("text/html", "+json", "*/*"), id="one string"),
        pytest.param(dict.fromkeys(["a/vnd.x+json"]), ("a/vnd.x+json",), id="iterable"),
    ],
)
def test_media_type_options_accept_the_same_values(
    option: str, value: Any, patterns: tuple[str, ...]
) -> None:
    assert media_patterns("content_types", value) == patterns
    middleware = MEDIA_OPTIONS[option](value)
    assert getattr(middleware, option.partition(".")[2]) == patterns


@pytest.mark.parametrize("option", MEDIA_OPTIONS)
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        pytest.param(("text",), ValueError, ": 'text' is not a media type pattern", id="no slash"),
        pytest.param(("*/html",), ValueError, r": '\*/html' is not a media", id="star type"),
        pytest.param(("text/ html",), ValueError, ": 'text/ html' is not a media", id="space"),
        pytest.param(("text/html;q=1",), ValueError, ": 'text/html;q=1' is not", id="parameter"),
        pytest.param(("+",), ValueError, r": '\+' is not a media type pattern", id="empty suffix"),
        pytest.param(("",), ValueError, ": '' is not a media type pattern", id="empty item"),
        pytest.param(5, TypeError, r": must be media type patterns \(.*\), not int", id="int"),
        pytest.param(b"text/html", TypeError, r": must be media .*, not bytes", id="bytes"),
        pytest.param([b"text/html"], TypeError, ": b'text/html' is not a str", id="bytes item"),
    ],
)
def test_media_type_options_refuse_the_same_values(
    option: str, value: Any, error: type[Exception], message: str
) -> None:
    name = option.partition(".")[2]
    with pytest.raises(error, match=f"^{name}{message}"):
        MEDIA_OPTIONS[option](value)


@pytest.mark.parametrize("option", [name for name in MEDIA_OPTIONS if "flush" not in name])
@pytest.mark.parametrize("value", [(), "", " , "])
def test_content_types_needs_a_pattern(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match="^content_types: give at least one media type pattern"):
        MEDIA_OPTIONS[option](value)


def test_flush_types_may_be_empty() -> None:
    assert Compress(text_app(), flush_types=()).flush_types == ()


@pytest.mark.parametrize(("value", "content_type", "matches"), MEDIA_TYPE_SELECTION)
def test_media_matcher(value: Any, content_type: str, matches: bool) -> None:
    assert MediaMatcher(media_patterns("content_types", value))(content_type) is matches


@pytest.mark.parametrize("option", [name for name in MEDIA_OPTIONS if "flush" not in name])
@pytest.mark.parametrize(
    ("value", "content_type", "selected"),
    [
        pytest.param("*/*", "image/png", True, id="any type"),
        pytest.param(("+json",), "application/problem+json", True, id="suffix"),
        pytest.param("text/plain, text/html", "text/html; charset=utf-8", True, id="string"),
        pytest.param(("text/*",), "application/json", False, id="other type"),
    ],
)
def test_every_middleware_selects_the_same_responses(
    option: str, value: Any, content_type: str, selected: bool
) -> None:
    body = b"<p>" + b"compressible text " * 100 + b"</p>"
    app = MEDIA_OPTIONS[option](value)
    app.app = text_app(body, content_type=content_type)
    status, headers, sent = call(app, HTTP_ACCEPT_ENCODING="gzip")
    assert status == "200 OK"
    assert (sent != body) is selected


# Field names as responses spell them (any case, blanks, empty items, "*"),
# plus arbitrary text, so that the fast path meets what the general one did.
VARY_FIELD = st.sampled_from(["Cookie", "cookie", "COOKIE", "Accept-Encoding", "Origin", "*", ""])
VARY_VALUE = st.one_of(
    st.lists(
        st.tuples(st.sampled_from(["", " ", "\t"]), VARY_FIELD, st.sampled_from(["", " "])).map(
            "".join
        ),
        max_size=4,
    ).map(",".join),
    st.text(max_size=20),
)
HEADER_NAME = st.sampled_from(["Vary", "vary", "VARY", "Content-Type", "Varyx", "X-A", "Age"])


@given(
    headers=st.lists(st.tuples(HEADER_NAME, VARY_VALUE), max_size=6),
    field=st.sampled_from(["Cookie", "accept-encoding", "Origin"]),
)
def test_with_vary_fast_path_equals_general_merge(headers: Headers, field: str) -> None:
    # The oracle is with_vary's contract, checked property by property (not a
    # second copy of the merge): the Vary tokens of every Vary header, read
    # with a plain split (field names are tokens, never quoted).
    snapshot = list(headers)
    result = with_vary(headers, field)
    assert headers == snapshot
    vary_at = [index for index, (name, _) in enumerate(headers) if name.lower() == "vary"]
    tokens = [token.strip() for index in vary_at for token in headers[index][1].split(",")]
    if "*" in tokens or field.lower() in {token.lower() for token in tokens}:
        assert result is headers
        return
    assert result is not headers
    # Every other header is kept, in order; the Vary headers become one, in
    # the place (and spelling) of the first, or appended.
    others = [(name, value) for name, value in headers if name.lower() != "vary"]
    assert [(name, value) for name, value in result if name.lower() != "vary"] == others
    merged = ", ".join([*(token for token in tokens if token), field])
    if vary_at:
        position = vary_at[0]
        assert result[position] == (headers[position][0], merged)
        assert len(result) == len(others) + 1
    else:
        assert result == [*headers, ("Vary", merged)]


# --- select_by_type and transformed_headers -------------------------------------------


def _recording_selector() -> tuple[Callable[..., object], list[str], dict[str, int]]:
    """A decide function made by select_by_type, the values it classified and
    its cache: text/* is kind 2, anything else kind 0."""
    classified: list[str] = []
    cache: dict[str, int] = {}

    def kind_of(value: str) -> int:
        classified.append(value)
        return 2 if value.startswith("text/") else 0

    def then(environ: dict[str, Any], status: str, headers: Headers, kind: int) -> object:
        return ("planned", status, kind)

    return select_by_type(kind_of, then, cache), classified, cache


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([("Content-Type", "text/html")], ("planned", "200 OK", 2), id="selected"),
        pytest.param([("content-TYPE", "text/plain")], ("planned", "200 OK", 2), id="any case"),
        pytest.param([("Content-Type", "image/png")], None, id="false kind"),
        pytest.param([("Content-Length", "3")], None, id="no Content-Type"),
        pytest.param([], None, id="no headers"),
        pytest.param(
            [("Content-Type", "image/png"), ("Content-Type", "text/html")], None, id="first counts"
        ),
    ],
)
def test_select_by_type_plans_only_selected_media_types(headers: Headers, expected: object) -> None:
    decide, _, _ = _recording_selector()
    assert decide({}, "200 OK", headers) == expected


def test_select_by_type_classifies_each_value_once_and_bounds_its_cache() -> None:
    decide, classified, cache = _recording_selector()
    for _ in range(3):
        decide({}, "200 OK", [("Content-Type", "text/html")])
        decide({}, "200 OK", [("Content-Type", "image/png")])
    assert classified == ["text/html", "image/png"]
    long_value = "text/html; " + "x" * 300
    decide({}, "200 OK", [("Content-Type", long_value)])
    assert long_value not in cache  # too long to keep
    for index in range(300):
        decide({}, "200 OK", [("Content-Type", f"text/x-{index}")])
    assert len(cache) <= 256


def test_transformed_headers_drops_stale_headers_and_requotes_the_etag(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("wsgikit.test")
    headers = [
        ("Content-Type", "text/html"),
        ("ETag", '"abc"'),
        ("Content-MD5", "x"),
        ("Accept-Ranges", "bytes"),
        ("X-Kept", "1"),
    ]
    stale = frozenset({"content-md5", "accept-ranges"})
    assert transformed_headers(headers, stale, logger, suffix="-gzip") == [
        ("Content-Type", "text/html"),
        ("ETag", '"abc-gzip"'),
        ("X-Kept", "1"),
    ]
    assert transformed_headers(headers, stale, logger, weak=True)[1] == ("ETag", 'W/"abc"')
    with caplog.at_level(logging.DEBUG, logger="wsgikit.test"):
        assert transformed_headers([("ETag", " ")], stale, logger) == []
    assert "cannot be re-quoted" in caplog.text
