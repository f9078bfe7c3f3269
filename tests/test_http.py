"""The small shared HTTP jobs: log escaping and the is-this-body-transformable test."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgikit._http import LOG_CHARS, log_safe, transformable

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
        pytest.param("200 OK", [("Content-Encoding", "gzip")], False, id="gzip"),
        pytest.param(
            "200 OK", [("Content-Encoding", "gzip, identity")], False, id="gzip, identity"
        ),
        pytest.param(
            "200 OK",
            [("Content-Encoding", "gzip"), ("Content-Encoding", "identity")],
            False,
            id="gzip then identity in two headers",
        ),
        pytest.param("200 OK", [("Content-Encoding", "identity,\tbr")], False, id="identity, br"),
        pytest.param(
            "200 OK", [("Content-Encoding", "identity, identity")], False, id="identity twice"
        ),
        pytest.param("200 OK", [("Content-Encoding", "x-custom")], False, id="unknown coding"),
        pytest.param("200 OK", [("Cache-Control", "No-Transform")], False, id="no-transform"),
        pytest.param(
            "200 OK",
            [("Cache-Control", "public"), ("Cache-Control", "no-transform")],
            False,
            id="no-transform in a second header",
        ),
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
