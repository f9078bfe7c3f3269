"""Django's RemoteUserMiddleware behind wsgikit's BasicAuth, run in a child
process (it needs Django's auth app and a database, which the test process's
shared Django settings do not have). Prints what Django saw, as JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="e2e-remote-user-" + "x" * 40,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    LOGGING_CONFIG=None,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.auth.middleware.RemoteUserMiddleware",
    ],
    AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.RemoteUserBackend"],
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

from wsgikit import BasicAuth  # noqa: E402


def me(request: HttpRequest) -> JsonResponse:
    user = request.user
    return JsonResponse({"user": user.get_username(), "authenticated": user.is_authenticated})


urlpatterns = [path("me", me), path("public/me", me)]

# {SHA} of "wonderland" (htpasswd -s): no bcrypt needed here.
ALICE = "{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ="


def stack() -> BasicAuth:
    """Django (its middleware as configured now) behind BasicAuth."""
    return BasicAuth(get_wsgi_application(), users={"alice": ALICE}, exempt=["/public"])


application = stack()


def request(path: str, **headers: str) -> list[Any]:
    """[status code, JSON body or None, the session cookie set or None]."""
    environ: dict[str, Any] = {"PATH_INFO": path, **headers}
    setup_testing_defaults(environ)
    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answers.append((status, headers))
        return lambda data: None

    result: Iterable[bytes] = application(environ, start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    status, response_headers = answers[-1]
    cookies = [v.split(";")[0].strip() for k, v in response_headers if k.lower() == "set-cookie"]
    return [status[:3], json.loads(body) if body.startswith(b"{") else None, *cookies[:1]]


def logged_in_then_exempt_path() -> Any:
    """Log in through BasicAuth, then visit an exempt path with the session cookie."""
    good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    cookie = request("/me", HTTP_AUTHORIZATION=good)[2]
    return request("/public/me", HTTP_COOKIE=cookie)[1]


if __name__ == "__main__":
    call_command("migrate", verbosity=0)
    from django.test.utils import override_settings

    good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    bad = "Basic " + base64.b64encode(b"alice:wrong").decode()
    seen = {
        "good": request("/me", HTTP_AUTHORIZATION=good)[:2],
        "wrong password": request("/me", HTTP_AUTHORIZATION=bad)[:2],
        "forged Remote-User header": request("/public/me", HTTP_REMOTE_USER="admin")[:2],
        "exempt path": logged_in_then_exempt_path(),
    }
    persistent = "django.contrib.auth.middleware.PersistentRemoteUserMiddleware"
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE[:2], persistent]):
        application = stack()
        seen["exempt path, persistent"] = logged_in_then_exempt_path()
    print(json.dumps(seen))
