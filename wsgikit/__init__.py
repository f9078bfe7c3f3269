"""wsgikit: composable, framework-agnostic WSGI (PEP 3333) middlewares.

Each middleware wraps any WSGI application and adds one concern; every class is
also importable from its own module (``wsgikit.proxy``, ``wsgikit.rewrite``,
``wsgikit.compress``, ``wsgikit.errors``, ``wsgikit.sessions``, ``wsgikit.auth``,
``wsgikit.http_proxy``).
"""

from __future__ import annotations

from ._compose import compose as compose
from .auth import Authorization as Authorization
from .auth import AuthParser as AuthParser
from .auth import BasicAuth as BasicAuth
from .auth import BearerAuth as BearerAuth
from .auth import parse_authorization as parse_authorization
from .compress import Compress as Compress
from .errors import JSONErrors as JSONErrors
from .http_proxy import HTTPProxy as HTTPProxy
from .proxy import FakeForwardedFor as FakeForwardedFor
from .proxy import ProxyFix as ProxyFix
from .rewrite import BodyRewriter as BodyRewriter
from .rewrite import InjectHTML as InjectHTML
from .sessions import Session as Session
from .sessions import SessionMiddleware as SessionMiddleware
from .sessions import get_session as get_session

__all__ = [
    "AuthParser",
    "Authorization",
    "BasicAuth",
    "BearerAuth",
    "BodyRewriter",
    "Compress",
    "FakeForwardedFor",
    "HTTPProxy",
    "InjectHTML",
    "JSONErrors",
    "ProxyFix",
    "Session",
    "SessionMiddleware",
    "compose",
    "get_session",
    "parse_authorization",
]
