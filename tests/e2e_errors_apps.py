"""Targets for the end-to-end JSONErrors tests (``wsgikit serve e2e_errors_apps:app``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import flask
from helpers import flask_demo

from wsgikit.errors import JSONErrors

flask_app = flask_demo("wsgikit_e2e_errors")  # /json, /boom, /missing, ...


@flask_app.route("/stream")
def stream() -> Any:
    def chunks() -> Iterator[str]:
        yield "first chunk\n"
        raise RuntimeError("failed mid-stream")

    return flask.Response(chunks(), mimetype="text/plain")


app = JSONErrors(flask_app)
