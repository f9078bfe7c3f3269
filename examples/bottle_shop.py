"""A small Bottle app, served through the PasteDeploy pipeline in ``pipeline.ini``.

wsgikit serve examples/pipeline.ini
curl -i http://127.0.0.1:8000/items/1 -H 'X-Forwarded-For: 203.0.113.9'
curl -i http://127.0.0.1:8000/items/99        # a JSON 404 (problem details)
curl -i --compressed http://127.0.0.1:8000/items
"""

from __future__ import annotations

from typing import Any

import bottle

ITEMS = {1: "tea", 2: "coffee", 3: "cocoa"}


def make_app(global_conf: dict[str, Any] | None = None, **settings: Any) -> bottle.Bottle:
    """``paste.app_factory`` of the shop (``use = call:bottle_shop:make_app``)."""
    app = bottle.Bottle()

    @app.get("/items")
    def list_items() -> dict[str, Any]:
        # Long enough to be worth compressing.
        return {"items": [{"id": key, "name": name} for key, name in ITEMS.items()] * 50}

    @app.get("/items/<item_id:int>")
    def get_item(item_id: int) -> dict[str, Any]:
        if item_id not in ITEMS:
            bottle.abort(404, f"There is no item {item_id}.")
        return {"id": item_id, "name": ITEMS[item_id], "client": bottle.request.remote_addr}

    return app


if __name__ == "__main__":
    from pathlib import Path

    from wsgikit.cli import main

    main(["serve", str(Path(__file__).with_name("pipeline.ini"))])
