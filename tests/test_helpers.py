"""The harness itself: what ``helpers.call`` reports is what happened."""

from __future__ import annotations

from collections.abc import Iterable
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from helpers import Tracked, call, header_value, header_values, text_app, tracked_app, write_app


def test_call_reports_status_headers_and_body() -> None:
    response = call(text_app(b"hi", headers=[("X-A", "1"), ("x-a", "2")]))
    assert (response.status, response.status_code, response.body) == ("200 OK", 200, b"hi")
    assert response.header("X-A") == "1" and response.headers("x-a") == ["1", "2"]
    assert response.header("X-Missing") is None and response.headers("X-Missing") == []
    status, header_list, body = response
    assert (status, body) == ("200 OK", b"hi") and ("x-a", "2") in header_list


@pytest.mark.parametrize("lint", [True, False])
def test_call_counts_closes_of_the_apps_iterable(lint: bool) -> None:
    tracked = Tracked([b"a", b"b"])
    response = call(tracked_app(tracked), lint=lint)
    assert response.body == b"ab"
    assert response.close_count == tracked.closes == 1


def test_call_sees_the_write_callable_and_a_body() -> None:
    assert call(write_app()).body == b"written returned"

    def echo(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    assert call(echo, body=b"posted", CONTENT_LENGTH="6", REQUEST_METHOD="POST").body == b"posted"


def test_header_value_refuses_a_repeated_header() -> None:
    headers = [("Vary", "a"), ("vary", "b")]
    assert header_values(headers, "VARY") == ["a", "b"]
    with pytest.raises(AssertionError, match="Vary appears 2 times"):
        header_value(headers, "Vary")
