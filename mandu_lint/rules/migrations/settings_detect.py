"""Which database engine (and version) a project targets, read statically.

Sources: ``DATABASES[...]["ENGINE"]`` literals (and ``dj_database_url``/``env.db`` default
URLs) in any module assigning ``DATABASES``; ``sqlalchemy.url`` in ``alembic.ini``; the
PostgreSQL image tag of compose files and CI workflows for the version. Every engine found is
kept with its file and line, so a rule can tell "PostgreSQL only" from "PostgreSQL in
production, SQLite in the test settings". ``AUTH_USER_MODEL``-style literals feed the Django
graph's swappable dependencies.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from . import pyast
from .discover import read_alembic_inis, walk_python_files

SWAPPABLE_SETTINGS = ("AUTH_USER_MODEL",)
# settings modules that name another engine without making the project "mixed": test, CI and
# local-development settings next to PostgreSQL production settings
AUX_SETTINGS = re.compile(r"(test|ci|local|dev|sqlite)[^/]*$|(^|/)tests?/", re.I)
IMAGE = re.compile(r"image:\s*[\"']?(?:[\w.\-]+/)?(?:postgres|postgis/postgis|postgis)(?::(\d+))", re.I)
COMPOSE_GLOBS = ("docker-compose*.yml", "docker-compose*.yaml", "compose*.yml", "compose*.yaml",
                 ".github/workflows/*.yml", ".github/workflows/*.yaml", ".gitlab-ci.yml")


@dataclass(frozen=True)
class EngineFinding:
    engine: str      # postgresql | sqlite | mysql | oracle | mssql | other
    raw: str
    file: str
    line: int
    alias: str = "default"


@dataclass
class DetectedSettings:
    engines: List[EngineFinding] = field(default_factory=list)
    swappable: Dict[str, str] = field(default_factory=dict)
    versions: List[tuple] = field(default_factory=list)  # (major, file, line)

    @property
    def engine(self) -> Optional[str]:
        """The one engine every setting agrees on, else None (unknown or mixed)."""
        kinds = {e.engine for e in self.engines}
        return kinds.pop() if len(kinds) == 1 else None

    @property
    def version(self) -> Optional[int]:
        """The oldest PostgreSQL major version named: the one a version-aware rule must assume."""
        return min(v[0] for v in self.versions) if self.versions else None

    def reason(self) -> str:
        if not self.engines:
            return "no database engine found in Django settings or alembic.ini"
        if self.engine is None:
            return "several engines: " + ", ".join(sorted({f"{e.engine} ({e.file})" for e in self.engines}))
        return f"{self.engine} from {self.engines[0].file}:{self.engines[0].line}"


@dataclass(frozen=True)
class Target:
    """The engine and PostgreSQL version the migrations run on, and why."""

    engine: Optional[str]        # "postgresql", another engine, or None (unknown or mixed)
    version: Optional[int]       # PostgreSQL major version, None when unknown
    only_postgresql: bool        # PostgreSQL and no other engine named anywhere
    reason: str = ""
    inferred: bool = False       # no engine named anywhere; a PostgreSQL image in compose/CI files

    @property
    def postgresql(self) -> bool:
        return self.engine == "postgresql"


def resolve(found: DetectedSettings, engine=None, version=None) -> Target:
    """Configured ``database.engine``/``database.version`` win; else what ``detect`` found.
    PostgreSQL in production settings with another engine only in test/dev/CI settings counts
    as PostgreSQL (not ``only_postgresql``: no unsafe fix is offered then)."""
    kinds = {e.engine for e in found.engines}
    if engine:
        engine = "postgresql" if str(engine).lower() in ("postgres", "postgresql", "pg") else str(engine).lower()
        only = engine == "postgresql" and kinds <= {"postgresql"}
        reason = "database.engine in the configuration"
    else:
        engine, only, reason = found.engine, kinds == {"postgresql"}, found.reason()
        others = [e for e in found.engines if e.engine != "postgresql"]
        if engine is None and "postgresql" in kinds and all(AUX_SETTINGS.search(e.file) for e in others):
            engine = "postgresql"
            reason = "postgresql in production settings; " + ", ".join(
                sorted({f"{e.engine} in {e.file}" for e in others})) + " taken as test/dev settings"
    try:
        version = int(str(version).split(".")[0]) if version not in (None, "") else found.version
    except ValueError:
        version = found.version
    if engine is None and not kinds and found.versions:
        # settings read the engine from the environment; the compose file or CI runs PostgreSQL:
        # likely, not certain (an app may support several engines), so findings are ``medium``
        v, file, line = min(found.versions)
        return Target("postgresql", version, False, f"inferred from the PostgreSQL {v} image at {file}:{line}; "
                      "no engine is named in the settings (findings that need it are `medium`)", inferred=True)
    return Target(engine, version, only, reason)


def detected(project) -> DetectedSettings:
    """``detect`` over the project's files, once per Project object (it reads every file that
    names ``DATABASES``): the rules, the replay facts and ``--show-settings`` share it."""
    hit = project.__dict__.get("_migrations_detected")
    if hit is None:
        hit = project.__dict__["_migrations_detected"] = detect(project.root, list(project.relfiles))
    return hit


def target_of(project) -> Target:
    """The project's :class:`Target`: its ``database.*`` settings resolved against ``detected``."""
    hit = project.__dict__.get("_migrations_target")
    if hit is None:
        values = getattr(project.settings, "values", {})
        hit = project.__dict__["_migrations_target"] = resolve(
            detected(project), values.get(("database", "engine")), values.get(("database", "version")))
    return hit


def describe(project) -> List[str]:
    """``--show-settings`` lines: the engine and version the migration rules assume, and what
    follows when they are unknown."""
    values = getattr(project.settings, "values", {})
    found, t = detected(project), target_of(project)
    if t.engine is None:
        engine = f"database.engine = unknown ({t.reason}); PostgreSQL-only checks of MDB604/MDB605 are silent " \
                 "- set `database.engine` to enable them"
    else:
        engine = f"database.engine = {t.engine} ({t.reason})"
    if values.get(("database", "version")) not in (None, ""):
        version = f"database.version = {t.version} (the configuration)"
    elif t.version is not None:
        where = next((f"{f}:{line}" for v, f, line in found.versions if v == t.version), "")
        version = f"database.version = {t.version} (oldest PostgreSQL image tag, {where})"
    else:
        version = "database.version = unknown; version-dependent checks assume a supported PostgreSQL (11+)" \
            if t.postgresql else "database.version = unknown"
    return [engine, version]


def engine_of(raw: str) -> str:
    text = raw.lower()
    for needle, engine in (("postg", "postgresql"), ("psycopg", "postgresql"), ("pgsql", "postgresql"),
                           ("sqlite", "sqlite"), ("mysql", "mysql"), ("mariadb", "mysql"), ("oracle", "oracle"),
                           ("mssql", "mssql"), ("sql_server", "mssql")):
        if needle in text:
            return engine
    return "other"


def detect(root, files: Optional[Sequence[str]] = None) -> DetectedSettings:
    root = Path(root)
    files = list(walk_python_files(root) if files is None else files)
    found = DetectedSettings()
    for rel in files:
        try:
            source = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "DATABASES" in source or any(s in source for s in SWAPPABLE_SETTINGS):
            tree = pyast.parse(source, rel)
            if tree is not None:
                _django_settings(tree, rel, found)
    for env in read_alembic_inis(root, files).values():
        if env.url and not env.url.startswith("driver://") and engine_of(env.url.split(":", 1)[0]) != "other":
            found.engines.append(EngineFinding(engine_of(env.url.split(":", 1)[0]), env.url.split(":", 1)[0],
                                               env.ini or "alembic.ini", 0, env.section or "alembic"))
    _versions(root, found)
    return found


def _django_settings(tree: ast.Module, rel: str, found: DetectedSettings) -> None:
    for name, (value, line) in pyast.assignments(tree.body).items():
        if name in SWAPPABLE_SETTINGS and pyast.str_value(value):
            found.swappable[name] = pyast.str_value(value)
        elif name == "DATABASES" and isinstance(value, ast.Dict):
            for alias_node, config in zip(value.keys, value.values):
                _database(pyast.str_value(alias_node) or "?", config, rel, found)
    for node in ast.walk(tree):  # DATABASES["default"]["ENGINE"] = "..."
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Subscript):
            target = node.targets[0]
            if pyast.str_value(target.slice) == "ENGINE" and pyast.str_value(node.value):
                alias = pyast.str_value(getattr(target.value, "slice", None)) or "default"
                found.engines.append(EngineFinding(engine_of(pyast.str_value(node.value)), pyast.str_value(node.value),
                                                   rel, node.lineno, alias))


def _database(alias: str, config: ast.AST, rel: str, found: DetectedSettings) -> None:
    if isinstance(config, ast.Dict):
        for key, value in zip(config.keys, config.values):
            if pyast.str_value(key) == "ENGINE" and pyast.str_value(value):
                raw = pyast.str_value(value)
                found.engines.append(EngineFinding(engine_of(raw), raw, rel, value.lineno, alias))
    elif isinstance(config, ast.Call):  # dj_database_url.config(default="postgres://...") / env.db(...)
        urls = [pyast.str_value(k.value) for k in config.keywords if k.arg == "default"]
        urls += [pyast.str_value(a) for a in config.args if (pyast.str_value(a) or "").count("://")]
        for url in filter(None, urls):
            if "://" in url:
                scheme = url.split("://", 1)[0]
                found.engines.append(EngineFinding(engine_of(scheme), scheme, rel, config.lineno, alias))


def _versions(root: Path, found: DetectedSettings) -> None:
    for pattern in COMPOSE_GLOBS:
        for path in sorted(root.glob(pattern)):
            try:
                lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            for number, line in enumerate(lines, 1):
                match = IMAGE.search(line)
                if match and match.group(1):
                    found.versions.append((int(match.group(1)), path.relative_to(root).as_posix(), number))
