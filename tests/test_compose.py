"""wsgikit.compose: the first layer is the outermost."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import pytest
from conftest import testapp, text_app

from wsgikit import compose


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
