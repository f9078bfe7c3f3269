"""Targets for the end-to-end auth tests (``wsgikit serve e2e_auth_apps:app``)
and dotted names for the PasteDeploy tests."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import bcrypt

from wsgikit.auth import BasicAuth

ALICE_PASSWORD = "wonderland"
BOB_PASSWORD = "bäckerei £ 123"
TOKENS = {"good-token": "ci-bot"}


def sha_hash(password: str) -> str:
    """An Apache ``{SHA}`` hash, as ``htpasswd -s`` writes it."""
    return "{SHA}" + base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()


USERS = {
    "alice": sha_hash(ALICE_PASSWORD),
    "bob": bcrypt.hashpw(BOB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode(),
}


def whoami(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Returns what the auth middlewares told the app, as JSON."""
    body = json.dumps(
        {
            "remote_user": environ.get("REMOTE_USER"),
            "auth_type": environ.get("AUTH_TYPE"),
            "principal": environ.get("wsgikit.principal"),
            "path": environ.get("PATH_INFO"),
        }
    ).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def verify_token(token: str) -> Any:
    """A ``BearerAuth`` verifier for the tests."""
    return TOKENS.get(token)


def verify_password(username: str, password: str) -> bool:
    """A ``BasicAuth`` verifier for the tests."""
    return username == "carol" and password == "c4r0l"


app = BasicAuth(whoami, users=USERS, realm="e2e", exempt=["/health"])
