"""The "Frameworks" notes (docs/frameworks.md) that are not JSONErrors' own: Django's
GZip/ConditionalGet middleware next to Compress, RemoteUserMiddleware behind
BasicAuth."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from wsgiref.types import WSGIApplication

from helpers import ROOT, TESTS_DIR, linted, run_wsgi

from wsgikit import Compress

BIG = "wsgikit and Django, one compression layer only.\n" * 200


def get(app: WSGIApplication, **environ: str) -> tuple[str, dict[str, str], bytes]:
    """One GET of ``/big`` (no test client: WebTest would decode the body)."""
    calls, chunks, _ = run_wsgi(linted(app), {"PATH_INFO": "/big", **environ})
    status, headers = calls[-1]
    return status, dict(headers), b"".join(chunks)


def test_django_gzip_and_compress_compress_once(
    django_site: Callable[..., WSGIApplication],
) -> None:
    """Django's GZipMiddleware already encoded the body: Compress passes it through."""
    app = Compress(django_site(MIDDLEWARE=["django.middleware.gzip.GZipMiddleware"]))
    _, headers, body = get(app, HTTP_ACCEPT_ENCODING="gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body).decode() == BIG


def test_django_conditional_get_behind_compress(
    django_site: Callable[..., WSGIApplication],
) -> None:
    """ConditionalGetMiddleware's ETag, as Compress rewrites it, still gives a 304."""
    app = Compress(django_site(MIDDLEWARE=["django.middleware.http.ConditionalGetMiddleware"]))
    status, headers, body = get(app, HTTP_ACCEPT_ENCODING="gzip")
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body).decode() == BIG
    status, _, body = get(app, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=headers["ETag"])
    assert (status[:3], body) == ("304", b"")


def test_django_remote_user_middleware_behind_basic_auth() -> None:
    """BasicAuth sets REMOTE_USER; Django's RemoteUserMiddleware logs that user
    in. A client's ``Remote-User`` header is ``HTTP_REMOTE_USER``, never it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS_DIR)])}
    child = subprocess.run(
        [sys.executable, str(TESTS_DIR / "e2e_django_remote_user.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(child.stdout)
    assert seen == {
        "good": ["200", {"user": "alice", "authenticated": True}],
        "wrong password": ["401", None],
        "forged Remote-User header": ["200", {"user": "", "authenticated": False}],
        # No REMOTE_USER on a path BasicAuth exempts: logged out, unless persistent.
        "exempt path": {"user": "", "authenticated": False},
        "exempt path, persistent": {"user": "alice", "authenticated": True},
    }
