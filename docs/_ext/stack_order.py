"""The ``stack-order`` directive: the order rules, from ``wsgikit._compose``.

``compose()``, the PasteDeploy factories, ``wsgikit serve`` and ``wsgikit
check`` enforce ``ORDER_RULES``; the Stack order page shows the same rows,
so the page and the check cannot disagree. The two whole-group rules
(``RequestID`` outside everything, ``AccessLog`` outside every layer that
answers) are one row per layer in the table of rules and are said once in
prose on the page instead.

.. code-block:: rst

    .. stack-order::
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

GROUPS = ("RequestID", "AccessLog")


def order_rst() -> list[str]:
    from wsgikit._compose import ORDER_RULES, RECOMMENDED_ORDER

    lines = [
        " → ".join(f":class:`~wsgikit.{name}`" for name in RECOMMENDED_ORDER),
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 20 60",
        "",
        "   * - outside",
        "     - inside",
        "     - what goes wrong the other way round",
    ]
    for rule in ORDER_RULES:
        if rule.outer in GROUPS:
            continue
        lines += [
            f"   * - :class:`~wsgikit.{rule.outer}`",
            f"     - :class:`~wsgikit.{rule.inner}`",
            f"     - {rule.consequence}",
        ]
    return lines


class StackOrder(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        import wsgikit._compose

        self.env.note_dependency(wsgikit._compose.__file__)
        container = nodes.container(classes=["stack-order"])
        self.state.nested_parse(
            StringList(order_rst(), source="wsgikit._compose"), self.content_offset, container
        )
        return container.children


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("stack-order", StackOrder)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
