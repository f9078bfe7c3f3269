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
application = BasicAuth(get_wsgi_application(), users={"alice": ALICE}, exempt=["/public"])


def request(path: str, **headers: str) -> list[Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, **headers}
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result: Iterable[bytes] = application(environ, start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    return [statuses[-1][:3], json.loads(body) if body.startswith(b"{") else None]


if __name__ == "__main__":
    call_command("migrate", verbosity=0)
    good = "Basic " + base64.b64encode(b"alice:wonderland").decode()
    bad = "Basic " + base64.b64encode(b"alice:wrong").decode()
    print(
        json.dumps(
            {
                "good": request("/me", HTTP_AUTHORIZATION=good),
                "wrong password": request("/me", HTTP_AUTHORIZATION=bad),
                "forged Remote-User header": request("/public/me", HTTP_REMOTE_USER="admin"),
            }
        )
    )
