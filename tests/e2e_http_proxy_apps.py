"""Upstream apps for the HTTPProxy tests: one Flask app behind wsgikit's and
behind werkzeug's ``ProxyFix``, trusting the three hops ``wsgikit proxy`` fakes
by default (``--fake-for`` plus two proxies) and one prefix, host and scheme."""

from __future__ import annotations

from typing import Any

import flask
from werkzeug.middleware.proxy_fix import ProxyFix as WerkzeugProxyFix

from wsgikit import ProxyFix

flask_app = flask.Flask("wsgikit_http_proxy_upstream")


@flask_app.route("/env")
def env() -> Any:
    request = flask.request
    return flask.jsonify(
        remote_addr=request.remote_addr,
        scheme=request.scheme,
        host=request.host,
        script_root=request.script_root,
        url=request.url,
        external=flask.url_for("env", _external=True),
    )


@flask_app.route("/go")
def go() -> Any:
    return flask.redirect(flask.url_for("env"))


HOPS = {"x_for": 3, "x_proto": 1, "x_host": 1, "x_prefix": 1}
wsgikit_fixed = ProxyFix(flask_app.wsgi_app, **HOPS)
werkzeug_fixed = WerkzeugProxyFix(flask_app.wsgi_app, **HOPS)
