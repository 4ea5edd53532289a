"""Which ``{% block %}``s of a Django template are rendered, following its ``{% extends %}``.

Used by the system check that the base template renders Chatter's ``content`` block: a
base template without it gives every Chatter page as a blank 200 answer. The answer is
``None`` whenever it cannot be known for sure without rendering (another template engine,
an ``{% extends %}`` of a variable, a parent that does not load).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from django.template import Template as DjangoTemplate
from django.template.base import FilterExpression, Node, NodeList, VariableNode
from django.template.loader import get_template
from django.template.loader_tags import BlockNode, ExtendsNode

# Longest {% extends %} chain followed (Django itself refuses recursive extends).
_MAX_DEPTH = 20

N = TypeVar("N", bound=Node)


def _nodes(nodelist: NodeList, kind: type[N]) -> list[N]:
    """``nodelist.get_nodes_by_type(kind)``, as the ``kind`` django-stubs does not keep."""
    return [node for node in nodelist.get_nodes_by_type(kind) if isinstance(node, kind)]


def rendered_blocks(name: str) -> set[str] | None:
    """Names of the blocks rendering template ``name`` shows, or None when unknowable."""
    chain = _chain(name)
    if chain is None:
        return None
    # The most derived definition of each block comes first in its list.
    definitions: dict[str, list[BlockNode]] = {}
    for template in chain:
        for block in _nodes(template.nodelist, BlockNode):
            definitions.setdefault(block.name, []).append(block)
    rendered: set[str] = set()
    pending = list(_top_blocks(chain[-1].nodelist))
    while pending:
        block = pending.pop()
        if block.name in rendered:
            continue
        rendered.add(block.name)
        versions = definitions.get(block.name, [block])
        # {{ block.super }} shows the parent's version too: follow every version then.
        shown = versions if any(_uses_super(v) for v in versions) else versions[:1]
        for version in shown:
            pending.extend(_top_blocks(version.nodelist))
    return rendered


def _chain(name: str) -> list[DjangoTemplate] | None:
    """The template and its ancestors, most derived first; None if not all are certain."""
    chain: list[DjangoTemplate] = []
    current: object = get_template(name)
    for _ in range(_MAX_DEPTH):
        template = getattr(current, "template", None)
        if not isinstance(template, DjangoTemplate):
            return None  # another engine (Jinja2...): no {% block %} to look at
        chain.append(template)
        extends = [n for n in template.nodelist if isinstance(n, ExtendsNode)]
        if not extends:
            return chain
        parent = extends[0].parent_name
        # Always a FilterExpression where {% extends %} made it (django-stubs allows a Node).
        if (
            not isinstance(parent, FilterExpression)
            or parent.filters
            or not isinstance(parent.var, str)
        ):
            return None  # {% extends some_variable %}: known only when rendering
        try:
            current = get_template(parent.var)
        except Exception:  # a parent that does not load fails the page anyway
            return None
    return None


def _top_blocks(nodelist: NodeList) -> Iterator[BlockNode]:
    """The blocks in ``nodelist`` that are not inside another block (inside {% if %} too)."""
    for node in nodelist:
        if isinstance(node, BlockNode):
            yield node
            continue
        yield from _children_blocks(node)


def _children_blocks(node: Node) -> Iterator[BlockNode]:
    for attr in node.child_nodelists:
        children = getattr(node, attr, None)
        if children:
            yield from _top_blocks(children)


def _uses_super(block: BlockNode) -> bool:
    return any(
        node.filter_expression.token.split("|")[0].strip() == "block.super"
        for node in _nodes(block.nodelist, VariableNode)
    )
