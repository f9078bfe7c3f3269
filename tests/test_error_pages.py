"""JSONErrors and error pages (wsgikit._error_pages): the description a page lends,
and the real pages, debug pages and exception settings of Flask, Pyramid, Bottle
and Django."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from functools import partial
from typing import Any
from wsgiref.types import WSGIApplication

import pytest
from helpers import (
    DJANGO_PROJECT,
    ROOT,
    SECRET,
    call,
    header_values,
    problem,
    testapp,
    text_app,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgikit.errors import DETAILS, JSONErrors

# --- the description ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "code", "expected"),
    [
        pytest.param(
            b"<!doctype html><title>404 Not Found</title><h1>Not Found</h1><p>Where?</p>",
            "text/html; charset=utf-8",
            404,
            "Where?",
            id="werkzeug-like page",
        ),
        pytest.param(
            b"<html><head><style>p {x}</style></head><body><p>Sorry <tt>&#039;u&#039;</tt>"
            b"</p><pre>Bad &amp; worse</pre><!-- <p>hidden</p> --></body></html>",
            "text/html",
            400,
            "Bad & worse",
            id="bottle-like page, entities",
        ),
        pytest.param(
            b"404 Not Found\n\nThe resource could not be found.\n\n\nMissing thing.\n\n",
            "text/plain",
            404,
            "Missing thing.",
            id="webob plain page",
        ),
        pytest.param(b"<h1>Error 404: Not Found</h1>", "text/html", 404, DETAILS[404], id="title"),
        pytest.param(b"/the/path", "text/plain", 404, DETAILS[404], id="just the path"),
        pytest.param(b"x" * 400, "text/plain", 404, DETAILS[404], id="too long a paragraph"),
        pytest.param(b"<p>ok</p>" * 600, "text/html", 404, DETAILS[404], id="too big a page"),
        pytest.param(b"<x>gone</x>", "application/xml", 404, DETAILS[404], id="xml"),
        pytest.param(b"caf\xe9", "text/plain; charset=latin-1", 409, "caf\xe9", id="latin-1"),
        pytest.param(b"caf\xc3\xa9", "text/plain; charset=bogus", 409, "caf\xe9", id="bad charset"),
        pytest.param(b"bad\x00\x1b[31m\nline", "text/plain", 400, "bad [31m line", id="control"),
        pytest.param(SECRET.encode(), "text/plain", 503, DETAILS[503], id="5xx text never"),
    ],
)
def test_description_comes_from_small_4xx_pages(
    body: bytes, content_type: str, code: int, expected: str
) -> None:
    app = text_app(body, f"{code} Whatever", content_type)
    _, headers, out = call(JSONErrors(app), PATH_INFO="/the/path")
    assert problem(headers, out)["detail"] == expected


def test_compressed_page_is_not_read_for_a_description() -> None:
    page = gzip.compress(b"<p>compressed words</p>")
    app = text_app(page, "404 Not Found", "text/html", [("Content-Encoding", "gzip")])
    _, headers, body = call(JSONErrors(app))
    assert problem(headers, body)["detail"] == DETAILS[404]
    assert header_values(headers, "Content-Encoding") == []


@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=600), content_type=st.sampled_from(["text/html", "text/plain", ""]))
def test_any_4xx_body_gives_a_clean_short_detail(body: bytes, content_type: str) -> None:
    app = text_app(body, "400 Bad Request", content_type)
    _, headers, out = call(JSONErrors(app), lint=False)
    detail = problem(headers, out)["detail"]
    assert isinstance(detail, str) and 0 < len(detail) <= 300
    assert not any(ord(char) < 32 for char in detail)


# --- the real frameworks ----------------------------------------------------------


def test_framework_missing_page_becomes_json_with_its_description(
    framework_app: WSGIApplication,
) -> None:
    response = testapp(framework_app, JSONErrors).get("/missing", status=404)
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No such thing here.",
        "instance": "/missing",
    }


def test_framework_crash_becomes_json_500_without_details(framework_app: WSGIApplication) -> None:
    response = testapp(framework_app, JSONErrors).get("/boom", status=500, expect_errors=True)
    assert response.json["detail"] == DETAILS[500]
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text


def test_framework_unrouted_page_becomes_json(framework_app: WSGIApplication) -> None:
    response = testapp(framework_app, JSONErrors).get("/no/such/route", status=404)
    assert response.json["status"] == 404
    assert "<" not in response.json["detail"]


def test_framework_json_and_pages_are_untouched(framework_app: WSGIApplication) -> None:
    plain = testapp(framework_app)
    wrapped = testapp(framework_app, JSONErrors)
    for path in ("/json", "/"):
        assert wrapped.get(path).body == plain.get(path).body


@pytest.mark.parametrize("name", ["flask_app", "bottle_app"])
def test_framework_405_keeps_allow(name: str, request: pytest.FixtureRequest) -> None:
    app = request.getfixturevalue(name)
    response = testapp(app, JSONErrors).post("/", status=405)
    assert response.json["status"] == 405
    assert "GET" in response.headers["Allow"]


# --- frameworks: their real error pages, debug pages and exception settings -----------

VIEW_TEXT = "The item ID must be a number."
MISSING_TEXT = "No such thing here."


def _site(
    abort: Callable[[int, str | None], None], bad_text: str | None = VIEW_TEXT
) -> dict[str, Callable[..., None]]:
    """The site each framework serves, path -> view: refusals through the
    framework's own ``abort(status, text)`` (no text: its default page) and two crashes."""

    def refuse(status: int, text: str | None) -> Callable[..., None]:
        return lambda *request: abort(status, text)

    def crash(error: type[Exception]) -> Callable[..., None]:
        def view(*request: Any) -> None:
            raise error(SECRET)

        return view

    return {
        "/bad": refuse(400, bad_text),
        "/forbidden": refuse(403, None),
        "/items/9": refuse(404, MISSING_TEXT),
        "/crash": crash(RuntimeError),
        "/slow": crash(TimeoutError),
    }


def _flask_site(debug: bool, propagate: bool | None = None) -> WSGIApplication:
    import flask

    app = flask.Flask(f"wsgikit_pages_{debug}")
    app.debug = debug
    if propagate is not None:
        app.config["PROPAGATE_EXCEPTIONS"] = propagate
    # Flask's /bad keeps werkzeug's own 400 text.
    site = _site(lambda status, text: flask.abort(status, description=text), bad_text=None)
    for path, view in site.items():
        app.add_url_rule(path, path, view)
    return app


def _bottle_site(catchall: bool = True) -> WSGIApplication:
    import bottle

    def abort(status: int, text: str | None) -> None:
        if text is None:
            bottle.abort(status)  # Bottle's default text
        bottle.abort(status, text)

    app = bottle.Bottle()
    app.config["catchall"] = catchall  # Bottle 0.12: Bottle(catchall=...)
    for path, view in _site(abort).items():
        app.route(path, callback=view)
    return app


def _pyramid_site(debug: bool = False, exception_view: bool = False) -> WSGIApplication:
    from pyramid import httpexceptions as px
    from pyramid.config import Configurator
    from pyramid.response import Response

    def abort(status: int, text: str | None) -> None:
        raise px.exception_response(status, detail=text)

    def failed(exc: Exception, request: Any) -> Response:
        return Response("<html><body><p>Sorry.</p></body></html>", status=500)

    settings = {"pyramid.debug_notfound": debug, "pyramid.debug_authorization": debug}
    with Configurator(settings=settings) as config:
        for path, view in _site(abort).items():
            config.add_route(path, path)
            config.add_view(view, route_name=path)
        if exception_view:
            config.add_exception_view(failed, context=Exception)
        return config.make_wsgi_app()


def _framework_page_cases() -> list[Any]:
    from pyramid.httpexceptions import HTTPForbidden
    from werkzeug.exceptions import BadRequest, Forbidden, NotFound

    django_404 = "The requested resource was not found on this server."
    # framework, method, path, detail (debug off), detail (debug on; None: the same)
    rows: list[tuple[str, str, str, str, str | None]] = [
        ("flask", "GET", "/bad", BadRequest.description, None),
        ("flask", "GET", "/forbidden", Forbidden.description, None),
        ("flask", "GET", "/items/9", MISSING_TEXT, None),
        ("flask", "GET", "/nope", NotFound.description, None),
        ("flask", "GET", "/crash", DETAILS[500], None),
        ("bottle", "GET", "/bad", VIEW_TEXT, None),
        ("bottle", "GET", "/forbidden", DETAILS[403], None),  # page says "Unknown Error."
        ("bottle", "GET", "/items/9", MISSING_TEXT, None),
        ("bottle", "GET", "/nope", "Not found: '/nope'", None),
        ("bottle", "GET", "/crash", DETAILS[500], None),
        ("pyramid", "GET", "/bad", VIEW_TEXT, None),
        ("pyramid", "GET", "/forbidden", HTTPForbidden.explanation, None),
        ("pyramid", "GET", "/items/9", MISSING_TEXT, None),
        ("pyramid", "GET", "/nope", DETAILS[404], None),  # path only / debug_notfound
        ("pyramid", "GET", "/crash", DETAILS[500], None),
        ("django", "GET", "/bad", DETAILS[400], None),
        ("django", "GET", "/forbidden", DETAILS[403], None),
        ("django", "POST", "/submit", DETAILS[403], None),  # CSRF failure page
        ("django", "GET", "/items/9", django_404, DETAILS[404]),  # DEBUG: technical 404
        ("django", "GET", "/nope", django_404, DETAILS[404]),
        ("django", "GET", "/crash", DETAILS[500], None),
    ]
    return [
        pytest.param(
            framework,
            debug,
            method,
            path,
            on if debug and on is not None else off,
            id=f"{framework} {method} {path} {'DEBUG' if debug else 'no debug'}",
        )
        for framework, method, path, off, on in rows
        for debug in (False, True)
    ]


#: Words of text meant for the site's developer, never a client's description.
BOILERPLATE_WORDS = ("DEBUG", "setting", "seeing", "customize", "Unknown Error", "debug_")


@pytest.mark.parametrize(
    ("framework", "debug", "method", "path", "detail"), _framework_page_cases()
)
def test_real_framework_error_pages_never_lend_boilerplate(
    framework: str,
    debug: bool,
    method: str,
    path: str,
    detail: str,
    django_site: Callable[..., WSGIApplication],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real 400/403/404/500 pages of each framework, debug on and off: the
    detail is the view's text, the framework's description of the status, or
    ours; never a hint about the framework's configuration."""
    if framework == "flask":
        app = _flask_site(debug)
    elif framework == "bottle":
        import bottle

        monkeypatch.setattr(bottle, "DEBUG", debug)
        app = _bottle_site()
    elif framework == "pyramid":
        app = _pyramid_site(debug)
    else:
        app = django_site(DEBUG=debug, DEBUG_PROPAGATE_EXCEPTIONS=False)
    client = testapp(app, JSONErrors)
    response = client.request(path, method=method, expect_errors=True)
    assert response.content_type == "application/problem+json"
    assert response.json["detail"] == detail
    assert not any(word in response.json["detail"] for word in BOILERPLATE_WORDS)
    assert SECRET not in response.text


def _debug_page_sites(
    django_site: Callable[..., WSGIApplication], monkeypatch: pytest.MonkeyPatch
) -> dict[str, tuple[WSGIApplication, str]]:
    """Each framework's own HTML page for a crash in debug mode, and a marker in it."""
    import bottle
    from werkzeug.debug import DebuggedApplication

    monkeypatch.setattr(bottle, "DEBUG", True)
    return {
        "werkzeug debugger": (DebuggedApplication(_flask_site(True), evalex=False), "Traceback"),
        "django technical 500": (
            django_site(DEBUG=True, DEBUG_PROPAGATE_EXCEPTIONS=False),
            "You’re seeing this error because you have",
        ),
        "bottle debug page": (_bottle_site(), "Traceback"),
    }


@pytest.mark.parametrize("site", ["werkzeug debugger", "django technical 500", "bottle debug page"])
def test_debug_keeps_a_frameworks_debug_page_for_html_clients(
    site: str,
    django_site: Callable[..., WSGIApplication],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, marker = _debug_page_sites(django_site, monkeypatch)[site]
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    client = testapp(app, partial(JSONErrors, debug=True))
    response = client.get("/crash", headers=html, expect_errors=True)
    assert response.status_int == 500
    assert response.content_type == "text/html"
    assert marker in response.text
    assert "Accept" in response.headers["Vary"]
    # A JSON client, and any client without debug, still gets problem JSON.
    # With debug an HTML page's fate depends on Accept, so Vary says so (Django
    # answers a client that does not accept HTML in text/plain: nothing varies).
    for layer, headers, varies in [
        (
            partial(JSONErrors, debug=True),
            {"Accept": "application/json"},
            site != "django technical 500",
        ),
        (partial(JSONErrors, debug=True), {}, True),
        (JSONErrors, html, False),
    ]:
        response = testapp(app, layer).get("/crash", headers=headers, expect_errors=True)
        assert response.status_int == 500
        assert response.content_type == "application/problem+json"
        assert response.json["status"] == 500
        assert ("Accept" in response.headers.get("Vary", "")) is varies


def test_debug_converts_an_html_4xx_page_as_usual() -> None:
    app = text_app(b"<p>Gone.</p>", "404 Not Found", "text/html")
    html = {"Accept": "text/html"}
    response = testapp(app, partial(JSONErrors, debug=True)).get("/", headers=html, status=404)
    assert response.json["detail"] == "Gone."


@pytest.mark.parametrize("propagate", [True, False], ids=["documented setting", "default"])
@pytest.mark.parametrize("framework", ["flask", "bottle", "pyramid", "django"])
def test_documented_setting_lets_exceptions_reach_jsonerrors(
    framework: str, propagate: bool, django_site: Callable[..., WSGIApplication]
) -> None:
    """Flask ``PROPAGATE_EXCEPTIONS``, Bottle ``catchall=False``, Django
    ``DEBUG_PROPAGATE_EXCEPTIONS``, Pyramid without an exception view: the
    exception reaches ``exceptions={TimeoutError: 504}``. Otherwise the
    framework's own 500 page still comes out as problem JSON."""
    if framework == "flask":
        app = _flask_site(False, propagate=propagate)
    elif framework == "bottle":
        app = _bottle_site(catchall=not propagate)
    elif framework == "pyramid":
        app = _pyramid_site(exception_view=not propagate)
    else:
        app = django_site(DEBUG_PROPAGATE_EXCEPTIONS=propagate)
    client = testapp(app, partial(JSONErrors, exceptions={TimeoutError: 504}))
    code = 504 if propagate else 500
    # expect_errors: the traceback written to wsgi.errors is expected.
    response = client.get("/slow", expect_errors=True)
    assert response.status_int == code
    assert response.content_type == "application/problem+json"
    assert (response.json["status"], response.json["detail"]) == (code, DETAILS[code])
    assert SECRET not in response.text


def test_django_example_under_a_real_server(serve: Any) -> None:
    """examples/django_project under waitress: problem JSON for Django's
    errors, exceptions={TimeoutError: 504}, forwarded headers decided by ProxyFix."""
    import os

    env = {
        "PYTHONPATH": os.pathsep.join([str(DJANGO_PROJECT), str(ROOT)]),
        "DJANGO_SECRET_KEY": "test-key-" + "x" * 40,
    }
    server = serve("demo_site.wsgi:application", env=env)
    checks = {
        "/items/1": (200, None),
        "/items/9": (404, "The requested resource was not found on this server."),
        "/slow": (504, DETAILS[504]),
        "/crash": (500, DETAILS[500]),
        "/forbidden": (403, DETAILS[403]),
    }
    for path, (code, detail) in checks.items():
        response = server.get(path)
        body = json.loads(response.read())
        assert response.status == code, path
        if detail is not None:
            assert response.headers["Content-Type"] == "application/problem+json"
            assert (body["status"], body["detail"], body["instance"]) == (code, detail, path)
    forwarded = {
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example.com",
    }
    seen = json.loads(server.get("/whoami", forwarded).read())
    assert seen == {
        "remote_addr": "203.0.113.7",
        "scheme": "https",
        "secure": True,
        "host": "api.example.com",
        "url": "https://api.example.com/whoami",
    }
    output = server.stop()
    assert "password=hunter2" in output  # logged with its traceback, never sent
    # The same headers from a peer that is not a trusted proxy: nothing believed,
    # and Django (no SECURE_PROXY_SSL_HEADER) does not believe them either.
    untrusted = serve("demo_site.wsgi:application", env={**env, "TRUSTED_PROXIES": "192.0.2.1"})
    seen = json.loads(untrusted.get("/whoami", forwarded).read())
    host = f"127.0.0.1:{untrusted.port}"
    assert seen == {
        "remote_addr": "127.0.0.1",
        "scheme": "http",
        "secure": False,
        "host": host,
        "url": f"http://{host}/whoami",
    }
