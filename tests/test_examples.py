"""Every example in examples/ imports and answers a request without a server error."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from wsgiref.types import WSGIApplication
from wsgiref.validate import validator

import pytest
import webtest
from helpers import ROOT, import_file

EXAMPLES = ROOT / "examples"


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
    app = wsgi_app(import_file(path, f"example_{path.stem}"))
    response = webtest.TestApp(validator(app)).get("/", expect_errors=True)
    assert response.status_int < 500, response.body[:300]
