"""An API whose every error, from any layer, is RFC 9457 JSON.

    python examples/json_errors_everywhere.py          # prints a few requests
    python examples/json_errors_everywhere.py --serve  # http://127.0.0.1:8000/

The Flask app below has no error handlers at all, and the API-key layer in
front of it is a plain WSGI function answering in text/plain. ``JSONErrors``,
outermost, turns every error into ``application/problem+json``: Flask's HTML
404 and 405 pages (keeping ``Allow``), the key layer's 401 (keeping
``WWW-Authenticate``), a timeout registered as 504, and a crash, whose message
never reaches the client (it is logged with its traceback instead).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from wsgiref.simple_server import make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import flask
from werkzeug.test import Client

from wsgikit.errors import JSONErrors

app = flask.Flask(__name__)
ITEMS = {"1": "teapot"}


@app.get("/items/<item_id>")
def item(item_id: str) -> flask.Response:
    if item_id not in ITEMS:
        flask.abort(404, description=f"There is no item {item_id}.")
    return flask.jsonify(id=item_id, name=ITEMS[item_id])


@app.get("/slow")
def slow() -> str:
    raise TimeoutError("the inventory database did not answer")


@app.get("/crash")
def crash() -> str:
    raise RuntimeError("password=hunter2 leaked into an exception message")


# Let exceptions leave Flask so that JSONErrors sees them (and their type).
app.config["PROPAGATE_EXCEPTIONS"] = True


def require_api_key(inner: WSGIApplication) -> WSGIApplication:
    """A layer written without any framework: plain-text 401 without a key."""

    def layer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_API_KEY") != "demo":
            body = b"Send the header X-API-Key: demo."
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain"),
                    ("Content-Length", str(len(body))),
                    ("WWW-Authenticate", 'ApiKey realm="demo"'),
                ],
            )
            return [body]
        return inner(environ, start_response)

    return layer


stack = JSONErrors(require_api_key(app), exceptions={TimeoutError: 504})


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.ERROR, format="log: %(message)s")
    if "--serve" in argv:
        with make_server("127.0.0.1", 8000, stack) as server:
            print("serving on http://127.0.0.1:8000/ (send X-API-Key: demo; Ctrl-C stops)")
            server.serve_forever()
        return
    client = Client(stack)
    key = {"X-API-Key": "demo", "X-Request-ID": "req-42"}
    for method, path, headers in [
        ("GET", "/items/1", key),
        ("GET", "/items/7", key),
        ("POST", "/items/1", key),
        ("GET", "/items/1", {}),
        ("GET", "/slow", key),
        ("GET", "/crash", key),
    ]:
        response = client.open(path, method=method, headers=headers)
        extra = {
            name: response.headers[name]
            for name in ("Allow", "WWW-Authenticate")
            if name in response.headers
        }
        print(f"{method} {path} -> {response.status} {response.content_type} {extra or ''}")
        print(f"    {response.get_data(as_text=True)}")


if __name__ == "__main__":
    main(sys.argv[1:])
