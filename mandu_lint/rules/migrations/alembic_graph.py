"""The Alembic revision graph of one environment: ``revision``, ``down_revision`` (a string, a
tuple for merges, or None for a base), ``depends_on`` (revisions or branch labels) and
``branch_labels``.

Problems: a revision id used twice, a ``down_revision``/``depends_on`` naming nothing, a cycle,
and several heads — except heads on declared branches: each head takes the nearest
``branch_labels`` of its ancestry, and only heads sharing a label (or several unlabelled ones)
are a problem, since ``alembic upgrade head`` then refuses to run.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from . import pyast
from .discover import AlembicRevisionFile
from .graph import strongly_connected
from .records import Problem


@dataclass
class AlembicRevision:
    rev: str
    file: str
    line: int
    down: Tuple[str, ...] = ()
    down_line: int = 0
    depends_on: Tuple[str, ...] = ()
    branch_labels: Tuple[str, ...] = ()
    down_known: bool = True  # False when down_revision is not a literal


@dataclass
class AlembicGraph:
    env: str
    revisions: Dict[str, AlembicRevision] = field(default_factory=dict)
    parents: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    heads: List[str] = field(default_factory=list)
    bases: List[str] = field(default_factory=list)
    problems: List[Problem] = field(default_factory=list)
    order: List[str] = field(default_factory=list)

    def labels(self) -> Dict[str, str]:
        return {label: rev.rev for rev in self.revisions.values() for label in rev.branch_labels}


def read_revision(rev_file: AlembicRevisionFile) -> Optional[AlembicRevision]:
    values = pyast.assignments(rev_file.tree.body)
    rev_node, line = values["revision"]
    rev_id = pyast.str_value(rev_node)
    if not rev_id:
        return None
    down_node, down_line = values["down_revision"]
    down = pyast.literal(down_node)
    revision = AlembicRevision(rev_id, rev_file.path, line, down_line=down_line)
    if down is None:
        revision.down = ()
    elif pyast.string_list(down_node) is not None:
        revision.down = pyast.string_list(down_node)
    else:
        revision.down_known = False
    revision.depends_on = pyast.string_list(values.get("depends_on", (None, 0))[0]) or ()
    revision.branch_labels = pyast.string_list(values.get("branch_labels", (None, 0))[0]) or ()
    return revision


def build_alembic_graph(env: str, files: Sequence[AlembicRevisionFile]) -> AlembicGraph:
    graph = AlembicGraph(env)
    for rev_file in sorted(files, key=lambda f: f.path):
        revision = read_revision(rev_file)
        if revision is None:
            continue
        first = graph.revisions.get(revision.rev)
        if first is not None:
            graph.problems.append(Problem("duplicate-revision", f"revision id {revision.rev!r} is also "
                                          f"declared in {first.file}", revision.file, revision.line,
                                          ((first.file, first.line),)))
            continue
        graph.revisions[revision.rev] = revision
    _link(graph)
    for component in strongly_connected(graph.parents):
        members = sorted(component, key=lambda r: graph.revisions[r].file)
        first = graph.revisions[members[0]]
        graph.problems.append(Problem("cycle", "revision cycle: " + " -> ".join(members), first.file, first.line,
                                      tuple((graph.revisions[m].file, graph.revisions[m].line) for m in members[1:])))
    referenced = {d for rev in graph.revisions.values() for d in rev.down}
    graph.heads = sorted(r for r in graph.revisions if r not in referenced)
    graph.bases = sorted(r for r, rev in graph.revisions.items() if rev.down_known and not rev.down)
    _report_heads(graph)
    graph.order = _order(graph)
    return graph


def _link(graph: AlembicGraph) -> None:
    labels = graph.labels()
    for rev in graph.revisions.values():
        parents = []
        for down in rev.down:
            if down in graph.revisions:
                parents.append(down)
            else:
                graph.problems.append(Problem("missing-down-revision", f"down_revision {down!r} of {rev.rev} "
                                              "names no revision", rev.file, rev.down_line))
        for dep in rev.depends_on:
            target = dep if dep in graph.revisions else labels.get(dep)
            if target is None:
                graph.problems.append(Problem("missing-depends-on", f"depends_on {dep!r} of {rev.rev} names "
                                              "no revision or branch label", rev.file, rev.line))
            else:
                parents.append(target)
        graph.parents[rev.rev] = tuple(dict.fromkeys(parents))


def nearest_label(graph: AlembicGraph, rev_id: str) -> Optional[str]:
    """The branch label declared closest to a revision along its down_revision ancestry."""
    seen, frontier = set(), [rev_id]
    while frontier:
        nxt = []
        for current in frontier:
            rev = graph.revisions.get(current)
            if rev is None or current in seen:
                continue
            seen.add(current)
            if rev.branch_labels:
                return sorted(rev.branch_labels)[0]
            nxt.extend(sorted(rev.down))
        frontier = nxt
    return None


def _report_heads(graph: AlembicGraph) -> None:
    by_label: Dict[Optional[str], List[str]] = {}
    for head in graph.heads:
        by_label.setdefault(nearest_label(graph, head), []).append(head)
    for label, heads in sorted(by_label.items(), key=lambda item: str(item[0])):
        if len(heads) < 2:
            continue
        revs = sorted((graph.revisions[h] for h in heads), key=lambda r: r.file)
        where = f"on branch {label!r}" if label else "and no branch labels tell them apart"
        names = ", ".join(r.rev for r in revs)
        graph.problems.append(Problem("multiple-heads", f"{len(heads)} heads {where} ({names}); "
                                      "a merge revision is missing", revs[-1].file, revs[-1].line,
                                      tuple((r.file, r.line) for r in revs[:-1])))


def _order(graph: AlembicGraph) -> List[str]:
    """Parents before children; ties by file path. Revisions caught in a cycle come last."""
    pending = {rev: len(parents) for rev, parents in graph.parents.items()}
    children: Dict[str, List[str]] = {}
    for rev, parents in graph.parents.items():
        for parent in parents:
            children.setdefault(parent, []).append(rev)
    heap = [(graph.revisions[r].file, r) for r, n in pending.items() if n == 0]
    heapq.heapify(heap)
    order = []
    while heap:
        _, rev = heapq.heappop(heap)
        order.append(rev)
        for child in children.get(rev, ()):
            pending[child] -= 1
            if pending[child] == 0:
                heapq.heappush(heap, (graph.revisions[child].file, child))
    placed = set(order)
    order.extend(sorted((r for r in graph.revisions if r not in placed), key=lambda r: graph.revisions[r].file))
    return order
