"""wsgikit: composable, framework-agnostic WSGI (PEP 3333) middlewares.

Each middleware wraps any WSGI application and adds one concern; every class is
also importable from its own module (``wsgikit.proxy``, ``wsgikit.rewrite``,
``wsgikit.compress``, ``wsgikit.errors``).
"""

from __future__ import annotations

from ._compose import compose as compose
from .compress import Compress as Compress
from .errors import JSONErrors as JSONErrors
from .proxy import FakeForwardedFor as FakeForwardedFor
from .proxy import ProxyFix as ProxyFix
from .rewrite import BodyRewriter as BodyRewriter
from .rewrite import InjectHTML as InjectHTML

__all__ = [
    "BodyRewriter",
    "Compress",
    "FakeForwardedFor",
    "InjectHTML",
    "JSONErrors",
    "ProxyFix",
    "compose",
]
