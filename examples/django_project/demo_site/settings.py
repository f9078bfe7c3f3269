"""Settings of the example project: the least Django needs, and what wsgikit needs.

Run it (from ``examples/django_project``)::

    DJANGO_SECRET_KEY=... wsgikit serve demo_site.wsgi:application
"""

from __future__ import annotations

import logging
import os

# Read the key from the environment; the fallback is a fixed, clearly labelled
# development key (a random one per process would differ between workers).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    SECRET_KEY = "development-only-key-of-the-wsgikit-django-example-never-use-it"
    logging.getLogger(__name__).warning(
        "DJANGO_SECRET_KEY is not set: using the example's development key"
    )

DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
# The Host Django validates is the one ProxyFix believed (X-Forwarded-Host from
# a trusted proxy), so list the public name here.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "api.example.com"]

# Let exceptions leave Django so that JSONErrors sees them and their type
# (exceptions={TimeoutError: 504}); without it Django renders its own 500,
# which JSONErrors still turns into problem JSON, but as a plain 500.
DEBUG_PROPAGATE_EXCEPTIONS = True

# SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST stay unset on purpose:
# ProxyFix (wsgi.py) decides what to believe of the forwarded headers and
# rewrites wsgi.url_scheme and HTTP_HOST, which Django reads. Setting them
# too would let Django believe X-Forwarded-Proto/-Host from any client again.

INSTALLED_APPS: list[str] = []
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "demo_site.urls"
WSGI_APPLICATION = "demo_site.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
