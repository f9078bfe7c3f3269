"""RequestID: an ID per request, from a trusted header or generated, echoed."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from functools import partial
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from helpers import (
    REQUEST_IDS,
    echo_environ_app,
    exc_info_app,
    lazy_app,
    raising_app,
    run_wsgi,
    testapp,
    text_app,
    write_app,
)
from hypothesis import given
from hypothesis import strategies as st

from wsgikit import JSONErrors, RequestID
from wsgikit._http import REQUEST_ID
from wsgikit.request_id import new_request_id

GENERATED = REQUEST_ID  # what a default ID must look like, at the least


def test_generated_id_is_in_environ_and_response() -> None:
    response = testapp(echo_environ_app, RequestID).get("/")
    request_id = response.json["wsgikit.request_id"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert response.headers["X-Request-ID"] == request_id


def test_each_request_gets_a_new_id() -> None:
    app = testapp(echo_environ_app, RequestID)
    seen = {app.get("/").headers["X-Request-ID"] for _ in range(50)}
    assert len(seen) == 50


@pytest.mark.parametrize(("incoming", "kept"), REQUEST_IDS)
def test_incoming_id_is_trusted_only_when_it_looks_like_one(incoming: str, kept: bool) -> None:
    response = testapp(echo_environ_app, RequestID).get(
        "/", headers={"X-Request-ID": incoming.encode("utf-8").decode("latin-1")}
    )
    request_id = response.json["wsgikit.request_id"]
    assert (request_id == incoming) is kept
    assert response.headers["X-Request-ID"] == request_id
    assert REQUEST_ID.fullmatch(request_id)


def test_invalid_incoming_id_is_logged_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="wsgikit.request_id"):
        testapp(echo_environ_app, RequestID).get("/", headers={"X-Request-ID": "bad\x01id"})
    assert "invalid request ID (6 characters)" in caplog.text
    assert "bad" not in caplog.text


def test_incoming_id_is_ignored_when_not_trusted() -> None:
    response = testapp(echo_environ_app, partial(RequestID, trust_incoming=False)).get(
        "/", headers={"X-Request-ID": "chosen-by-client"}
    )
    assert response.json["wsgikit.request_id"] != "chosen-by-client"
    assert response.headers["X-Request-ID"] == response.json["wsgikit.request_id"]


def test_header_name_is_configurable() -> None:
    response = testapp(echo_environ_app, partial(RequestID, header="X-Correlation-ID")).get(
        "/", headers={"X-Correlation-ID": "corr-1", "X-Request-ID": "other"}
    )
    assert response.json["wsgikit.request_id"] == "corr-1"
    assert response.headers["X-Correlation-ID"] == "corr-1"
    assert "X-Request-ID" not in response.headers


def test_custom_generator() -> None:
    counter = iter(range(1, 100))
    app = testapp(
        echo_environ_app, partial(RequestID, generator=lambda: f"n{next(counter)}")
    )  # __init__ calls it once to check it
    assert app.get("/").headers["X-Request-ID"] == "n2"
    assert app.get("/").headers["X-Request-ID"] == "n3"


@pytest.mark.parametrize(
    "outputs",
    [
        pytest.param(["ok", "bad\r\nSet-Cookie: x=1"], id="header injection"),
        pytest.param(["ok", ""], id="empty"),
        pytest.param(["ok", None], id="not a str"),
        pytest.param(["ok", RuntimeError("generator down")], id="raises"),
    ],
)
def test_unsafe_generated_id_is_replaced_and_logged(
    outputs: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    queue = list(outputs)

    def generator() -> str:
        value = queue.pop(0)
        if isinstance(value, Exception):
            raise value
        return value  # type: ignore[return-value]

    with caplog.at_level(logging.INFO, logger="wsgikit.request_id"):
        response = testapp(echo_environ_app, partial(RequestID, generator=generator)).get("/")
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert "generated a default ID" in caplog.text


def test_app_set_header_is_kept() -> None:
    app = text_app(headers=[("x-request-id", "from-app")])
    response = testapp(app, RequestID).get("/", headers={"X-Request-ID": "incoming"})
    assert response.headers.getall("X-Request-ID") == ["from-app"]


@pytest.mark.parametrize(
    "app",
    [
        pytest.param(text_app(), id="list"),
        pytest.param(lazy_app(), id="lazy generator"),
        pytest.param(write_app(), id="write()"),
        pytest.param(exc_info_app(), id="exc_info replacement"),
    ],
)
def test_id_is_echoed_on_every_kind_of_response(app: object) -> None:
    calls, body, _ = run_wsgi(RequestID(app), {"HTTP_X_REQUEST_ID": "r-1"})  # type: ignore[arg-type]
    assert ("X-Request-ID", "r-1") in calls[-1][1]
    assert b"".join(body)


def test_error_responses_carry_the_id_in_problem_json() -> None:
    """JSONErrors inside RequestID echoes the ID RequestID chose, even a generated one."""
    response = testapp(raising_app, RequestID, JSONErrors).get("/", status=500, expect_errors=True)
    assert response.json["request_id"] == response.headers["X-Request-ID"]
    response = testapp(text_app(status="404 Not Found"), RequestID, JSONErrors).get(
        "/", status=404, headers={"X-Request-ID": "bad id"}
    )
    assert response.json["request_id"] == response.headers["X-Request-ID"] != "bad id"


def test_file_wrapper_response_reaches_the_server_unwrapped() -> None:
    class Wrapper:
        def __init__(self, filelike: object, block_size: int = 8192) -> None:
            self.filelike = filelike

        def __iter__(self) -> Iterable[bytes]:
            return iter([b"file"])

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](None)  # type: ignore[no-any-return]

    calls, body, result = run_wsgi(RequestID(app), {"wsgi.file_wrapper": Wrapper})
    assert type(result) is Wrapper
    assert body == [b"file"]


def test_new_request_id_is_128_random_bits_in_hex() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and GENERATED.fullmatch(i) and int(i, 16) >= 0 for i in ids)


@given(st.text(max_size=200))
def test_any_incoming_value_gives_a_safe_id(value: str) -> None:
    environ_value = value.encode("utf-8", "surrogatepass").decode("latin-1")
    calls, body, _ = run_wsgi(RequestID(echo_environ_app), {"HTTP_X_REQUEST_ID": environ_value})
    request_id = json.loads(b"".join(body))["wsgikit.request_id"]
    assert REQUEST_ID.fullmatch(request_id)
    assert (request_id == environ_value) == bool(REQUEST_ID.fullmatch(environ_value))
    assert dict(calls[-1][1])["X-Request-ID"] == request_id
