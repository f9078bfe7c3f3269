"""A Flask JSON API behind bearer tokens (RFC 6750).

    API_TOKENS="s3cr3t:ci-bot,t0k3n:alice" python examples/flask_bearer_auth.py
    curl -si http://127.0.0.1:8000/me                                  # 401 + challenge
    curl -si -H 'Authorization: Bearer nope' http://127.0.0.1:8000/me  # 401 invalid_token
    curl -si -H 'Authorization: Bearer s3cr3t' http://127.0.0.1:8000/me

``verify`` gets the token and returns the principal (here the client name,
which also becomes ``REMOTE_USER``) or ``None``. With JWTs it would decode and
check the token, and ``invalid_token_errors=[jwt.InvalidTokenError]`` would
turn the library's exceptions into ``401 invalid_token`` answers.
"""

from __future__ import annotations

import hmac
import os

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from wsgikit.auth import BearerAuth

app = Flask(__name__)

# Client name by token, from the environment ("token:name" pairs), with a demo default.
TOKENS = {
    token: name
    for token, _, name in (
        pair.partition(":") for pair in os.environ.get("API_TOKENS", "s3cr3t:ci-bot").split(",")
    )
    if name
}


def verify(token: str) -> str | None:
    """The client's name for a known token; compared in constant time."""
    for known, name in TOKENS.items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return name
    return None


@app.route("/me")
def me() -> ResponseReturnValue:
    return jsonify(client=request.environ["wsgikit.principal"], user=request.remote_user)


application = BearerAuth(app, verify, realm="example-api")

if __name__ == "__main__":
    from waitress import serve

    serve(application, host="127.0.0.1", port=8000)
