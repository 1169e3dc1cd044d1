"""Django fixture files for MDB610: where they are, who loads them, and the records they hold.

Fixture files are JSON and YAML files in folders named ``fixtures`` (Django's app fixture
folders, ``FIXTURE_DIRS`` usually named so too), files matching ``migrations.fixtures``, and
files named by a ``loaddata`` call (``call_command("loaddata", "name")``, found by name or
stem). A test's ``fixtures = [...]`` names them too, for tests only.

Records are read with their line (YAML through ``yaml.compose`` nodes, JSON by locating each
record's ``"model"`` key in order), so findings point into the file. A file that is not a
list of ``{"model": ...}`` records is no Django fixture and is skipped.
"""
from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Dict, List, Optional, Set, Tuple

from ...globs import GlobSet
from ...project.contexts import TEST_PATH
from . import pyast

EXTENSIONS = (".json", ".yaml", ".yml")
MODEL_KEY = re.compile(r'"model"\s*:')
MAX_BYTES = 20_000_000


@dataclass
class Record:
    model: str                 # "app_label.modelname" as written
    line: int
    pk: object = None
    has_pk: bool = False
    fields: Dict[str, int] = field(default_factory=dict)  # field name -> line


@dataclass
class FixtureFile:
    rel: str
    records: List[Record]


@dataclass
class Loads:
    """Who loads fixtures: names (as written) -> call sites (rel, line), split by test code."""

    outside_tests: Dict[str, List[Tuple[str, int]]] = field(default_factory=dict)
    in_tests: Dict[str, List[Tuple[str, int]]] = field(default_factory=dict)


def find_fixture_files(project, extra_globs: GlobSet) -> List[str]:
    root = str(project.root)
    out: List[str] = []
    files = project.files
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not files._skip_dir_name(dirpath, d)
                             and not files.excluded(rel_dir + d, True))
        in_fixtures = "fixtures" in PurePosixPath(rel_dir).parts
        for name in sorted(filenames):
            rel = rel_dir + name
            if name.endswith(EXTENSIONS) and (in_fixtures or extra_globs.match(rel)) and not files.excluded(rel):
                out.append(rel)
    return out


def loads_of(project) -> Loads:
    """``loaddata`` calls and test ``fixtures = [...]`` lists in the project's Python files."""
    found = Loads()
    for rel in project.relfiles:
        data = project.data(rel)
        if not data or b"loaddata" not in data and b"fixtures" not in data:
            continue
        tree = pyast.parse(data.decode("utf-8", errors="replace"), rel)
        if tree is None:
            continue
        test = bool(TEST_PATH.search(rel))
        for node in ast.walk(tree):
            names: List[str] = []
            if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) == "call_command" and node.args \
                    and pyast.str_value(node.args[0]) == "loaddata":
                names = [pyast.str_value(a) for a in node.args[1:] if pyast.str_value(a)]
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "fixtures"
                                                      for t in node.targets):
                names = list(pyast.string_list(node.value) or ())
                if names:
                    test = True  # TestCase.fixtures
            where = found.in_tests if test else found.outside_tests
            for name in names:
                where.setdefault(name, []).append((rel, node.lineno))
    return found


def resolve(name: str, fixtures: List[str]) -> List[str]:
    """The fixture files a ``loaddata`` name means (a path, a file name, or a stem)."""
    name = name.replace("\\", "/")
    out = [rel for rel in fixtures if rel == name or rel.endswith("/" + name)]
    if not out:
        stem = PurePosixPath(name).name
        out = [rel for rel in fixtures if PurePosixPath(rel).name.split(".")[0] == stem.split(".")[0]]
    return out


def read_fixture(rel: str, text: str) -> Optional[FixtureFile]:
    if rel.endswith(".json"):
        return _json(rel, text)
    return _yaml(rel, text)


def _json(rel: str, text: str) -> Optional[FixtureFile]:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not _records(data):
        return None
    lines = [text.count("\n", 0, m.start()) + 1 for m in MODEL_KEY.finditer(text)]
    records = []
    for i, item in enumerate(data):
        line = lines[i] if i < len(lines) else 1
        fields = {name: line for name in (item.get("fields") or {}) if isinstance(name, str)}
        records.append(Record(str(item["model"]), line, item.get("pk"), "pk" in item, fields))
    _field_lines(text, records)
    return FixtureFile(rel, records)


def _field_lines(text: str, records: List[Record]) -> None:
    """Point each JSON field at its own line (searched between its record and the next)."""
    starts = [r.line for r in records] + [text.count("\n") + 2]
    lines = text.splitlines()
    for i, record in enumerate(records):
        for name in record.fields:
            pattern = re.compile(r'"' + re.escape(name) + r'"\s*:')
            for number in range(starts[i], min(starts[i + 1], len(lines) + 1)):
                if pattern.search(lines[number - 1]):
                    record.fields[name] = number
                    break


def _records(data) -> bool:
    return isinstance(data, list) and bool(data) and all(isinstance(i, dict) and "model" in i for i in data)


def _yaml(rel: str, text: str) -> Optional[FixtureFile]:
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        return None
    records = []
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            return None
        keys = {k.value: (k, v) for k, v in item.value if isinstance(k, yaml.ScalarNode)}
        if "model" not in keys or not isinstance(keys["model"][1], yaml.ScalarNode):
            return None
        model_key, model_value = keys["model"]
        pk = keys.get("pk")
        pk_value = None if pk is None or pk[1].tag.endswith(":null") else pk[1].value
        fields: Dict[str, int] = {}
        if "fields" in keys and isinstance(keys["fields"][1], yaml.MappingNode):
            fields = {k.value: k.start_mark.line + 1 for k, _ in keys["fields"][1].value
                      if isinstance(k, yaml.ScalarNode)}
        records.append(Record(model_value.value, model_key.start_mark.line + 1, pk_value, pk is not None, fields))
    return FixtureFile(rel, records)


def used_names(loads: Loads, rel: str, fixtures: List[str]) -> Tuple[Set[str], Set[str]]:
    """(names loading ``rel`` outside tests, names loading it in tests)."""
    outside = {n for n in loads.outside_tests if rel in resolve(n, fixtures)}
    tests = {n for n in loads.in_tests if rel in resolve(n, fixtures)}
    return outside, tests
