"""Targets for the end-to-end JSONErrors tests (``wsgikit serve e2e_errors_apps:app``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flask

from wsgikit.errors import JSONErrors

flask_app = flask.Flask("wsgikit_e2e_errors")


@flask_app.route("/json")
def as_json() -> Any:
    return flask.jsonify(ok=True)


@flask_app.route("/boom")
def boom() -> str:
    raise RuntimeError("flask internal detail")


@flask_app.route("/missing")
def missing() -> str:
    flask.abort(404, description="No such thing here.")


@flask_app.route("/stream")
def stream() -> Any:
    def chunks() -> Iterator[str]:
        yield "first chunk\n"
        raise RuntimeError("failed mid-stream")

    return flask.Response(chunks(), mimetype="text/plain")


app = JSONErrors(flask_app)
