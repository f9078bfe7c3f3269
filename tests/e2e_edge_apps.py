"""Target for the end-to-end test of the edge layers
(``wsgikit serve e2e_edge_apps:app``): CORS outside JSONErrors, TrustedHosts
and SecurityHeaders, around a Flask app."""

from __future__ import annotations

from typing import Any

import flask

from wsgikit import CORS, JSONErrors, SecurityHeaders, TrustedHosts, compose

flask_app = flask.Flask("wsgikit_e2e_edge")


@flask_app.route("/items", methods=["GET", "PUT"])
def items() -> Any:
    return flask.jsonify(items=[1, 2])


app = compose(
    flask_app,
    lambda inner: CORS(inner, allow_origins=["https://app.example.com"], allow_methods=["PUT"]),
    JSONErrors,
    lambda inner: TrustedHosts(inner, ["127.0.0.1"]),
    SecurityHeaders,
)
