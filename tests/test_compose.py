"""wsgikit.compose: the first layer is the outermost."""

from __future__ import annotations

import gzip
import json
import logging
import re
import warnings
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from helpers import ROOT, run_wsgi, testapp, text_app
from paste.deploy import loadapp
from werkzeug.exceptions import NotFound

from wsgikit import (
    CORS,
    AccessLog,
    AuthParser,
    BasicAuth,
    BearerAuth,
    BodyRewriter,
    Compress,
    FakeForwardedFor,
    InjectHTML,
    JSONErrors,
    MaxBodySize,
    ProxyFix,
    RequestID,
    SecurityHeaders,
    SessionMiddleware,
    StackOrderWarning,
    TrustedHosts,
    compose,
)
from wsgikit._compose import (
    ORDER_RULES,
    RECOMMENDED_ORDER,
    layer_name,
    order_problems,
    stack_of,
)


class Tag:
    """A layer that appends its name to a header, on the way in."""

    def __init__(self, app: WSGIApplication, name: str) -> None:
        self.app = app
        self.name = name

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["HTTP_X_ORDER"] = environ.get("HTTP_X_ORDER", "") + self.name
        return self.app(environ, start_response)


def order_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = environ.get("HTTP_X_ORDER", "").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def test_first_layer_meets_the_request_first() -> None:
    app = compose(order_app, partial(Tag, name="a"), partial(Tag, name="b"), partial(Tag, name="c"))
    assert testapp(app).get("/").body == b"abc"


def test_no_layer_returns_the_app_itself() -> None:
    app = text_app()
    assert compose(app) is app


def test_layers_must_be_callables() -> None:
    with pytest.raises(TypeError, match="layer 1 is str"):
        compose(order_app, partial(Tag, name="a"), "json_errors")  # type: ignore[arg-type]


# --- stack order: each documented wrong order misbehaves as documented, and is caught ----

HTML = b"<html><body>" + b"hello " * 200 + b"</body></html>"
CLIENT = "203.0.113.9"  # the client behind the proxy
PEER = "127.0.0.1"  # the proxy, as the server sees it


def html_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(HTML)))])
    return [HTML]


def addr_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = environ["REMOTE_ADDR"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def failing_rewrite(body: bytes) -> bytes:
    raise RuntimeError("the rewrite failed")


def decoded(headers: list[tuple[str, str]], chunks: list[bytes]) -> bytes:
    body = b"".join(chunks)
    return gzip.decompress(body) if ("Content-Encoding", "gzip") in headers else body


def injected(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    calls, chunks, _ = run_wsgi(app, {"HTTP_ACCEPT_ENCODING": "gzip"})
    return b"<!-- hi -->" in decoded(calls[-1][1], chunks)


def rewritten(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    calls, chunks, _ = run_wsgi(app, {"HTTP_ACCEPT_ENCODING": "gzip"})
    return b"HELLO" in decoded(calls[-1][1], chunks)


def json_error(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    calls, _, _ = run_wsgi(app, ERROR_REQUESTS)
    status, headers = calls[-1]
    assert status[:3] in ("400", "401", "413", "500")
    return ("Content-Type", "application/problem+json") in headers


def sees_real_ip(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    _, chunks, _ = run_wsgi(app)
    assert b"".join(chunks) in (b"10.1.1.1", PEER.encode())
    return b"".join(chunks) == b"10.1.1.1"


def logs_the_client(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="wsgikit.auth"):
        calls, _, _ = run_wsgi(
            app,
            {"HTTP_AUTHORIZATION": "Basic bm9ib2R5Om5vcGU=", "HTTP_X_FORWARDED_FOR": CLIENT},
        )
    assert calls[-1][0].startswith("401")
    lines = [record.getMessage() for record in caplog.records]
    assert lines and all(CLIENT in line or PEER in line for line in lines), lines
    return all(CLIENT in line for line in lines)


def bearer_logs_the_client(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="wsgikit.auth"):
        run_wsgi(app, {"HTTP_AUTHORIZATION": "Bearer nope", "HTTP_X_FORWARDED_FOR": CLIENT})
    lines = [record.getMessage() for record in caplog.records]
    assert lines, "BearerAuth logged nothing"
    return all(CLIENT in line for line in lines)


def reject_token(token: str) -> None:
    raise LookupError(token)


# (outer layer, inner layer, app, probe): probe(stack) is True when the stack works.
# Each row is one rule of ORDER_RULES whose two classes exist today.
PROOFS = {
    ("Compress", "InjectHTML"): (
        Compress,
        partial(InjectHTML, snippet="<!-- hi -->"),
        html_app,
        injected,
    ),
    ("Compress", "BodyRewriter"): (
        Compress,
        partial(BodyRewriter, rewrite=bytes.upper),
        html_app,
        rewritten,
    ),
    ("JSONErrors", "BasicAuth"): (
        JSONErrors,
        partial(BasicAuth, verify=lambda user, password: False),
        html_app,
        json_error,
    ),
    ("JSONErrors", "BearerAuth"): (
        JSONErrors,
        partial(BearerAuth, verify=lambda token: None),
        html_app,
        json_error,
    ),
    ("JSONErrors", "BodyRewriter"): (
        JSONErrors,
        partial(BodyRewriter, rewrite=failing_rewrite),
        html_app,
        json_error,
    ),
    ("FakeForwardedFor", "ProxyFix"): (
        FakeForwardedFor,
        partial(ProxyFix, x_for=3),
        addr_app,
        sees_real_ip,
    ),
    ("ProxyFix", "BasicAuth"): (
        partial(ProxyFix, trusted=[PEER]),
        partial(BasicAuth, verify=lambda user, password: False),
        html_app,
        logs_the_client,
    ),
    ("ProxyFix", "BearerAuth"): (
        partial(ProxyFix, trusted=[PEER]),
        partial(BearerAuth, verify=reject_token, invalid_token_errors=(LookupError,)),
        html_app,
        bearer_logs_the_client,
    ),
}


# --- the edge layers (#13) ---------------------------------------------------

SITE = "https://app.example.com"
PREFLIGHT = {
    "REQUEST_METHOD": "OPTIONS",
    "HTTP_ORIGIN": SITE,
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT",
}
TOO_LARGE = {"REQUEST_METHOD": "POST", "CONTENT_LENGTH": "100"}
# A request each layer below answers by itself: Host not listed (TrustedHosts
# lists only example.com), a body over MaxBodySize's 10 bytes; json_error's
# other rows answer any request.
ERROR_REQUESTS = {"HTTP_HOST": "unknown.example", **TOO_LARGE}


def boom_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("the application failed")


def not_found_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    raise NotFound()


def has_request_id(status: str, request: dict[str, str]) -> Any:
    """Probe: the response ``layer`` answers itself (``status``) carries X-Request-ID."""

    def probe(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
        calls, _, _ = run_wsgi(app, request)
        assert calls[-1][0].startswith(status), calls
        return any(name == "X-Request-ID" for name, _ in calls[-1][1])

    return probe


def access_lines(
    app: WSGIApplication, caplog: pytest.LogCaptureFixture, request: dict[str, str]
) -> tuple[list[dict[str, Any]], bytes]:
    """The JSON access-log lines of one request, and the body the client got."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="wsgikit.access"):
        _, chunks, _ = run_wsgi(app, request)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "wsgikit.access"]
    return lines, b"".join(chunks)


def logs_status(status: int, request: dict[str, str]) -> Any:
    """Probe: one access-log line, with the status the client got; the wrong
    order logs nothing at all (the layer's own answer never reaches AccessLog)."""

    def probe(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
        lines, _ = access_lines(app, caplog, request)
        logged = [line["status"] for line in lines]
        assert logged in ([], [status]), logged
        return logged == [status]

    return probe


def logs_bytes_sent(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    lines, body = access_lines(app, caplog, {"HTTP_ACCEPT_ENCODING": "gzip"})
    assert len(lines) == 1 and lines[0]["bytes"] in (len(body), len(HTML)), (lines, len(body))
    return bool(lines[0]["bytes"] == len(body))


def logs_the_answered_status(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    # The application raises NotFound, which JSONErrors answers with a 404.
    lines, _ = access_lines(app, caplog, {})
    assert [line["status"] for line in lines] in ([404], [500]), lines
    return bool(lines[0]["status"] == 404)


def passes_forwarded_host(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    # The proxy's own Host is backend:8000; the client asked for example.com.
    with caplog.at_level(logging.INFO, logger="wsgikit.hosts"):
        calls, _, _ = run_wsgi(
            app, {"HTTP_HOST": "backend:8000", "HTTP_X_FORWARDED_HOST": "example.com"}
        )
    assert calls[-1][0][:3] in ("200", "400"), calls
    return calls[-1][0].startswith("200")


def serves_https_behind_the_proxy(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    calls, _, _ = run_wsgi(app, {"HTTP_X_FORWARDED_PROTO": "https"})
    status, headers = calls[-1]
    if status.startswith("308"):
        # Back to the very URL the client asked for: the browser loops.
        assert ("Location", "https://localhost/") in headers
        return False
    return status.startswith("200") and any(
        name == "Strict-Transport-Security" for name, _ in headers
    )


def preflight_allowed(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    with caplog.at_level(logging.INFO, logger="wsgikit.auth"):
        calls, _, _ = run_wsgi(app, PREFLIGHT)
    status, headers = calls[-1]
    assert status[:3] in ("204", "401"), status  # the wrong order: the auth layer's 401
    return status.startswith("204") and ("Access-Control-Allow-Origin", SITE) in headers


def cors_on_error(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    calls, _, _ = run_wsgi(app, {"HTTP_ORIGIN": SITE, **TOO_LARGE})
    status, headers = calls[-1]
    assert status[:3] in ("413", "500"), status
    return ("Access-Control-Allow-Origin", SITE) in headers


def security_headers_on_error(app: WSGIApplication, caplog: pytest.LogCaptureFixture) -> bool:
    calls, _, _ = run_wsgi(app)
    status, headers = calls[-1]
    assert status.startswith("500")
    return ("X-Content-Type-Options", "nosniff") in headers


REFUSE = partial(BasicAuth, verify=lambda user, password: False)
REFUSE_TOKEN = partial(BearerAuth, verify=lambda token: None)
REDIRECT = partial(SecurityHeaders, https_redirect=True)
ALLOW_SITE = partial(CORS, allow_origins=[SITE], allow_methods=["PUT"])
HOSTS = partial(TrustedHosts, hosts=["example.com"])
LIMIT = partial(MaxBodySize, limit=10)
JSON_LOG = partial(AccessLog, format="json")

# What each layer answers by itself, and the request that makes it answer.
OWN_ANSWERS = {
    "SecurityHeaders": (REDIRECT, "308", {}),
    "CORS": (ALLOW_SITE, "204", PREFLIGHT),
    "TrustedHosts": (HOSTS, "400", {}),
    "MaxBodySize": (LIMIT, "413", TOO_LARGE),
    "BasicAuth": (REFUSE, "401", {}),
    "BearerAuth": (REFUSE_TOKEN, "401", {}),
}

PROOFS.update(
    {
        ("RequestID", "JSONErrors"): (
            RequestID,
            JSONErrors,
            boom_app,
            has_request_id("500", {}),
        ),
        ("RequestID", "BodyRewriter"): (
            RequestID,
            partial(BodyRewriter, rewrite=failing_rewrite),
            html_app,
            has_request_id("500", {}),
        ),
        **{
            ("RequestID", name): (RequestID, layer, html_app, has_request_id(status, request))
            for name, (layer, status, request) in OWN_ANSWERS.items()
        },
        **{
            ("AccessLog", name): (JSON_LOG, layer, html_app, logs_status(int(status), request))
            for name, (layer, status, request) in OWN_ANSWERS.items()
        },
        ("AccessLog", "JSONErrors"): (
            JSON_LOG,
            JSONErrors,
            not_found_app,
            logs_the_answered_status,
        ),
        ("AccessLog", "Compress"): (JSON_LOG, Compress, html_app, logs_bytes_sent),
        ("AccessLog", "InjectHTML"): (
            JSON_LOG,
            partial(InjectHTML, snippet="<!-- hi -->"),
            html_app,
            logs_bytes_sent,
        ),
        ("AccessLog", "BodyRewriter"): (
            JSON_LOG,
            partial(BodyRewriter, rewrite=lambda body: body + b"<!-- hi -->"),
            html_app,
            logs_bytes_sent,
        ),
        ("ProxyFix", "TrustedHosts"): (
            partial(ProxyFix, x_host=1, trusted=[PEER]),
            HOSTS,
            html_app,
            passes_forwarded_host,
        ),
        ("ProxyFix", "SecurityHeaders"): (
            partial(ProxyFix, x_proto=1, trusted=[PEER]),
            REDIRECT,
            html_app,
            serves_https_behind_the_proxy,
        ),
        ("CORS", "BasicAuth"): (ALLOW_SITE, REFUSE, html_app, preflight_allowed),
        ("CORS", "BearerAuth"): (ALLOW_SITE, REFUSE_TOKEN, html_app, preflight_allowed),
        ("CORS", "JSONErrors"): (ALLOW_SITE, JSONErrors, boom_app, cors_on_error),
        ("CORS", "MaxBodySize"): (ALLOW_SITE, LIMIT, html_app, cors_on_error),
        ("SecurityHeaders", "JSONErrors"): (
            SecurityHeaders,
            JSONErrors,
            boom_app,
            security_headers_on_error,
        ),
        ("JSONErrors", "TrustedHosts"): (JSONErrors, HOSTS, html_app, json_error),
        ("JSONErrors", "MaxBodySize"): (JSONErrors, LIMIT, html_app, json_error),
    }
)


# Every layer the rules know, with the options of a quiet recommended stack.
BUILT = {
    "RequestID": RequestID,
    "AccessLog": AccessLog,
    "FakeForwardedFor": FakeForwardedFor,
    "ProxyFix": ProxyFix,
    "SecurityHeaders": SecurityHeaders,
    "CORS": ALLOW_SITE,
    "JSONErrors": JSONErrors,
    "TrustedHosts": partial(TrustedHosts, hosts=["localhost"]),
    "MaxBodySize": partial(MaxBodySize, limit=1024),
    "Compress": Compress,
    "SessionMiddleware": partial(SessionMiddleware, secret_key="k" * 32),
    "AuthParser": AuthParser,
    "BasicAuth": partial(BasicAuth, verify=lambda user, password: True),
    "BearerAuth": partial(BearerAuth, verify=lambda token: "bot"),
    "InjectHTML": partial(InjectHTML, snippet="x"),
    "BodyRewriter": partial(BodyRewriter, rewrite=bytes.upper),
}


def test_every_rule_has_a_proof() -> None:
    assert {(rule.outer, rule.inner) for rule in ORDER_RULES} == set(PROOFS)
    assert set(BUILT) == set(RECOMMENDED_ORDER)


@pytest.mark.parametrize("pair", sorted(PROOFS), ids=" outside ".join)
def test_wrong_order_misbehaves_as_documented_and_is_caught(
    pair: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    outer, inner, app, works = PROOFS[pair]
    rule = next(r for r in ORDER_RULES if (r.outer, r.inner) == pair)

    right = compose(app, outer, inner)  # no warning: warnings are errors here
    assert works(right, caplog)

    with pytest.warns(StackOrderWarning) as caught:
        wrong = compose(app, inner, outer)
    assert [str(warning.message) for warning in caught] == [rule.message()]
    assert str(caught[0].message).startswith(f"{pair[1]} wraps {pair[0]}: ")
    assert not works(wrong, caplog)

    with pytest.raises(ValueError, match=re.escape(rule.message())):
        compose(app, inner, outer, strict=True)
    # A finished chain (nested by hand, as a PasteDeploy pipeline does) too.
    assert order_problems(stack_of(inner(outer(app)))) == [rule.message()]


def test_the_documented_example_message() -> None:
    with pytest.warns(StackOrderWarning) as caught:
        compose(html_app, partial(InjectHTML, snippet="x"), Compress)
    assert str(caught[0].message) == (
        "InjectHTML wraps Compress: InjectHTML will only ever see compressed bodies and "
        "will not inject (put Compress outside InjectHTML)"
    )


def test_the_recommended_order_breaks_no_rule() -> None:
    for rule in ORDER_RULES:
        assert rule.outer in RECOMMENDED_ORDER and rule.inner in RECOMMENDED_ORDER, rule
        assert RECOMMENDED_ORDER.index(rule.outer) < RECOMMENDED_ORDER.index(rule.inner), rule


def test_the_recommended_stack_of_built_layers_is_quiet() -> None:
    names = [name for name in RECOMMENDED_ORDER if name in BUILT]
    assert len(names) == len(BUILT)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stack = compose(html_app, *(BUILT[name] for name in names), strict=True)
    assert [layer_name(layer) for layer in stack_of(stack)[:-1]] == names


def test_sessions_outside_compress_is_fine() -> None:
    session = partial(SessionMiddleware, secret_key="k" * 32)
    for order in ((session, Compress), (Compress, session)):
        compose(html_app, *order, strict=True)


def test_a_class_of_another_package_with_the_same_name_is_not_judged() -> None:
    class InjectHTML:  # noqa: N801  (a user's own class, not wsgikit's)
        def __init__(self, app: WSGIApplication) -> None:
            self.app = app

        def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
            return self.app(environ, start_response)

    compose(html_app, InjectHTML, Compress, strict=True)


def test_compose_checks_an_app_that_is_already_a_stack() -> None:
    inner = Compress(html_app)
    with pytest.warns(StackOrderWarning, match="InjectHTML wraps Compress"):
        compose(inner, partial(InjectHTML, snippet="x"))


def test_stack_of_follows_app_and_stops_at_the_application() -> None:
    stack = JSONErrors(Compress(html_app))
    assert stack_of(stack) == [stack, stack.app, html_app]
    loop = Tag(order_app, "a")
    loop.app = loop  # type: ignore[assignment]
    assert stack_of(loop) == [loop]


def test_paste_pipeline_in_a_wrong_order_warns(tmp_path: Path) -> None:
    ini = tmp_path / "wrong.ini"
    ini.write_text(
        "[pipeline:main]\npipeline = inject compress app\n"
        "[filter:inject]\nuse = egg:wsgikit#inject_html\nsnippet = <hr>\n"
        "[filter:compress]\nuse = egg:wsgikit#compress\n"
        "[app:app]\nuse = call:wsgikit.demo:demo_paste_app\n"
    )
    with pytest.warns(StackOrderWarning) as caught:
        app = loadapp(f"config:{ini}")
    assert [str(warning.message) for warning in caught] == [
        next(r for r in ORDER_RULES if (r.outer, r.inner) == ("Compress", "InjectHTML")).message()
    ]
    assert layer_name(app) == "InjectHTML"


def test_stack_order_page_says_every_group_rule() -> None:
    """The page's table is generated from ORDER_RULES without the two whole-group
    rules (RequestID, AccessLog), which its prose says once: each group's bullet
    names every layer its rules name."""
    page = (ROOT / "docs" / "stack-order.md").read_text(encoding="utf-8")
    bullets = {
        bullet.split("`", 1)[0]: " ".join(bullet.split("\n\n", 1)[0].split())
        for bullet in page.split("\n- {class}`~wsgikit.")[1:]
    }
    groups = {rule.outer for rule in ORDER_RULES} & {"RequestID", "AccessLog"}
    assert groups == {"RequestID", "AccessLog"}
    for rule in ORDER_RULES:
        if rule.outer in groups:
            assert f"`{rule.inner}`" in bullets[rule.outer], rule
    assert ".. stack-order::" in page  # the table and RECOMMENDED_ORDER, generated


def test_stack_of_follows_a_flask_wsgi_app_replaced_by_a_middleware(
    flask_app: Any,
) -> None:
    assert stack_of(flask_app) == [flask_app]  # wsgi_app is still Flask's own method
    flask_app.wsgi_app = partial(InjectHTML, snippet="x")(Compress(flask_app.wsgi_app))
    chain = stack_of(flask_app)
    assert [layer_name(layer) for layer in chain[1:3]] == ["InjectHTML", "Compress"]
    assert order_problems(chain) == [
        next(r for r in ORDER_RULES if (r.outer, r.inner) == ("Compress", "InjectHTML")).message()
    ]


# --- review fixes -------------------------------------------------------------------


@pytest.mark.parametrize("strict", ["no", 0, None, "false"])
def test_strict_must_be_a_bool(strict: Any) -> None:
    with pytest.raises(TypeError, match="strict must be a bool"):
        compose(html_app, lambda app: app, strict=strict)
