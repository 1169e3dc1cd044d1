"""Build (or load from the cache) a project: its settings, files, facts and index."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from .. import __version__
from ..config import Settings
from ..globs import GlobSet
from .cache import Cache
from .extract import FileFacts, extract
from .files import ProjectFiles, alembic_dirs, module_name, modules_for, source_roots
from .index import FactsMap, ProjectIndex
from .workers import ShardPool, cpu_count, digest_bytes, keep_tree, worker_pool  # noqa: F401 - re-exported

_PARALLEL_MIN = 64  # below this many files to extract, worker start-up costs more than it saves


def read_bytes(path: Path) -> Optional[bytes]:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


# ``FileFacts.error`` of a file the indexer failed on (not a syntax error of the file)
INDEX_ERROR = "internal error while indexing this file (please report it): "


def extract_file(root: str, rel: str, module: str, is_pkg: bool, data: Optional[bytes] = None) -> FileFacts:
    from ..core.source import decode, parse_tree

    if data is None:
        data = read_bytes(Path(root) / rel) or b""
    try:
        tree = parse_tree(decode(data), rel)
        keep_tree(rel, data, tree)  # a shard worker keeps it for the check phase
    except (SyntaxError, ValueError, UnicodeDecodeError, LookupError) as exc:
        return FileFacts(rel, module, is_pkg, {}, {}, {}, {}, error=str(exc))
    except RecursionError:
        return FileFacts(rel, module, is_pkg, {}, {}, {}, {}, error="too deeply nested")
    try:
        return extract(tree, rel, module, is_pkg)
    except RecursionError:
        return FileFacts(rel, module, is_pkg, {}, {}, {}, {}, error="too deeply nested")
    except Exception as exc:  # an analyser bug on this file: it is reported as not checked (MDB002)
        return FileFacts(rel, module, is_pkg, {}, {}, {}, {},
                         error=f"{INDEX_ERROR}{type(exc).__name__}: {exc}"[:300])


def batches_of(root: str, todo: Sequence[Tuple[str, str, bool]], size: int,
               store: Optional[Tuple[Cache, Dict[str, str]]] = None) -> List[Tuple[None, tuple]]:
    """Extraction batches, no worker preferred; ``store`` = (cache, rel -> facts entry name):
    each worker writes the facts it extracts (file creation is slow on some filesystems, and
    the workers do it in parallel while the main process would do it one file at a time)."""
    out = []
    for i in range(0, len(todo), size):
        part = list(todo[i:i + size])
        names = {rel: store[1][rel] for rel, _m, _p in part} if store is not None else None
        out.append((None, (root, part, store[0] if store is not None else None, names)))
    return out


def _extract_batch(args) -> List[FileFacts]:
    root, batch, cache, names = args
    out = [extract_file(root, rel, mod, pkg) for rel, mod, pkg in batch]
    if cache is not None:
        for ff in out:
            cache.store(names[ff.path], ff)
    return out


_WORD = re.compile(r"[A-Za-z_]\w*")
_MAX_TEMPLATE_BYTES = 2 << 20  # larger templates, scripts or configuration files are data
# files outside Python modules that can name project code (see ``Project._script_files``)
_CONFIG_SUFFIXES = (".toml", ".cfg", ".ini", ".yml", ".yaml", ".sh")
_CONFIG_NAMES = ("Procfile", "Dockerfile", "Makefile", "crontab")


def _words(files: List[Tuple[str, os.stat_result]]) -> FrozenSet[str]:
    words = set()
    for path, st in files:
        if st.st_size > _MAX_TEMPLATE_BYTES:
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                words.update(_WORD.findall(fh.read()))
        except OSError:
            continue
    return frozenset(words)


def _script(path: str) -> bool:
    """Does the file start with a ``#!`` line?"""
    with open(path, "rb") as fh:
        return fh.read(2) == b"#!"


# Folders that never hold a project's own templates.
_NOT_SOURCE = frozenset({"node_modules", "__pycache__", "venv", "env", "site-packages", "build", "dist"})


class Project:
    """One project root: settings, its files, and its index (built lazily)."""

    def __init__(self, root: Path, settings: Settings, use_cache: bool = True, jobs: int = 1,
                 forced: bool = False, only: Optional[Sequence[str]] = None):
        """``forced``: the config was given (``--config``), so folders holding their own config
        are part of this project; ``only``: the files of a project that is just those files (a
        file checked alone, never walking its folder)."""
        self.root = Path(root)
        self.settings = settings
        self.jobs = max(1, jobs)
        self.how = ""  # how the root was chosen (config.HOW), set by the runner
        self.only = list(only) if only is not None else None
        self.files = ProjectFiles(self.root, settings.exclude or (), nested_projects=not forced)
        self.relfiles = list(self.only) if self.only is not None else self.files.python_files()
        self.roots = source_roots(self.root, self.relfiles, settings.src)
        self.modules = modules_for(self.relfiles, self.roots)
        self.migration_dirs = alembic_dirs(self.root, self.relfiles)
        self.non_app = GlobSet(settings.non_app_globs)
        self.cache = Cache(self.root) if use_cache else None
        self._digests: Optional[Dict[str, str]] = None
        self._data: Dict[str, bytes] = {}
        self._index: Optional[ProjectIndex] = None
        self._deps: Optional[Dict[str, str]] = None
        self._overrides: set = set()
        self._stored_deps: Optional[Dict[str, str]] = None
        self._reverse: Optional[Dict[str, List[str]]] = None
        self._key: Optional[str] = None
        self.unit_root: Optional[str] = None  # for a unit: its source root ("" for shared files)
        self._use_cache = use_cache
        self.shards: Optional[ShardPool] = None  # the workers of a cold run, between its two phases
        self.keep_workers = False  # the runner sets it: a check follows indexing
        self.units: List["Project"] = self._split() if self.only is None else []

    # -- monorepos: one index per source root whose module names collide ---------------------
    def _split(self) -> List["Project"]:
        """Services sharing module names (``services/a/core/models.py`` and
        ``services/b/core/models.py``, each beside its ``manage.py``) cannot share one index:
        their models would merge. Each such source root becomes a *unit* with its own index -
        its files plus the shared files (those under no colliding root) whose module names it
        does not define itself - and the shared files are checked in a unit of their own."""
        colliding = self._colliding = colliding_roots(self.modules, self.roots)
        if not colliding:
            return []
        groups: Dict[str, List[str]] = {r: [] for r in colliding}
        shared: List[str] = []
        for rel in self.relfiles:
            owner = _owner(rel, colliding)
            (groups[owner] if owner is not None else shared).append(rel)
        units = []
        for r in colliding:
            own = {self.modules[rel][0] for rel in groups[r]}
            units.append(self._unit(r, groups[r] + [rel for rel in shared if self.modules[rel][0] not in own]))
        if shared:
            units.append(self._unit("", shared))
        return units

    def _unit(self, unit_root: str, files: List[str]) -> "Project":
        colliding = set(getattr(self, "_colliding", ()))
        unit = Project.__new__(Project)
        unit.__dict__.update(self.__dict__)
        unit.unit_root = unit_root
        unit.units = []
        unit.relfiles = sorted(files)
        unit.modules = {rel: self.modules[rel] for rel in unit.relfiles}
        unit.roots = [r for r in self.roots if r not in colliding or r == unit_root]
        tag = hashlib.blake2b((unit_root or "(shared)").encode(), digest_size=6).hexdigest()
        unit.cache = Cache(self.root, sub=f"units/{tag}") if self._use_cache else None
        unit._digests, unit._data, unit._index, unit._deps = None, {}, None, None
        unit._overrides, unit._stored_deps, unit._reverse, unit._key = set(), None, None, None
        unit.shards = None
        return unit

    def unit_for(self, rel: str) -> "Project":
        """The project that indexes and checks ``rel``: this one, or the unit of its source root
        (a file no unit lists yet - named on the command line, an editor buffer - joins it)."""
        if not self.units:
            return self
        owner = _owner(rel, [u.unit_root for u in self.units if u.unit_root])
        unit = next((u for u in self.units if u.unit_root == (owner or "")), None)
        if unit is None:  # the first shared file
            unit = self._unit("", [])
            self.units.append(unit)
        if rel not in unit.modules:
            unit.relfiles.append(rel)
            unit.modules[rel] = self.modules.get(rel) or module_name(rel, unit.roots)
        return unit

    def partition(self, rels: Sequence[str]) -> List[Tuple["Project", List[str]]]:
        """``rels`` by the project (unit) that checks them, in a stable order."""
        if not self.units:
            return [(self, list(rels))]
        out: Dict[int, Tuple["Project", List[str]]] = {}
        for rel in rels:
            unit = self.unit_for(rel)
            out.setdefault(id(unit), (unit, []))[1].append(rel)
        return list(out.values())

    # -- file contents ------------------------------------------------------------------------
    @property
    def templates_digest(self) -> str:
        """Digest of every file under the project's ``templates`` folders and of its scripts and
        configuration files (:meth:`_script_files`; path, size, mtime): the loop rules read
        Django/Jinja templates and the index asks both which methods they name, so a changed
        template must invalidate cached findings although no Python file changed."""
        hit = getattr(self, "_templates_digest", None)
        if hit is None:
            h = hashlib.sha256()
            for path, st in self._template_files():
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            for path, st in self._script_files():
                h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            hit = self._templates_digest = h.hexdigest()[:16]
        return hit

    def _template_files(self) -> List[Tuple[str, os.stat_result]]:
        """Every file under the project's ``templates`` folders, with its ``stat``, in a stable
        order (walked once per run, with :meth:`_script_files`)."""
        if getattr(self, "_templates", None) is None:
            self._walk_text()
        return self._templates

    def _script_files(self) -> List[Tuple[str, os.stat_result]]:
        """Text outside Python modules that can name project code: scripts without a suffix
        (``sbin/patchman``: a ``#!`` first line), shell scripts, packaging metadata and
        configuration (``pyproject.toml``/``setup.cfg`` console-script entry points, a
        scheduler's YAML, ``Procfile``, ``Dockerfile``, ``Makefile``)."""
        if getattr(self, "_scripts", None) is None:
            self._walk_text()
        return self._scripts

    def _walk_text(self) -> None:
        self._templates, self._scripts = [], []
        for dirpath, dirnames, files in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _NOT_SOURCE)
            in_templates = os.path.basename(dirpath) == "templates" or \
                "/templates/" in dirpath.replace(os.sep, "/") + "/"
            for name in sorted(files):
                config = name.endswith(_CONFIG_SUFFIXES) or name.startswith(_CONFIG_NAMES)
                if not in_templates and "." in name and not config:
                    continue
                path = os.path.join(dirpath, name)
                try:
                    st = os.stat(path)
                    if in_templates:
                        self._templates.append((path, st))
                    elif st.st_size <= _MAX_TEMPLATE_BYTES and (config or _script(path)):
                        self._scripts.append((path, st))
                except OSError:
                    continue

    @property
    def template_words(self) -> Optional[FrozenSet[str]]:
        """Every identifier written in the project's templates (``{{ person.full_name }}`` gives
        ``person`` and ``full_name``): a method without arguments may be called from one only
        when its name is here. ``None`` when no ``templates`` folder has a file: templates kept
        elsewhere are unknown. Read once per run."""
        if not hasattr(self, "_template_words"):
            self._template_words = _words(self._template_files()) if self._template_files() else None
        return self._template_words

    @property
    def script_words(self) -> FrozenSet[str]:
        """Every identifier written in the text outside Python modules that can call project
        code (:meth:`_script_files`). Read once per run."""
        if not hasattr(self, "_script_words"):
            self._script_words = _words(self._script_files())
        return self._script_words

    @property
    def digests(self) -> Dict[str, str]:
        """Content digest of every file. With the cache, a file whose size and mtime are
        unchanged keeps its recorded digest and is not read (an editor's flake8 run on one file
        does not read the whole project)."""
        if self._digests is None:
            known = (self.cache.load("stat.pkl") if self.cache is not None else None) or {}
            seen, out = {}, {}
            root = str(self.root)
            for rel in self.relfiles:
                path = os.path.join(root, rel)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                stamp = (st.st_mtime_ns, st.st_size)
                hit = known.get(rel)
                if hit is not None and hit[0] == stamp:
                    out[rel] = hit[1]
                else:
                    data = read_bytes(path)
                    if data is None:
                        continue
                    self._data[rel] = data
                    out[rel] = digest_bytes(data)
                seen[rel] = (stamp, out[rel])
            if self.cache is not None and seen != known:
                self.cache.store("stat.pkl", seen)
            self._digests = out
        return self._digests

    def data(self, rel: str) -> Optional[bytes]:
        self.digests  # noqa: B018 - reads every file once
        hit = self._data.get(rel)
        if hit is None:  # a worker process, or a file named on the command line
            hit = read_bytes(self.root / rel)
        return hit

    @property
    def vcs_root(self) -> Path:
        from ..config import vcs_root

        return vcs_root(self.root) or self.root

    def for_worker(self) -> "Project":
        """A copy to send to worker processes: no file contents (workers read what they check),
        and no index when the cache holds it (workers load it from there)."""
        clone = Project.__new__(Project)
        clone.__dict__.update(self.__dict__)
        clone._data = {rel: self._data[rel] for rel in self._overrides}
        clone.shards = None
        clone.jobs = 1  # a worker never starts workers of its own
        if self.cache is not None and not self._overrides:
            clone._index = None
        return clone

    def cached_deps(self) -> Optional[Dict[str, str]]:
        """Dependency digests stored by an earlier run for this exact set of files."""
        if self.cache is None:
            return None
        if self._stored_deps is None:
            self._stored_deps = self.cache.load(f"deps-{self.index_key}.pkl") or {}
        return self._stored_deps

    def store_deps(self) -> None:
        if self.cache is None or not self._deps or self._overrides:
            return
        merged = dict(self.cached_deps() or {})
        if all(merged.get(k) == v for k, v in self._deps.items()):
            return
        merged.update(self._deps)
        name = f"deps-{self.index_key}.pkl"
        self.cache.store(name, merged)
        self.cache.prune("deps-", name)

    def set_override(self, rel: str, data: bytes) -> None:
        """Use unsaved content (flake8 reading stdin, the fix engine's candidate edits) for one
        file. An index already built gets the file's new facts, so a re-check sees them."""
        self.digests  # noqa: B018
        self._overrides.add(rel)
        self._data[rel] = data
        self._digests[rel] = digest_bytes(data)
        if rel not in self.modules:
            self.relfiles.append(rel)
            self.modules.update(modules_for([rel], self.roots))
        if self._index is not None:
            files = dict(self._index.files)
            files[rel] = extract_file(str(self.root), rel, *self.modules[rel], data)
            self._index = ProjectIndex(files, migration_dirs=self.migration_dirs,
                                       template_words=self.template_words, script_words=self.script_words)

    def add_file(self, rel: str) -> None:
        """Take in a file the project walk did not list (named on the command line: gitignored,
        or reached through a symlinked folder)."""
        if rel in self.modules:
            return
        self.relfiles.append(rel)
        self.modules.update(modules_for([rel], self.roots))
        if self._digests is not None:
            data = read_bytes(self.root / rel)
            if data is not None:
                self._data[rel] = data
                self._digests[rel] = digest_bytes(data)

    def is_non_app(self, rel: str) -> bool:
        """Matched by the ``non-app`` globs, or a migration wherever it lives: a folder an
        ``alembic.ini`` names, or a file with module-level ``revision``/``down_revision``."""
        if self.non_app.match(rel):
            return True
        if self.migration_dirs and rel.startswith(tuple(d + "/" for d in self.migration_dirs)):
            return True
        return rel in self.index.migration_files

    # -- index ---------------------------------------------------------------------------------
    @property
    def index_key(self) -> str:
        if self._key is None or self._overrides:
            self._key = self._index_key()
        return self._key

    def _index_key(self) -> str:
        h = hashlib.sha256(__version__.encode())
        h.update(repr(self.roots).encode())
        h.update(repr(self.migration_dirs).encode())
        h.update(self.templates_digest.encode())  # the index knows which methods templates may call
        for rel in sorted(self.digests):
            mod, pkg = self.modules[rel]
            h.update(f"{rel}\0{mod}\0{int(pkg)}\0{self.digests[rel]}\n".encode())
        return h.hexdigest()[:32]

    @property
    def index(self) -> ProjectIndex:
        if self._index is None:
            self._index = self._load_or_build()
        return self._index

    def derived_table(self, name: str, build):
        """A table derived from every file's facts (the transaction rules' call sites by callee),
        stored beside the index under the same key: a warm one-file run (flake8 in an editor)
        loads one small pickle instead of every module's facts. ``name`` must say everything
        the table depends on besides the files (e.g. the settings digest)."""
        cache = self.cache
        if cache is None or self._overrides:
            return build()
        file = f"derived-{name}-{self.index_key}.pkl"
        hit = cache.load(file)
        if hit is None:
            hit = build()
            cache.store(file, hit)
            cache.prune(f"derived-{name}-", file)
        return hit

    def _load_or_build(self) -> ProjectIndex:
        cache = self.cache
        if cache is None or self._overrides:  # unsaved buffers never reach the shared cache
            return self._build(cache, store=False)
        name = f"index-{self.index_key}.pkl"
        core = cache.load(name)
        if core is None:
            with cache.lock():
                core = cache.load(name)  # another process may have built it while we waited
                if core is None:
                    index = self._build(cache, store=True)
                    cache.store(name, index.core())
                    cache.prune("index-", name)
                    cache.prune_dir("facts", {self._facts_name(r).split("/", 1)[1] for r in self.digests})
                    return index
        loader = CacheLoader(cache, {rel: self._facts_name(rel) for rel in self.digests})
        return ProjectIndex(FactsMap(list(self.digests), loader=loader), core=core)

    def _facts_name(self, rel: str) -> str:
        mod, pkg = self.modules[rel]
        key = f"{rel}\0{mod}\0{int(pkg)}\0{self.digests[rel]}".encode()
        return "facts/" + hashlib.blake2b(key, digest_size=16).hexdigest() + ".pkl"

    def _build(self, cache: Optional[Cache], store: bool) -> ProjectIndex:
        facts: Dict[str, FileFacts] = {}
        todo: List[Tuple[str, str, bool]] = []
        for rel in self.digests:
            hit = cache.load(self._facts_name(rel)) if cache is not None and rel not in self._overrides else None
            if hit is not None:
                facts[rel] = hit
            else:
                todo.append((rel,) + tuple(self.modules[rel]))
        for ff in self._extract(todo, cache if store else None):
            facts[ff.path] = ff
        return ProjectIndex(facts, migration_dirs=self.migration_dirs,
                            template_words=self.template_words, script_words=self.script_words)

    def _extract(self, todo: Sequence[Tuple[str, str, bool]], cache: Optional[Cache] = None) -> List[FileFacts]:
        """Every file's facts; with ``cache``, each file's facts are stored too (files with an
        unsaved buffer never are)."""
        root = str(self.root)
        mine = [t for t in todo if t[0] in self._overrides]
        rest = [t for t in todo if t[0] not in self._overrides]
        out = [extract_file(root, rel, mod, pkg, self._data[rel]) for rel, mod, pkg in mine]
        if self.jobs <= 1 or len(rest) < _PARALLEL_MIN:
            facts = [extract_file(root, rel, mod, pkg, self._data.get(rel)) for rel, mod, pkg in rest]
            if cache is not None:
                for ff in facts:
                    cache.store(self._facts_name(ff.path), ff)
            return out + facts
        size = max(8, len(rest) // (self.jobs * 4))
        store = (cache, {rel: self._facts_name(rel) for rel, _m, _p in rest}) if cache is not None else None
        if not self.keep_workers:  # nothing is checked after indexing (init)
            with worker_pool(self.jobs) as executor:
                for part in executor.map(_extract_batch, [b for _, b in batches_of(root, rest, size, store)]):
                    out.extend(part)
            return out
        pool = self.shards = ShardPool(self.jobs)  # kept for the check phase (runner.check_project)
        try:
            for worker, part in pool.run(_extract_batch, batches_of(root, rest, size, store)):
                for ff in part:
                    pool.holder[ff.path] = worker
                out.extend(part)
        except BaseException:
            self.close_shards(wait=False)
            raise
        return out

    def close_shards(self, wait: bool = True) -> None:
        if self.shards is not None:
            self.shards.close(wait=wait)
            self.shards = None

    # -- dependencies (for the findings cache) -------------------------------------------------
    def dep_digest(self, rel: str) -> str:
        """A digest of every project file ``rel`` may depend on: the modules it imports,
        transitively, and every file that defines a model (relations reach across files)."""
        if self._deps is None:
            self._deps = {}
        hit = self._deps.get(rel)
        if hit is None:
            hit = self._compute_deps(rel)
            self._deps[rel] = hit
        return hit

    def _compute_deps(self, rel: str) -> str:
        """Forward closure (what ``rel`` reads through imports), reverse closure (its callers
        live in files that import it: "is this helper always called inside a transaction?"
        depends on them), and every model file."""
        ix = self.index
        if self._reverse is None:
            self._reverse = {}
            for src, targets in ix.import_graph.items():
                for t in targets:
                    self._reverse.setdefault(t, []).append(src)
        seen = _closure(rel, ix.import_graph) | _closure(rel, self._reverse)
        seen.update(ix.model_files)
        h = hashlib.sha256()
        for r in sorted(seen):
            h.update(f"{r}\0{self.digests.get(r, '')}\n".encode())
        facts = ix.files.get(rel)  # its unreferenced definitions depend on every file's uses
        prefix = f"{facts.module}." if facts is not None and facts.module else None
        if prefix:
            h.update(",".join(sorted(q for q in ix.unreferenced if q.startswith(prefix))).encode())
        return h.hexdigest()[:32]


def _owner(rel: str, roots: Sequence[str]) -> Optional[str]:
    """The deepest of ``roots`` holding ``rel``, or None."""
    best = None
    for r in roots:
        if r and rel.startswith(r + "/") and (best is None or len(r) > len(best)):
            best = r
    return best


def colliding_roots(modules: Dict[str, Tuple[str, bool]], roots: Sequence[str]) -> List[str]:
    """Source roots (other than the project root) that define a module name another source
    root defines too."""
    by_module: Dict[str, set] = {}
    for rel, (mod, _pkg) in modules.items():
        if mod:
            by_module.setdefault(mod, set()).add(_owner(rel, [r for r in roots if r]) or "")
    out = set()
    for owners in by_module.values():
        if len(owners) > 1:
            out.update(o for o in owners if o)
    return sorted(out)


def _closure(start: str, graph: Dict[str, List[str]]) -> set:
    seen = {start}
    stack = [start]
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


class CacheLoader:
    """Loads one file's facts from the cache (picklable, so worker processes can use it)."""

    def __init__(self, cache: Cache, names: Dict[str, str]):
        self.cache = cache
        self.names = names

    def __call__(self, rel: str) -> Optional[FileFacts]:
        name = self.names.get(rel)
        return self.cache.load(name) if name else None
