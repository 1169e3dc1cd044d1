"""The layer model of ``mandu.yaml``'s ``layers`` section: Route Handler → Application Service →
Repository → DB Adapter.

A module belongs to the first layer (outermost first) whose globs match its path; a module in no
layer is unconstrained. The layering rules (MDB201, MDB202) are off while no layer has a glob:
most Django apps call the ORM from their views on purpose, so nothing is enforced until a team
says what its layers are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from ...core.tags import EV, RT, TK

LAYERS = ("handler", "service", "repository", "adapter")
ABOVE_REPOSITORY = ("handler", "service")


@dataclass(frozen=True)
class LayerMap:
    """Which layer a project file belongs to, from the settings' compiled globs."""

    globs: Tuple[tuple, ...]  # ((layer, GlobSet), ...) outermost first, only layers with globs
    allow_skip: bool

    @property
    def configured(self) -> bool:
        return bool(self.globs)

    def layer_of(self, relpath: Optional[str]) -> Optional[str]:
        if not relpath:
            return None
        for layer, globset in self.globs:
            if globset.match(relpath):
                return layer
        return None

    def has(self, layer: str) -> bool:
        return any(name == layer for name, _ in self.globs)

    def below(self, upper: str, lower: str) -> int:
        """How many layers ``lower`` sits under ``upper`` (negative: above it). Layers the
        config leaves empty do not count, so a project without services lets handlers reach
        repositories without "skipping" anything."""
        present = [name for name, _ in self.globs]
        return present.index(lower) - present.index(upper)


def layer_map(settings) -> LayerMap:
    """The project's :class:`LayerMap` (cheap: the settings cache their compiled globs)."""
    globs = []
    for layer in LAYERS:
        globset = settings.globset(layer, "layers")
        if globset:
            globs.append((layer, globset))
    skip = settings.get("allow-skip", "layers")
    return LayerMap(tuple(globs), True if skip is None else bool(skip))


def module_layer(index, lmap: LayerMap, module: str) -> Tuple[Optional[str], Optional[str]]:
    """(layer, project path) of a dotted module or of a name defined in one (its longest module
    prefix); (None, None) outside the project."""
    head = module
    while head:
        rel = index.module_rel.get(head)
        if rel is not None:
            return lmap.layer_of(rel), rel
        head = head.rpartition(".")[0]
    return None, None


# -- which models a database call touches -----------------------------------------------------
_SELECT_ARG_DEPTH = 12


def select_model(typer, ref) -> Optional[str]:
    """The model a ``select(Model)...where(...)`` chain selects from, or None."""
    for _ in range(_SELECT_ARG_DEPTH):
        if ref is None or ref[0] != RT.CALL:
            return None
        callee = typer.type_of(ref[1])
        if callee is not None and callee[0] == TK.EXT:
            from ...project.types import SELECTS

            if callee[1] in SELECTS and ref[2]:
                return _model_in(typer, ref[2][0])
            return None
        if ref[1][0] != RT.ATTR:
            return None
        ref = ref[1][1]
    return None


def _model_in(typer, ref) -> Optional[str]:
    """``Model`` or ``Model.column`` as an argument: the model."""
    for cand in (ref, ref[1] if ref is not None and ref[0] == RT.ATTR else None):
        t = typer.type_of(cand) if cand is not None else None
        if t is not None and t[0] in (TK.MODEL, TK.INST, TK.SASELECT, TK.SAQUERY, TK.QS, TK.MANAGER) and t[1]:
            return t[1]
    return None


def touched_model(typer, call_ref) -> Optional[str]:
    """The model a database call reads or writes: the receiver's model for Django managers,
    querysets and instances, the first argument's for SQLAlchemy session calls."""
    if call_ref is None or call_ref[0] != RT.CALL:
        return None
    callee = typer.type_of(call_ref[1])
    if callee is not None and callee[0] == TK.EXT and call_ref[2]:
        from ...project.types import GET_OR_404

        return _model_in(typer, call_ref[2][0]) if callee[1] in GET_OR_404 else None
    if callee is None or callee[0] != TK.METHOD:
        return None
    base = callee[1]
    if base[0] in (TK.MANAGER, TK.QS, TK.RELMGR, TK.INST, TK.SAQUERY) and len(base) > 1:
        return base[1]
    if base[0] == TK.SASESSION and call_ref[2]:
        first = call_ref[2][0]
        return _model_in(typer, first) or select_model(typer, first)
    return None


# -- repository methods by model ---------------------------------------------------------------
def access_key(ev: tuple) -> str:
    """"query" for any read; a write keeps its operation (``write:session.delete()``), so that
    a delete is never answered with a repository method that adds."""
    return "query" if ev[0] == EV.QUERY else f"write:{ev[1]}"


def repository_methods(index, lmap: LayerMap) -> Dict[Tuple[str, str], List[str]]:
    """(model qual, :func:`access_key`) -> qualified names of repository-layer functions whose
    own calls access that model that way, those doing nothing else with it first; computed once
    per index (it reads every repository module)."""
    memo = index.derived("layers.repository_methods", dict)
    hit = memo.get("value")
    if hit is not None and hit[0] == lmap:
        return hit[1]
    kinds: Dict[str, Dict[str, set]] = {}  # function -> model -> {"query", "write"}
    for rel in index.files:
        if lmap.layer_of(rel) == "repository":
            facts = index.files.get(rel)
            for qual, fn in sorted((facts.functions if facts is not None else {}).items()):
                if not fn.name.startswith("_"):
                    kinds[qual] = _models_touched(index.typer, fn)
    out: Dict[Tuple[str, str], List[str]] = {}
    for pure in (True, False):
        for qual, models in kinds.items():
            for model, found in models.items():
                for kind in found:
                    if (found == {kind}) == pure:
                        out.setdefault((model, kind), []).append(qual)
    memo["value"] = (lmap, out)
    return out


def _models_touched(typer, fn) -> Dict[str, set]:
    found: Dict[str, set] = {}
    for ref, _line, _col in fn.calls:
        ev = typer.event(ref)
        if ev is not None and ev[0] in (EV.QUERY, EV.WRITE, EV.STAGE):
            model = touched_model(typer, ref)
            if model is not None:
                found.setdefault(model, set()).add(access_key(ev))
    return found


def short_name(index, qual: str) -> str:
    """``app.repositories.orders.OrderRepository.for_user`` → ``OrderRepository.for_user``;
    a module-level function keeps its module's last part: ``crud.get_user``."""
    fn = index.functions.get(qual)
    if fn is not None and fn.cls:
        return qual[len(fn.cls.rpartition(".")[0]) + 1:] if "." in fn.cls else qual
    module, _, name = qual.rpartition(".")
    return f"{module.rpartition('.')[2]}.{name}" if module else name
