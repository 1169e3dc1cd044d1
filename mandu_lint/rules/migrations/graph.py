"""The Django migration graph, built the way Django's ``MigrationLoader`` builds it for a fresh
database: internal then external ``dependencies`` (``__first__``/``__latest__`` resolved,
``swappable_dependency`` mapped through the settings), ``run_before`` edges, then every squashed
migration replacing the nodes in its ``replaces`` (their edges move to it). What is left
pointing nowhere is a missing dependency; apps not in the project are external, not missing.

The replay order is Django's ``migrate`` plan: each leaf in sorted order, parents first. The
Alembic graph lives in ``alembic_graph.py``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Set, Tuple

from . import pyast
from .discover import DjangoMigrationFile
from .records import Problem

Node = Tuple[str, str]  # (app_label, migration name)
DEFAULT_SWAPPABLE = {"AUTH_USER_MODEL": "auth.User"}


@dataclass
class Dependency:
    target: Node
    line: int
    swappable: Optional[str] = None  # the setting name, for swappable_dependency()


@dataclass
class DjangoNode:
    key: Node
    file: str
    line: int
    dependencies: List[Dependency] = field(default_factory=list)
    run_before: List[Dependency] = field(default_factory=list)
    replaces: List[Node] = field(default_factory=list)
    initial: bool = False
    atomic: bool = True


@dataclass
class DjangoGraph:
    nodes: Dict[Node, DjangoNode] = field(default_factory=dict)
    parents: Dict[Node, Dict[Node, Tuple[str, int]]] = field(default_factory=dict)
    replaced: Dict[Node, Node] = field(default_factory=dict)  # replaced node -> squashed node
    external: Set[Node] = field(default_factory=set)
    problems: List[Problem] = field(default_factory=list)
    order: List[Node] = field(default_factory=list)

    @property
    def apps(self) -> List[str]:
        return sorted({app for app, _ in self.nodes})

    def children(self, key: Node) -> List[Node]:
        return sorted(child for child, parents in self.parents.items() if key in parents)

    def leaves(self, app: str) -> List[Node]:
        """Nodes of ``app`` no other node of the same app depends on (Django's leaf_nodes)."""
        inner = {p for child, ps in self.parents.items() if child[0] == app for p in ps if p[0] == app}
        return sorted(k for k in self.nodes if k[0] == app and k not in inner)

    def roots(self, app: str) -> List[Node]:
        return sorted(k for k in self.nodes if k[0] == app
                      and not any(p[0] == app for p in self.parents.get(k, {})))


def read_node(mig: DjangoMigrationFile, swappable: Mapping[str, str]) -> DjangoNode:
    """The graph-relevant class attributes of a Migration class, with their lines."""
    values = pyast.assignments(mig.cls.body)
    node = DjangoNode((mig.app_label, mig.name), mig.path, mig.cls.lineno)
    node.dependencies = _dependencies(values.get("dependencies"), swappable)
    node.run_before = _dependencies(values.get("run_before"), swappable)
    node.replaces = [d.target for d in _dependencies(values.get("replaces"), swappable)]
    node.initial = pyast.literal(values.get("initial", (None, 0))[0]) is True
    node.atomic = pyast.literal(values.get("atomic", (None, 0))[0]) is not False
    return node


def _dependencies(value, swappable: Mapping[str, str]) -> List[Dependency]:
    if value is None or not isinstance(value[0], (ast.List, ast.Tuple)):
        return []
    out = []
    for element in value[0].elts:
        pair = pyast.literal(element)
        if isinstance(pair, (tuple, list)) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
            out.append(Dependency((pair[0], pair[1]), element.lineno))
        elif pyast.last_part(pyast.call_name(element)) == "swappable_dependency" and element.args:
            out.append(_swappable(element, swappable))
    return out


def _swappable(call: ast.Call, swappable: Mapping[str, str]) -> Dependency:
    arg = call.args[0]
    setting = pyast.last_part(pyast.dotted(arg)) or None
    value = pyast.str_value(arg) or swappable.get(setting or "") or DEFAULT_SWAPPABLE.get(setting or "", "?.?")
    return Dependency((value.split(".", 1)[0], "__first__"), call.lineno, setting or value)


def build_django_graph(files: List[DjangoMigrationFile], swappable: Optional[Mapping[str, str]] = None) -> DjangoGraph:
    graph = DjangoGraph()
    for mig in files:
        node = read_node(mig, swappable or {})
        graph.nodes[node.key] = node
        graph.parents[node.key] = {}
    apps = {key[0] for key in graph.nodes}
    for node in list(graph.nodes.values()):  # internal first: __first__/__latest__ need them
        for dep in node.dependencies:
            if dep.target[0] == node.key[0] and dep.target[1] not in ("__first__", "__latest__"):
                graph.parents[node.key][dep.target] = (node.file, dep.line)
    for node in list(graph.nodes.values()):
        _external_edges(graph, node, apps)
    for key in sorted(k for k, n in graph.nodes.items() if n.replaces):
        _squash(graph, key)
    _report_missing(graph)
    _report_cycles(graph)
    _report_leaves(graph)
    graph.order = plan(graph)
    return graph


def _resolve(graph: DjangoGraph, target: Node, app: str, apps: Set[str]) -> Optional[Node]:
    if target[0] not in apps:
        graph.external.add(target)
        return None
    if target[1] == "__first__":
        roots = graph.roots(target[0])
        return roots[0] if roots and target[0] != app else None
    if target[1] == "__latest__":
        leaves = graph.leaves(target[0])
        return leaves[0] if leaves else None
    return target


def _external_edges(graph: DjangoGraph, node: DjangoNode, apps: Set[str]) -> None:
    for dep in node.dependencies:
        if dep.target[0] != node.key[0]:
            parent = _resolve(graph, dep.target, node.key[0], apps)
            if parent is not None:
                graph.parents[node.key][parent] = (node.file, dep.line)
    for dep in node.run_before:
        child = _resolve(graph, dep.target, node.key[0], apps)
        if child is not None:
            graph.parents.setdefault(child, {})[node.key] = (node.file, dep.line)


def _squash(graph: DjangoGraph, squashed: Node) -> None:
    """Django's remove_replaced_nodes: replaced nodes leave the graph, their edges to the
    outside move to the squashed migration."""
    replaced = set(graph.nodes[squashed].replaces)
    for key in replaced:
        if key in graph.nodes:
            graph.replaced[key] = squashed
            del graph.nodes[key]
        own = graph.parents.pop(key, {})
        for parent, origin in own.items():
            if parent not in replaced and parent != squashed:
                graph.parents[squashed].setdefault(parent, origin)
        for child, parents in graph.parents.items():
            if key in parents:
                origin = parents.pop(key)
                if child not in replaced and child != squashed:
                    parents.setdefault(squashed, origin)


def _report_missing(graph: DjangoGraph) -> None:
    for child, parents in sorted(graph.parents.items()):
        for parent, (file, line) in sorted(parents.items()):
            if parent not in graph.nodes:
                graph.problems.append(Problem(
                    "missing-dependency", f"{child[0]}.{child[1]} depends on {parent[0]}.{parent[1]}, "
                    "which does not exist", file, line))
        for parent in [p for p in parents if p not in graph.nodes]:
            del parents[parent]
    for orphan in [c for c in graph.parents if c not in graph.nodes]:  # run_before on a missing node
        del graph.parents[orphan]


def _report_cycles(graph: DjangoGraph) -> None:
    for component in strongly_connected(graph.parents):
        members = sorted(component)
        first = graph.nodes[members[0]]
        names = ", ".join(f"{a}.{n}" for a, n in members)
        related = tuple((graph.nodes[m].file, graph.nodes[m].line) for m in members[1:])
        graph.problems.append(Problem("cycle", f"migration dependency cycle: {names}",
                                      first.file, first.line, related))


def _report_leaves(graph: DjangoGraph) -> None:
    for app in graph.apps:
        leaves = graph.leaves(app)
        if len(leaves) > 1:
            last = graph.nodes[leaves[-1]]
            names = ", ".join(name for _, name in leaves)
            related = tuple((graph.nodes[k].file, graph.nodes[k].line) for k in leaves[:-1])
            graph.problems.append(Problem("multiple-leaves", f"app {app!r} has {len(leaves)} leaf migrations "
                                          f"({names}); a merge migration is missing", last.file, last.line, related))


def strongly_connected(edges: Mapping) -> List[Set]:
    """Cycles of a parent map (Tarjan, iterative): components of more than one node, or a
    node that is its own parent."""
    index: Dict = {}
    low: Dict = {}
    on_stack: Set = set()
    stack: List = []
    out: List[Set] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges.get(node, ()):
                    out.append(component)
    return out


def plan(graph: DjangoGraph) -> List[Node]:
    """``migrate``'s order on a fresh database, as Django's ``iterative_dfs`` gives it: for each
    leaf (sorted), its ancestors depth first (sorted parents pushed on a stack, so the last one
    is walked first), post-order. A cycle is cut where the walk meets it again."""
    done: Set[Node] = set()
    order: List[Node] = []
    leaves = sorted(k for app in graph.apps for k in graph.leaves(app))
    for leaf in leaves + sorted(graph.nodes):
        stack: List[Tuple[Node, bool]] = [(leaf, False)]
        entered: Set[Node] = set()
        while stack:
            key, processed = stack.pop()
            if key in done:
                continue
            if processed:
                done.add(key)
                order.append(key)
            elif key not in entered:
                entered.add(key)
                stack.append((key, True))
                stack.extend((p, False) for p in sorted(graph.parents.get(key, {})))
    return order
