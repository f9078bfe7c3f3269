"""Every example in examples/ imports and answers a request without a server error."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from wsgiref.types import WSGIApplication
from wsgiref.validate import validator

import pytest
import webtest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def wsgi_app(module: ModuleType) -> WSGIApplication:
    """The example's WSGI app: ``application``, ``app`` or ``make_app()``."""
    for name in ("application", "app"):
        found = getattr(module, name, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    app: WSGIApplication = module.make_app()
    return app


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda path: path.name)
def test_example_answers_without_a_server_error(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    app = wsgi_app(load(path))
    response = webtest.TestApp(validator(app)).get("/", expect_errors=True)
    assert response.status_int < 500, response.body[:300]
