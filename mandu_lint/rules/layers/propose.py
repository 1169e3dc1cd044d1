"""``mandu-lint init``'s proposal for the ``layers`` section, read off the tree's folder and file
names: ``views.py``, ``api/``, ``routers/``, ``endpoints/`` are handlers; ``services/`` services;
``repositories/``, ``repos/``, ``dao/``, ``crud/`` repositories; ``db/``, ``database.py`` adapters.

A section is proposed only when the tree shows a repository layer and something above it:
turning the layering rules on for a plain Django app (views and models, no repositories) would
report every query its views make on purpose. Only names that match an application file are
written, as ``**/`` globs, so the proposal survives files moving between packages.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from .analysis import LAYERS
from ...core.tags import EV

# layer -> (folder names, module names without .py), in the order they are written
NAMES = {
    "handler": (("views", "api", "apis", "routers", "routes", "endpoints"),
                ("views", "api", "routers", "routes", "endpoints")),
    "service": (("services",), ("services", "service")),
    "repository": (("repositories", "repository", "repos", "dao", "daos", "crud"),
                   ("repositories", "repository", "repos", "repo", "dao", "crud", "selectors")),
    "adapter": (("db", "database"), ("db", "database")),
}


def found_layers(relfiles: List[str]) -> Dict[str, List[str]]:
    """layer -> globs matching at least one of ``relfiles`` (a file goes to its first layer)."""
    hits: Dict[str, set] = {layer: set() for layer in LAYERS}
    for rel in relfiles:
        parts = rel.split("/")
        for layer in LAYERS:
            glob = _glob_for(layer, parts)
            if glob is not None:
                hits[layer].add(glob)
                break
    out = {}
    for layer in LAYERS:
        order = [f"**/{d}/**" for d in NAMES[layer][0]] + [f"**/{m}.py" for m in NAMES[layer][1]]
        globs = [g for g in order if g in hits[layer]]
        if globs:
            out[layer] = globs
    return out


def _glob_for(layer: str, parts: List[str]) -> Optional[str]:
    folders, modules = NAMES[layer]
    for d in parts[:-1]:
        if d in folders:
            return f"**/{d}/**"
    stem = parts[-1][:-3] if parts[-1].endswith(".py") else None
    return f"**/{stem}.py" if stem in modules else None


def _queries(project, glob: str, files: List[str]) -> bool:
    """Does some file named by a module glob (``**/crud.py``) read or write the database itself?"""
    from ...globs import GlobSet

    index, matcher = project.index, GlobSet([glob])
    for rel in files:
        facts = index.files.get(rel) if matcher.match(rel) else None
        for fn in (facts.functions.values() if facts is not None else ()):
            for ref, _line, _col in fn.calls:
                ev = index.typer.event(ref)
                if ev is not None and ev[0] in (EV.QUERY, EV.WRITE, EV.STAGE):
                    return True
    return False


def render(found: Dict[str, List[str]]) -> str:
    lines = [f"{layer}: [{', '.join(repr(g).replace(chr(39), chr(34)) for g in globs)}]"
             for layer, globs in found.items()]
    return "\n".join(lines + ["allow-skip: true"]) + "\n"


def propose_layers(project) -> Optional[str]:
    files = [rel for rel in project.relfiles if not project.is_non_app(rel)]
    found = found_layers(files)
    if "repository" in found:  # ``dependencies/repositories.py`` that only wires repositories up
        kept = [g for g in found["repository"] if g.endswith("/**") or _queries(project, g, files)]
        found["repository"] = kept
        if not kept:
            del found["repository"]
    if "repository" not in found or not ({"handler", "service"} & set(found)):
        return None
    return render(found)
