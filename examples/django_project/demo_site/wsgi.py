"""The WSGI entry point: Django behind the recommended wsgikit stack.

    wsgikit serve demo_site.wsgi:application        # from examples/django_project

A request meets ProxyFix first (it decides, from the peer address, what to
believe of X-Forwarded-*, so that JSONErrors' ``instance`` and Django's
``build_absolute_uri()`` see the real scheme and host), then JSONErrors (every
error from Django or below as problem JSON), then Compress, then Django.
"""

from __future__ import annotations

import os
from functools import partial

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from wsgikit import Compress, JSONErrors, ProxyFix, compose

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_site.settings")

django_app = get_wsgi_application()

#: The addresses of your reverse proxies (here: one on this machine).
TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES", "127.0.0.1 ::1").split()

application = compose(
    django_app,
    partial(ProxyFix, x_for=1, x_proto=1, x_host=1, trusted=TRUSTED_PROXIES, clear_untrusted=True),
    partial(JSONErrors, exceptions={TimeoutError: 504}, debug=settings.DEBUG),
    Compress,
)
