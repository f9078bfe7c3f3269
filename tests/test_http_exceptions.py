"""JSONErrors and HTTP exceptions (wsgikit._http_exceptions): which exceptions
keep their status, description and headers, and those that make their own
response (redirects, 304)."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest
from helpers import (
    SECRET,
    call,
    flask_demo,
    header_values,
    linted,
    problem,
    raising,
    run_wsgi,
    testapp,
)

from wsgikit.errors import DETAILS, JSONErrors

# --- which exceptions keep their status -------------------------------------------


def test_flask_http_exception_headers_survive() -> None:
    import flask
    from werkzeug.exceptions import TooManyRequests

    app = flask.Flask("errors_abort")

    @app.route("/limited")
    def limited() -> str:
        raise TooManyRequests("Slow down.", retry_after=7)

    response = testapp(app, JSONErrors).get("/limited", status=429)
    assert response.json["detail"] == "Slow down."
    assert response.headers["Retry-After"] == "7"


def _item_missing() -> type[Exception]:
    from werkzeug.exceptions import NotFound

    class ItemMissing(NotFound):
        description = "No such item."

    return ItemMissing


ItemMissing = _item_missing()


def _werkzeug_cases() -> list[Any]:
    from werkzeug import exceptions as wz
    from werkzeug.datastructures import WWWAuthenticate

    return [
        pytest.param(wz.NotFound("Nope."), 404, "Nope.", {}, id="werkzeug NotFound"),
        pytest.param(
            wz.MethodNotAllowed(["GET", "HEAD"]), 405, None, {"Allow": "GET, HEAD"}, id="405"
        ),
        pytest.param(
            wz.Unauthorized(www_authenticate=WWWAuthenticate("basic", {"realm": "r"})),
            401,
            None,
            {"WWW-Authenticate": "Basic realm=r"},
            id="werkzeug 401",
        ),
        pytest.param(
            wz.ServiceUnavailable(retry_after=30),
            503,
            DETAILS[503],
            {"Retry-After": "30"},
            id="503 (5xx: our text)",
        ),
        pytest.param(wz.InternalServerError(SECRET), 500, DETAILS[500], {}, id="werkzeug 500"),
        pytest.param(ItemMissing(), 404, "No such item.", {}, id="werkzeug subclass"),
    ]


def _webob_cases() -> list[Any]:
    from pyramid import httpexceptions as px
    from webob import exc as wx

    return [
        pytest.param(wx.HTTPNotFound(detail="Nope."), 404, "Nope.", {}, id="webob 404"),
        pytest.param(wx.HTTPForbidden(), 403, None, {}, id="webob 403"),
        pytest.param(
            wx.HTTPMethodNotAllowed(headers={"Allow": "GET"}),
            405,
            None,
            {"Allow": "GET"},
            id="w405",
        ),
        pytest.param(px.HTTPConflict("Taken."), 409, "Taken.", {}, id="pyramid 409"),
        pytest.param(wx.HTTPServiceUnavailable(detail=SECRET), 503, DETAILS[503], {}, id="w503"),
        pytest.param(px.HTTPBadGateway(SECRET), 502, DETAILS[502], {}, id="pyramid 502"),
    ]


def _bottle_cases() -> list[Any]:
    import bottle

    return [
        pytest.param(bottle.HTTPError(404, "Nope."), 404, "Nope.", {}, id="bottle 404"),
        pytest.param(
            bottle.HTTPError(401, "Who?", WWW_Authenticate="Basic"),
            401,
            "Who?",
            {"WWW-Authenticate": "Basic"},
            id="bottle 401",
        ),
        pytest.param(bottle.HTTPError(500, SECRET), 500, DETAILS[500], {}, id="bottle 500"),
    ]


class Conflict(Exception):
    code = 409
    description = "Already there."


class Unprocessable(Exception):
    status_code = 422


class OddCode(Exception):
    code = 200


class BoolCode(Exception):
    code = True


class ApiError(Exception):
    """Shaped like an HTTP client library's error for a failed outbound call."""

    status_code = 500
    body = f"internal: key={SECRET}"


class HTTPException(Exception):  # noqa: N818  # an impostor: the name, not the package
    code = 404
    description = SECRET


@pytest.mark.parametrize(
    ("exc", "code", "detail", "headers"),
    [*_werkzeug_cases(), *_webob_cases(), *_bottle_cases()],
)
def test_framework_exceptions_keep_their_status_and_description(
    exc: Exception, code: int, detail: str | None, headers: dict[str, str]
) -> None:
    """``detail`` None: the framework's default text, whatever its version says.
    A 5xx never lends its text."""
    status, got_headers, body = call(JSONErrors(raising(exc)))
    data = problem(got_headers, body)
    assert int(status[:3]) == data["status"] == code
    if detail is not None:
        assert data["detail"] == detail
    else:
        assert data["detail"] and data["detail"] != DETAILS[code]
    assert "<" not in data["detail"]
    assert SECRET not in body.decode()
    for name, value in headers.items():
        assert header_values(got_headers, name) == [value]


def _outbound_401() -> Exception:
    import urllib.error

    return urllib.error.HTTPError("https://api.example/x", 401, "Unauthorized", None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "duck_code", "duck_detail"),
    [
        pytest.param(Conflict(SECRET), 409, "Already there.", id="int code + description"),
        pytest.param(Unprocessable(SECRET), 422, DETAILS[422], id="int status_code"),
        pytest.param(_outbound_401(), 401, DETAILS[401], id="urllib HTTPError(401)"),
        pytest.param(ApiError(SECRET), 500, DETAILS[500], id="client library 500 with body"),
        pytest.param(HTTPException(SECRET), 404, SECRET, id="framework name, other package"),
        pytest.param(OddCode(SECRET), 500, DETAILS[500], id="code outside 400-599"),
        pytest.param(BoolCode(SECRET), 500, DETAILS[500], id="bool code"),
    ],
)
def test_other_exceptions_with_a_status_are_500s_unless_duck_typing(
    exc: Exception, duck_code: int, duck_detail: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the frameworks' HTTP exceptions are believed by default: an
    ``HTTPError(401)`` from the app's own outbound call is the app's failure."""
    with caplog.at_level(logging.INFO, "wsgikit.errors"):
        status, headers, body = call(JSONErrors(raising(exc)))
    assert status.startswith("500")
    assert problem(headers, body)["detail"] == DETAILS[500]
    assert SECRET not in body.decode()
    assert [(r.levelname, r.exc_info is not None) for r in caplog.records] == [("ERROR", True)]
    status, headers, body = call(JSONErrors(raising(exc), duck_typing=True))
    data = problem(headers, body)
    assert int(status[:3]) == data["status"] == duck_code
    assert data["detail"] == duck_detail


def test_telling_framework_exceptions_apart_imports_no_framework() -> None:
    """Recognising werkzeug/WebOb/Pyramid/Bottle exceptions by name imports none."""
    import subprocess
    import sys

    script = textwrap.dedent(
        """
        import sys, urllib.error
        from wsgiref.util import setup_testing_defaults
        from wsgikit.errors import JSONErrors

        def app(environ, start_response):
            raise urllib.error.HTTPError("https://x/", 401, "Unauthorized", None, None)

        environ = {}
        setup_testing_defaults(environ)
        statuses = []
        JSONErrors(app)(environ, lambda status, headers, exc_info=None: statuses.append(status))
        frameworks = {"flask", "bottle", "webob", "pyramid", "django"} & set(sys.modules)
        print(statuses[0][:3], sorted(frameworks))
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert child.stdout.split() == ["500", "[]"]


def test_exception_text_never_reaches_a_5xx_body_unless_debug() -> None:
    for app in (
        JSONErrors(raising(ApiError()), duck_typing=True),
        JSONErrors(raising(ApiError()), exceptions={ApiError: 502}),
    ):
        _, headers, body = call(app)
        assert SECRET not in body.decode()
        assert problem(headers, body)["detail"] in (DETAILS[500], DETAILS[502])
    _, headers, body = call(JSONErrors(raising(ApiError(SECRET)), debug=True))
    assert SECRET in problem(headers, body)["detail"]


def test_registered_exceptions_get_their_status() -> None:
    class SlowDB(TimeoutError):
        pass

    app = JSONErrors(raising(SlowDB(SECRET)), exceptions={TimeoutError: 504, Conflict: 410})
    status, headers, body = call(app)
    assert status == "504 Gateway Timeout"
    assert problem(headers, body)["detail"] == DETAILS[504]
    assert SECRET not in body.decode()
    status, _, _ = call(JSONErrors(raising(Conflict()), exceptions={Conflict: 410}))
    assert status == "410 Gone"


# --- HTTP exceptions that make their own response (redirects, 304) ------------------


def _werkzeug_redirect() -> Exception:
    from werkzeug.routing import Map, RequestRedirect, Rule

    urls = Map([Rule("/items/", endpoint="items")])
    try:
        urls.bind("localhost").match("/items")
    except RequestRedirect as exc:
        return exc
    raise AssertionError("werkzeug did not redirect")


def _werkzeug_abort(status: int, body: str, **headers: str) -> Exception:
    from werkzeug.exceptions import HTTPException, abort
    from werkzeug.wrappers import Response

    try:
        abort(Response(body, status, headers=headers, content_type="text/html"))
    except HTTPException as exc:
        return exc
    raise AssertionError("abort did not raise")


def _own_response_cases() -> list[Any]:
    from pyramid import httpexceptions as px
    from webob import exc as wx

    localhost = "http://localhost"
    return [
        pytest.param(_werkzeug_redirect, "308", f"{localhost}/items/", id="werkzeug redirect"),
        pytest.param(
            lambda: _werkzeug_abort(302, "moved", Location="/new"),
            "302",
            "/new",
            id="werkzeug abort(302 response)",
        ),
        # WebOb and Pyramid: two implementations of the same exceptions.
        pytest.param(lambda: wx.HTTPFound(location="/x"), "302", f"{localhost}/x", id="webob 302"),
        pytest.param(lambda: wx.HTTPNotModified(), "304", None, id="webob 304"),
        pytest.param(
            lambda: px.HTTPFound(location="/y"), "302", f"{localhost}/y", id="pyramid 302"
        ),
        pytest.param(lambda: px.HTTPNotModified(), "304", None, id="pyramid 304"),
    ]


@pytest.mark.parametrize(("make", "code", "location"), _own_response_cases())
def test_redirect_exceptions_go_out_untouched(
    make: Callable[[], Exception],
    code: str,
    location: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redirects keep their ``Location`` and their own (non-JSON) body; 304 has none."""
    exc = make()
    with caplog.at_level(logging.DEBUG, "wsgikit.errors"):
        status, headers, body = call(JSONErrors(raising(exc)), PATH_INFO="/items")
    assert status[:3] == code
    assert header_values(headers, "Location") == ([location] if location else [])
    assert b"problem" not in body and not body.startswith(b"{")
    if code == "304":
        assert body == b""
    else:
        assert body and header_values(headers, "Content-Length") == [str(len(body))]
    assert [r.levelname for r in caplog.records] == ["DEBUG"]


def test_own_error_response_of_an_exception_becomes_json() -> None:
    """werkzeug's abort(response) carries no code: its 4xx page is converted."""
    exc = _werkzeug_abort(404, "<html><body><p>No such item.</p></body></html>", **{"X-Item": "7"})
    status, headers, body = call(JSONErrors(raising(exc)))
    assert status.startswith("404")
    data = problem(headers, body)
    assert (data["status"], data["detail"]) == (404, "No such item.")
    assert header_values(headers, "X-Item") == ["7"]


def test_head_of_a_redirect_exception() -> None:
    from webob import exc as wx

    status, headers, body = call(
        JSONErrors(raising(wx.HTTPFound(location="/x"))), REQUEST_METHOD="HEAD"
    )
    assert status.startswith("302") and body == b""
    assert header_values(headers, "Location") == ["http://localhost/x"]


def test_redirect_after_start_response_replaces_it_with_exc_info() -> None:
    from webob import exc as wx

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise wx.HTTPFound(location="/login")
        yield b""

    calls, chunks, _ = run_wsgi(linted(JSONErrors(app)))
    assert [status for status, _ in calls] == ["200 OK", "302 Found"]
    assert header_values(calls[-1][1], "Location") == ["http://localhost/login"]
    assert b"/login" in b"".join(chunks)


def test_redirect_through_the_werkzeug_test_client() -> None:
    from werkzeug.test import Client

    response = Client(JSONErrors(raising(_werkzeug_redirect()))).get("/items")
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/items/"


def test_registered_class_wins_over_an_own_response() -> None:
    from webob import exc as wx

    app = JSONErrors(raising(wx.HTTPFound(location="/x")), exceptions={wx.HTTPFound: 409})
    status, headers, body = call(app)
    assert status.startswith("409") and problem(headers, body)["status"] == 409


class BrokenRedirect(Exception):
    code = 302

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        raise RuntimeError(SECRET)


class NotAnApp(Exception):
    code = 302


class Redirecting(Exception):
    """Not a framework's: callable, with a 3xx code, but believed only with duck typing."""

    code = 302

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response(
            "302 Found",
            [("Location", "/elsewhere"), ("Content-Type", "text/plain"), ("Content-Length", "0")],
        )
        return []


def test_own_response_of_other_exceptions_needs_duck_typing() -> None:
    status, headers, body = call(JSONErrors(raising(Redirecting())))
    assert status.startswith("500") and problem(headers, body)["status"] == 500
    status, headers, body = call(JSONErrors(raising(Redirecting()), duck_typing=True))
    assert status.startswith("302") and header_values(headers, "Location") == ["/elsewhere"]


@pytest.mark.parametrize("duck_typing", [False, True])
@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(BrokenRedirect(), id="its response fails"),
        pytest.param(NotAnApp(), id="3xx code but no response"),
    ],
)
def test_redirect_like_exceptions_without_a_response_are_500s(
    exc: Exception, duck_typing: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "wsgikit.errors"):
        status, headers, body = call(JSONErrors(raising(exc), duck_typing=duck_typing))
    assert status.startswith("500") and problem(headers, body)["status"] == 500
    assert SECRET not in body.decode()
    assert [r.levelname for r in caplog.records] == ["ERROR"]


def test_framework_redirects_pass_through() -> None:
    client = testapp(flask_demo("wsgikit_test_redirects"), JSONErrors)
    response = client.get("/items", status=308)
    assert response.headers["Location"].endswith("/items/")
    response = client.get("/go", status=302)
    assert response.headers["Location"] == "/items/"


def test_pyramid_redirect_and_not_modified_views_pass_through() -> None:
    from pyramid.config import Configurator
    from pyramid.httpexceptions import HTTPNotModified, HTTPSeeOther

    def moved(request: Any) -> Any:
        raise HTTPSeeOther(location="/new")

    def unchanged(request: Any) -> Any:
        raise HTTPNotModified()

    with Configurator() as config:
        config.add_route("moved", "/moved")
        config.add_view(moved, route_name="moved")
        config.add_route("unchanged", "/unchanged")
        config.add_view(unchanged, route_name="unchanged")
        app = config.make_wsgi_app()

    client = testapp(app, JSONErrors)
    response = client.get("/moved", status=303)
    assert response.headers["Location"] == "http://localhost/new"
    response = client.get("/unchanged", status=304)
    assert response.body == b""
