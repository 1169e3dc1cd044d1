"""Django and Jinja templates as per-row code: a small reader of the template grammar and what a
template reads of the rows a view hands it (Django querysets, and SQLAlchemy rows whose
relationship attributes load themselves when a template reads them).

A view that passes a queryset to a template (``template_views.py`` traces that) runs the
template's ``{% for %}`` body once per row; every ``{{ book.author.name }}`` in it loads the
author lazily unless the query did. This module never imports Django:

- :func:`lex` / :func:`parse` — the template grammar: ``{{ var|filter:arg }}``, ``{% tag %}``,
  ``{# #}``; block tags ``for``/``empty``, ``with`` (both spellings), ``block``, ``if`` (every
  branch is taken), ``include`` (``with`` arguments, ``only``), ``extends``; ``comment`` and
  ``verbatim`` are skipped. The Jinja spellings of the same tags (``for … if``, ``set``,
  ``item.tags.all()``, ``{%- -%}``) read alike; macros are skipped.
- :class:`Library` — the project's template folders (every folder named ``templates``, as
  Django's app-directories loader and any ``DIRS`` entry would hold them) and a template name's
  file; ``{% extends %}`` resolved by putting the child's blocks into the parent.
- :class:`Evaluator` — walks a template with *values* bound to context names (:class:`Rows`,
  :class:`Obj`, :class:`Mgr`, each remembering the view's query it came from and the relation
  path from that query's rows) and returns every relation read on a row while a ``{% for %}``
  over rows runs (:class:`TplRead`), following ``{% include %}`` with its context. A name it
  does not know is unknown and reads nothing.
- :func:`custom_tags` — the project's own Django template tags and filters (``@register.filter``,
  ``@register.simple_tag``, ``@register.inclusion_tag`` in a ``templatetags`` package, or
  ``register.filter("name", func)``). A custom tag or filter used on every row of a ``{% for %}``
  runs its Python function once per row: when that function only reads relations of the row it
  is given, those reads are the row's (:class:`TplRead`, through the tag); when it runs a query of
  its own, the call is a :class:`TplCall` (MDB301's: eager loading cannot make it free).
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from ...core.loading import SUBCLASSES
from ...project.files import ProjectFiles
from .reads import ROW_WRITES, is_property, param_reads

# -- lexer ---------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\{%-?(.*?)-?%\}|\{\{-?(.*?)-?\}\}|\{#(.*?)#\}", re.S)
_STR = r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'"""
_BITS = re.compile(rf"""((?:[^\s'"]*(?:{_STR})[^\s'"]*)+|\S+)""")
_EXPR = re.compile(rf"""(?P<str>{_STR})|(?P<num>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_]\w*(?:\.\w+)*)|(?P<op>[^\s\w'"])""")
KEYWORDS = frozenset("and or not in is if else elif as with only reversed recursive by none true false None True "
                     "False context without ignore missing from import".split())
MAX_FILE = 512 * 1024


@dataclass(frozen=True)
class Token:
    kind: str  # tag | var
    text: str
    line: int
    col: int


def lex(source: str) -> List[Token]:
    """Tags and variables with their line and column (1-based line, 0-based column); text,
    ``{# #}`` comments and the inside of ``{% comment %}``/``{% verbatim %}`` are dropped."""
    out: List[Token] = []
    line, pos = 1, 0
    skip_until: Optional[str] = None
    for m in _TOKEN.finditer(source):
        line += source.count("\n", pos, m.start())
        pos = m.start()
        col = m.start() - (source.rfind("\n", 0, m.start()) + 1)
        if m.group(3) is not None:
            continue
        if m.group(1) is not None:
            text = m.group(1).strip()
            name = text.split(None, 1)[0] if text else ""
            if skip_until is not None:
                if name == skip_until:
                    skip_until = None
                continue
            if name in ("comment", "verbatim", "raw", "macro"):
                skip_until = "end" + name
                continue
            out.append(Token("tag", text, line, col))
        elif skip_until is None:
            out.append(Token("var", m.group(2).strip(), line, col))
    return out


# -- parser --------------------------------------------------------------------------------------
@dataclass
class Var:
    expr: str
    line: int
    col: int
    file: str = ""  # the template file the node was read from (set by :class:`Library`)


@dataclass
class Tag:
    """A tag whose arguments may read variables (``{% if %}``, ``{% url %}``, custom tags)."""

    name: str
    bits: List[str]
    line: int
    col: int
    file: str = ""


@dataclass
class For:
    targets: Tuple[str, ...]
    iter: str
    line: int
    col: int
    cond: str = ""  # Jinja ``for x in y if cond``
    body: list = field(default_factory=list)
    empty: list = field(default_factory=list)
    file: str = ""


@dataclass
class With:
    binds: List[Tuple[str, str]]
    line: int
    col: int
    body: list = field(default_factory=list)
    file: str = ""


@dataclass
class Set:
    """Jinja ``{% set x = expr %}``: binds for the rest of the enclosing block."""

    name: str
    expr: str
    line: int
    col: int
    file: str = ""


@dataclass
class Block:
    name: str
    line: int
    body: list = field(default_factory=list)


@dataclass
class Include:
    name: str  # the template name expression
    binds: List[Tuple[str, str]]
    only: bool
    line: int
    col: int
    file: str = ""


@dataclass
class Extends:
    name: str
    line: int


@dataclass
class Template:
    nodes: list
    extends: Optional[Extends] = None


# Tags whose content is rendered in place (a frame only tracks nesting: ``{% else %}`` belongs to
# the innermost of these or of a ``for``).
_CONTAINERS = frozenset("if ifchanged ifequal ifnotequal spaceless autoescape filter localize localtime timezone "
                        "cache language call".split())


def bits(text: str) -> List[str]:
    """Django's ``smart_split``: whitespace-separated, quoted strings kept whole."""
    return _BITS.findall(text)


def _binds(parts: Sequence[str]) -> List[Tuple[str, str]]:
    """``a=b c=d`` (Django; Jinja with commas and spaces) or ``b as a``."""
    parts = [p.rstrip(",") for p in parts]
    parts = [p for p in parts if p]
    out = []
    i = 0
    while i < len(parts):
        p = parts[i]
        if i + 2 < len(parts) and parts[i + 1] == "as":
            out.append((parts[i + 2], p))
            i += 3
            continue
        if i + 2 < len(parts) and parts[i + 1] == "=":
            out.append((p, parts[i + 2]))
            i += 3
            continue
        if "=" in p and not p.startswith(("'", '"')):
            name, _, value = p.partition("=")
            if name.isidentifier() and value:
                out.append((name, value))
        i += 1
    return out


def parse(source: str) -> Template:
    """The node tree of a template; unbalanced tags are closed at the end."""
    root: list = []
    tpl = Template(root)
    stack: List[Tuple[str, object, list]] = []  # (opening tag, node, list being filled)
    cur = root
    for tok in lex(source):
        if tok.kind == "var":
            if tok.text:
                cur.append(Var(tok.text, tok.line, tok.col))
            continue
        name, _, rest = tok.text.partition(" ")
        rest = rest.strip()
        parts = bits(rest)
        if name == "for":
            node = _for(rest, tok)
            if node is None:
                cur.append(Tag(name, parts, tok.line, tok.col))
                continue
            cur.append(node)
            stack.append(("for", node, cur))
            cur = node.body
        elif (name == "else" and stack and stack[-1][0] == "for") or (
                name == "empty" and any(s[0] == "for" for s in stack)):
            while stack[-1][0] != "for":
                _o, _node, cur = stack.pop()
            cur = stack[-1][1].empty
        elif name in ("with", "blocktrans", "blocktranslate"):
            binds = parts if name == "with" else _after(parts, ("with", "count"))
            node = With(_binds(binds), tok.line, tok.col)
            cur.append(node)
            stack.append((name, node, cur))
            cur = node.body
        elif name == "block":
            node = Block(parts[0] if parts else "", tok.line)
            cur.append(node)
            stack.append(("block", node, cur))
            cur = node.body
        elif name == "set" and "=" in rest:
            target, _, value = rest.partition("=")
            if target.strip().isidentifier():
                cur.append(Set(target.strip(), value.strip(), tok.line, tok.col))
        elif name == "set":
            stack.append(("set", None, cur))  # a block ``set``: its content is captured, not shown
            cur = []
        elif name == "include" and parts:
            only = "only" in parts or ("without" in parts and "context" in parts)
            cur.append(Include(parts[0], _binds(_after(parts, ("with",))), only, tok.line, tok.col))
        elif name == "extends" and parts:
            tpl.extends = Extends(parts[0], tok.line)
        elif name.startswith("end"):
            opener = name[3:]
            if any(s[0] == opener for s in stack):
                while stack:
                    o, _node, parent = stack.pop()
                    cur = parent
                    if o == opener:
                        break
        elif name in _CONTAINERS:
            cur.append(Tag(name, parts, tok.line, tok.col))
            stack.append((name, None, cur))
        elif name in ("load", "templatetag", "now", "csrf_token", "debug", "do"):
            continue
        else:
            cur.append(Tag(name, parts, tok.line, tok.col))
    return tpl


def _after(parts: Sequence[str], words) -> List[str]:
    for i, p in enumerate(parts):
        if p in words:
            return [x for x in parts[i + 1:] if x not in ("only", "context", "without", "with")]
    return []


_FOR = re.compile(r"^(?P<targets>.+?)\s+in\s+(?P<iter>.+?)(?:\s+(?P<rev>reversed|recursive))?"
                  r"(?:\s+if\s+(?P<cond>.+))?$", re.S)


def _for(rest: str, tok: Token) -> Optional[For]:
    m = _FOR.match(rest)
    if m is None:
        return None
    targets = tuple(t.strip() for t in re.split(r"[,\s]+", m.group("targets").strip("() ")) if t.strip())
    if not targets or not all(t.isidentifier() for t in targets):
        return None
    it = m.group("iter").strip()
    if it.endswith(" reversed"):
        it = it[: -len(" reversed")].strip()
    return For(targets, it, tok.line, tok.col, m.group("cond") or "")


# -- expressions ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expr:
    """A variable expression: the looked-up value (``main``) with its filters, and every other
    lookup the expression makes (filter arguments, conditions)."""

    main: Optional[str]
    filters: Tuple[str, ...]
    lookups: Tuple[str, ...]
    calls_main: bool = False  # Jinja ``a.b()``


def expr(text: str) -> Expr:
    toks = [(m.lastgroup, m.group()) for m in _EXPR.finditer(text)]
    lookups = []
    for i, (kind, val) in enumerate(toks):
        if kind == "name" and val not in KEYWORDS and (not i or toks[i - 1] not in (("op", "|"), ("op", "."))):
            lookups.append(val)
    if not toks or toks[0][0] != "name" or toks[0][1] in KEYWORDS:
        return Expr(None, (), tuple(lookups))
    filters = []
    called = toks[1:3] == [("op", "("), ("op", ")")]
    i = 3 if called else 1
    while i < len(toks):
        if toks[i] != ("op", "|") or i + 1 >= len(toks) or toks[i + 1][0] != "name":
            return Expr(None, (), tuple(lookups))
        filters.append(toks[i + 1][1])
        i += 2
        if i < len(toks) and toks[i] == ("op", ":"):
            if i + 1 >= len(toks) or toks[i + 1][0] == "op":
                return Expr(None, (), tuple(lookups))
            i += 2
        elif i < len(toks) and toks[i] == ("op", "("):
            depth = 0
            while i < len(toks):
                depth += {("op", "("): 1, ("op", ")"): -1}.get(toks[i], 0)
                i += 1
                if depth == 0:
                    break
    return Expr(toks[0][1], tuple(filters), tuple(lookups), called)


# -- the project's templates ----------------------------------------------------------------------
class Library:
    """Template folders of a project root, parsed templates and ``{% extends %}`` expansion."""

    def __init__(self, root: Path, skip_dir=None):
        self.root = Path(root)
        self.skip_dir = skip_dir or (lambda parent, name: name.startswith("."))
        self._dirs: Optional[List[str]] = None
        self._parsed: Dict[str, Optional[Template]] = {}
        self._expanded: Dict[str, Optional[list]] = {}

    @property
    def dirs(self) -> List[str]:
        if self._dirs is None:
            out = []
            for dirpath, dirnames, _files in os.walk(self.root):
                dirnames[:] = sorted(d for d in dirnames if not self.skip_dir(dirpath, d))
                if os.path.basename(dirpath) == "templates":
                    out.append(dirpath)
            self._dirs = out
        return self._dirs

    def find(self, name: str, near: str = "") -> Optional[str]:
        """The file of template ``name``; when several folders hold one, the folder closest to
        ``near`` (the view, or the including template) wins, as an app's own templates usually do."""
        if not name or name.startswith("/") or ".." in name.split("/"):
            return None
        found = [p for p in (os.path.join(d, name) for d in self.dirs) if os.path.isfile(p)]
        if len(found) > 1 and near:
            found.sort(key=lambda p: -len(os.path.commonpath([p, near])))
        return found[0] if found else None

    def template(self, path: str) -> Optional[Template]:
        if path not in self._parsed:
            tpl = None
            try:
                if os.path.getsize(path) <= MAX_FILE:
                    with open(path, encoding="utf-8", errors="replace") as fh:
                        tpl = parse(fh.read())
                    _mark(tpl.nodes, path)
            except (OSError, RecursionError):
                tpl = None
            self._parsed[path] = tpl
        return self._parsed[path]

    def nodes(self, path: str) -> Optional[list]:
        """What rendering ``path`` renders: a child's blocks put into its parents."""
        if path not in self._expanded:
            self._expanded[path] = None  # cycle guard
            self._expanded[path] = self._expand(path, {}, 0, [])
        return self._expanded[path]

    def _expand(self, path: str, overrides: Dict[str, Block], depth: int, seen: List[str]) -> Optional[list]:
        tpl = self.template(path)
        if tpl is None or path in seen or depth > 10:
            return None
        if tpl.extends is not None:
            own = {}
            for b in _blocks(tpl.nodes):
                own.setdefault(b.name, b)
            merged = {**own, **overrides}
            name = _literal(tpl.extends.name)
            parent = self.find(name, path) if name else None
            if parent is not None:
                out = self._expand(parent, merged, depth + 1, seen + [path])
                if out is not None:
                    return out
            return [merged[n] for n in own]  # unknown parent: the blocks alone
        return _substitute(tpl.nodes, overrides, 0)


def _mark(nodes, path: str) -> None:
    for n in nodes:
        if hasattr(n, "file"):
            n.file = path
        for child in _children(n):
            _mark(child, path)


def _blocks(nodes) -> List[Block]:
    out = []
    for n in nodes:
        if isinstance(n, Block):
            out.append(n)
        for child in _children(n):
            out.extend(_blocks(child))
    return out


def _children(n) -> List[list]:
    if isinstance(n, For):
        return [n.body, n.empty]
    if isinstance(n, (With, Block)):
        return [n.body]
    return []


def _substitute(nodes, overrides: Dict[str, Block], depth: int) -> list:
    if depth > 20:
        return nodes
    out = []
    for n in nodes:
        if isinstance(n, Block):
            chosen = overrides.get(n.name, n)
            rest = {k: v for k, v in overrides.items() if k != n.name}
            out.append(replace(chosen, body=_substitute(chosen.body, rest, depth + 1)))
        elif isinstance(n, For):
            out.append(replace(n, body=_substitute(n.body, overrides, depth + 1),
                               empty=_substitute(n.empty, overrides, depth + 1)))
        elif isinstance(n, With):
            out.append(replace(n, body=_substitute(n.body, overrides, depth + 1)))
        else:
            out.append(n)
    return out


def _literal(text: str) -> Optional[str]:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return None


# -- values and reads -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rows:
    """Rows of the view's query ``src`` (reached by ``path`` from the query's rows)."""

    src: object
    model: str
    path: Tuple[str, ...] = ()
    per_row: bool = False  # evaluated once per row of an enclosing loop


@dataclass(frozen=True)
class Obj:
    """One row; ``per_row`` when a ``{% for %}`` over rows bound it (or an attribute of one)."""

    src: object
    model: str
    path: Tuple[str, ...] = ()
    per_row: bool = False


@dataclass(frozen=True)
class Mgr:
    """A reverse or many-to-many relation of a row, not evaluated yet (``book.tags``)."""

    src: object
    model: str
    path: Tuple[str, ...] = ()
    per_row: bool = False


@dataclass(frozen=True)
class Groups:
    """``{% regroup rows by attr as groups %}``: each group's ``list`` holds some of ``rows``."""

    rows: Rows


@dataclass(frozen=True)
class CustomTag:
    """A project template tag or filter: its name in templates and its Python function."""

    name: str
    func: str  # qualified name of the function
    kind: str  # "filter" | "tag"
    takes_context: bool = False


@dataclass(frozen=True)
class TplCall:
    """A custom tag or filter run once per row of a template loop over ``src``'s rows, whose
    function runs a query of its own."""

    src: object
    tag: CustomTag
    path: str
    line: int
    col: int
    text: str


@dataclass(frozen=True)
class TplRead:
    """A relation read on a row inside a template loop: ``names`` from the query's rows, the
    calls ``ops`` on a collection (``all``/``count``/``exists``), where, and how it is written."""

    src: object
    names: Tuple[str, ...]
    ops: Tuple[str, ...]
    path: str
    line: int
    col: int
    text: str
    via: str = ""  # a property or method of the row whose body reads it


ROW_FILTERS = frozenset("dictsort dictsortreversed slice".split())
ONE_FILTERS = frozenset("first last random".split())
MANAGER_OPS = frozenset("count exists".split())


class Evaluator:
    """Walks templates with values bound to names and collects :class:`TplRead` s."""

    MAX_INCLUDES = 8
    BUDGET = 50000  # nodes visited per evaluation

    def __init__(self, library: Library, index, tags: Optional[Dict[str, "CustomTag"]] = None,
                 subclass_rows: frozenset = frozenset()):
        self.lib = library
        self.index = index
        self.tags = tags or {}
        self.subclass_rows = subclass_rows  # sources whose rows are multi-table children
        self.reads: List[TplRead] = []
        self.calls: List[TplCall] = []
        self._rows: List[object] = []  # sources of the enclosing ``{% for %}`` loops over rows
        self._seen = set()
        self._budget = self.BUDGET

    def run(self, path: str, env: Dict[str, object]) -> List[TplRead]:
        self._template(path, {k: v for k, v in env.items() if v is not None}, [])
        return self.reads

    def _template(self, path: str, env: Dict[str, object], stack: List[str]) -> None:
        key = (path, tuple(sorted(env.items(), key=lambda kv: kv[0])))
        if key in self._seen or path in stack or len(stack) > self.MAX_INCLUDES:
            return
        self._seen.add(key)
        nodes = self.lib.nodes(path)
        if nodes is not None:
            self._nodes(nodes, dict(env), path, stack + [path])

    def _nodes(self, nodes, env: Dict[str, object], path: str, stack: List[str]) -> None:
        for n in nodes:
            self._budget -= 1
            if self._budget < 0:
                return
            where = getattr(n, "file", "") or path
            if isinstance(n, Var):
                self.value(n.expr, env, where, n.line, n.col)
            elif isinstance(n, Tag):
                self._tag(n, env, where)
            elif isinstance(n, For):
                self._for(n, env, where, stack)
            elif isinstance(n, With):
                inner = dict(env)
                for name, value in n.binds:
                    _bind(inner, name, self.value(value, env, where, n.line, n.col))
                self._nodes(n.body, inner, path, stack)
            elif isinstance(n, Set):
                _bind(env, n.name, self.value(n.expr, env, where, n.line, n.col))
            elif isinstance(n, Block):
                self._nodes(n.body, dict(env), path, stack)
            elif isinstance(n, Include):
                self._include(n, env, where, stack)

    def _for(self, n: For, env, path: str, stack) -> None:
        it = self.value(n.iter, env, path, n.line, n.col)
        inner = dict(env)
        for t in n.targets:
            inner.pop(t, None)
        if isinstance(it, Rows) and len(n.targets) == 1:
            inner[n.targets[0]] = Obj(it.src, it.model, it.path, True)
        elif isinstance(it, Groups) and len(n.targets) == 1:
            inner[n.targets[0]] = it
        elif isinstance(it, Groups) and len(n.targets) == 2:  # ``for grouper, list in groups``
            inner[n.targets[1]] = it.rows
        over_rows = isinstance(it, Rows) or isinstance(it, Groups)
        if over_rows:
            self._rows.append(it.src if isinstance(it, Rows) else it.rows.src)
        if n.cond:
            self.value(n.cond, inner, path, n.line, n.col)
        self._nodes(n.body, inner, path, stack)
        if over_rows:
            self._rows.pop()
        self._nodes(n.empty, dict(env), path, stack)

    def _include(self, n: Include, env, path: str, stack) -> None:
        inner = {} if n.only else dict(env)
        for name, value in n.binds:
            _bind(inner, name, self.value(value, env, path, n.line, n.col))
        name = _literal(n.name)
        if name is None:
            self.value(n.name, env, path, n.line, n.col)
            return
        target = self.lib.find(name, path)
        if target is not None:
            self._template(target, inner, stack)

    def _tag(self, n: Tag, env, path: str) -> None:
        b = n.bits
        if n.name == "regroup" and len(b) == 5 and b[1] == "by" and b[3] == "as":
            rows = self.value(b[0], env, path, n.line, n.col)
            if isinstance(rows, Rows):  # ``by author.name`` reads the author of every row
                self.value(f"row.{b[2]}", {"row": Obj(rows.src, rows.model, rows.path, True)}, path, n.line, n.col)
            _bind(env, b[4], Groups(rows) if isinstance(rows, Rows) else None)
            return
        skip_next = False
        args = []
        for b in n.bits:
            if skip_next:
                skip_next = False
                continue
            if b == "as":
                skip_next = True
                continue
            keyword = "=" in b and not b.startswith(("'", '"')) and b.split("=", 1)[0].isidentifier()
            if keyword:
                b = b.split("=", 1)[1]
            v = self.value(b, env, path, n.line, n.col)
            if not keyword:
                args.append(v)
        tag = self.tags.get(n.name)
        if tag is not None and tag.kind == "tag":
            self._custom(tag, args, path, n.line, n.col, f"{{% {n.name} %}}")

    # -- values --------------------------------------------------------------------------------
    def value(self, text: str, env, path: str, line: int, col: int):
        """The value of an expression (None: unknown); records the reads it makes."""
        e = expr(text)
        values = [self._lookup(lookup, env, path, line, col) for lookup in e.lookups]
        if e.main is None:
            return None
        out = values[0]
        for f in e.filters:
            tag = self.tags.get(f)
            if tag is not None and tag.kind == "filter":
                self._custom(tag, [out], path, line, col, f"|{f}")
            out = self._filter(f, out)
        return out

    def _custom(self, tag: CustomTag, args, path: str, line: int, col: int, text: str) -> None:
        """A project tag or filter run with ``args``: per row when a row is among them or a loop
        over rows encloses it. Relations of a row argument its function reads are that row's
        reads; a query of its own makes the call a :class:`TplCall`."""
        rows = [a for a in args if isinstance(a, (Obj, Rows, Mgr)) and a.per_row]
        src = rows[0].src if rows else (self._rows[-1] if self._rows else None)
        fn = self.index.functions.get(tag.func)
        if src is None or fn is None:
            return
        params = [p for p, _ann, _default in fn.params][1 if tag.takes_context else 0:]
        reads, opaque = [], False
        for value, param in zip(args, params):
            if isinstance(value, Obj) and value.per_row:
                got, op = param_reads(self.index, tag.func, param, value.model)
                opaque |= op
                reads.extend((value, r) for r in got)
        if not opaque and self.index.typer.queries(tag.func) is None:
            for value, r in reads:
                self.reads.append(TplRead(value.src, value.path + r.names, r.ops, path, line, col, text,
                                          f"{tag.name}: {r.text}"))
            return
        self.calls.append(TplCall(src, tag, path, line, col, text))

    def _filter(self, name: str, v):
        if isinstance(v, Rows) and name in ROW_FILTERS:
            return v
        if isinstance(v, Rows) and name in ONE_FILTERS:
            return Obj(v.src, v.model, v.path, v.per_row)
        return None

    def _lookup(self, lookup: str, env, path: str, line: int, col: int):
        parts = lookup.split(".")
        v = env.get(parts[0])
        for i, part in enumerate(parts[1:], start=1):
            if v is None:
                return None
            v = self._attr(v, part, ".".join(parts[: i + 1]), path, line, col)
        return v

    def _attr(self, v, part: str, text: str, path: str, line: int, col: int):
        ix = self.index
        if isinstance(v, Groups):
            return v.rows if part == "list" else None
        if isinstance(v, Rows):
            if part in ("all", "object_list"):
                return v
            if part.isdigit():
                return Obj(v.src, v.model, v.path, v.per_row)
            return None
        if isinstance(v, Mgr):
            if part == "all":
                self._read(v, v.path, ("all",), path, line, col, text)
                return Rows(v.src, v.model, v.path, v.per_row)
            if part in MANAGER_OPS:
                self._read(v, v.path, (part,), path, line, col, text)
            return None
        if not isinstance(v, Obj):
            return None
        m = ix.models.get(v.model)
        if m is None:
            return None
        rel = m.relations.get(part)
        if rel is not None and m.orm != "django":  # an SQLAlchemy relationship loads itself when read
            if rel.to_many:
                self._read(v, v.path + (part,), ("all",), path, line, col, text)
                return Rows(v.src, rel.target, v.path + (part,), v.per_row)
            self._read(v, v.path + (part,), (), path, line, col, text)
            return Obj(v.src, rel.target, v.path + (part,), v.per_row)
        if rel is not None:
            if rel.to_many:
                return Mgr(v.src, rel.target, v.path + (part,), v.per_row)
            self._read(v, v.path + (part,), (), path, line, col, text)
            return Obj(v.src, rel.target, v.path + (part,), v.per_row)
        if not v.path and v.src in self.subclass_rows and part not in m.fields:
            return self._child_attr(v, m, part, path, line, col, text)
        if v.per_row and part not in m.fields and part not in ROW_WRITES:
            self._through(v, part, path, line, col, text)
        return None

    def _child_attr(self, v: Obj, m, part: str, path: str, line: int, col: int, text: str):
        """``{{ status.book }}`` on rows of ``select_subclasses()``: each row is a child (a
        ``Comment``, a ``Review``), so a relation only the children declare is read through
        each child's parent link (``comment__book``, ``review__book``); the value goes on through
        the first child that has it."""
        out = None
        for link, child in self.index.mti_children(m.qual):
            rel = self.index.models[child].relations.get(part)
            if rel is None:
                continue
            names = v.path + (link, part)
            if rel.to_many:
                got = Mgr(v.src, rel.target, names, v.per_row)
            else:
                self._read(v, names, (), path, line, col, text)
                got = Obj(v.src, rel.target, names, v.per_row)
            out = out or got
        return out

    def _through(self, v: Obj, part: str, path: str, line: int, col: int, text: str) -> None:
        """``{{ book.label }}``: a property, or a method the template calls without arguments,
        whose body reads relations of the row."""
        ix = self.index
        meth = ix.find_method(v.model, part)
        fn = ix.functions.get(meth) if meth else None
        if fn is None or not fn.params or (len(fn.params) > 1 and not is_property(ix, meth)):
            return
        reads, opaque = param_reads(ix, meth, fn.params[0][0], v.model)
        if opaque:
            return
        for r in reads:
            self.reads.append(TplRead(v.src, v.path + r.names, r.ops, path, line, col, text, f"{part}: {r.text}"))

    def _read(self, v, names, ops, path: str, line: int, col: int, text: str) -> None:
        if v.per_row:
            self.reads.append(TplRead(v.src, tuple(names), tuple(ops), path, line, col, text))


def _bind(env: Dict[str, object], name: str, value) -> None:
    if value is None:
        env.pop(name, None)
    else:
        env[name] = value


TAG_REGISTRARS = {"filter": "filter", "simple_tag": "tag", "inclusion_tag": "tag"}


def custom_tags(ctx) -> Dict[str, CustomTag]:
    """The project's custom template tags and filters by name, built once per index. A name two
    functions register is left out (which library a template loads is not followed)."""
    return ctx.derived("loops.template_tags", lambda: _custom_tags(ctx.project.root, ctx.index))


def _custom_tags(root: Path, index) -> Dict[str, CustomTag]:
    found: Dict[str, set] = {}
    for module in sorted(index.module_rel):
        if "templatetags" not in module.split(".")[:-1]:
            continue
        rel = index.module_rel[module]
        try:
            with open(Path(root) / rel, encoding="utf-8", errors="replace") as fh:
                tree = ast.parse(fh.read())
        except (OSError, SyntaxError, ValueError):
            continue
        for registrar, func in _registrars(tree):
            got = _registration(registrar, func)
            if got is not None:
                name, kind, ctx_arg = got
                found.setdefault(name, set()).add(CustomTag(name, f"{module}.{func}", kind, ctx_arg))
    return {name: next(iter(tags)) for name, tags in found.items() if len(tags) == 1}


def _registrars(tree: ast.Module):
    """(registering expression, function name) pairs of a module: each decorator of a top-level
    function, and each ``register.filter("x", f)`` statement."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in node.decorator_list:
                yield d, node.name
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and node.value.args \
                and isinstance(node.value.args[-1], ast.Name):
            yield node.value, node.value.args[-1].id


def _registration(d: ast.AST, func_name: str) -> Optional[Tuple[str, str, bool]]:
    """(name, kind, takes_context) of ``@register.filter``, ``@register.filter(name="x")``,
    ``@register.simple_tag(takes_context=True)``, ``@register.inclusion_tag("t.html")``."""
    call = d if isinstance(d, ast.Call) else None
    f = call.func if call is not None else d
    if not isinstance(f, ast.Attribute) or f.attr not in TAG_REGISTRARS:
        return None
    kind = TAG_REGISTRARS[f.attr]
    name, takes_context = func_name, False
    if call is not None:
        for k in call.keywords:
            if k.arg == "name" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str):
                name = k.value.value
            elif k.arg == "takes_context" and isinstance(k.value, ast.Constant):
                takes_context = k.value.value is True
        first = call.args[0] if call.args else None
        if f.attr != "inclusion_tag" and isinstance(first, ast.Constant) and isinstance(first.value, str):
            name = first.value
    return name, kind, takes_context


def evaluate(ctx, site) -> Tuple[List[TplRead], List[TplCall]]:
    """Every relation read and custom-tag query of the template a view site renders (the first of
    its names found), with each of the site's contexts; nothing when no name is found. Shared by
    the loop rules: one evaluation per site."""
    if site is None:
        return [], []
    lib = library(ctx)
    path = next((p for p in (lib.find(n, ctx.path) for n in site.templates) if p), None)
    if path is None:
        return [], []
    # kept for the file being checked only (its MDB301 and MDB302 share it): the sources are
    # identities of this file's nodes
    memo = ctx.derived("loops.template_evaluations", dict)
    if memo.get("file") != ctx.path:
        memo.clear()
        memo["file"] = ctx.path
    key = (path, tuple(tuple(sorted(env.items(), key=lambda kv: kv[0])) for env in site.envs))
    if key not in memo:
        tags = custom_tags(ctx)
        reads: List[TplRead] = []
        calls: List[TplCall] = []
        subclass_rows = frozenset(sid for sid, (src, _node) in site.sources.items() if SUBCLASSES in src.eager)
        for env in site.envs:
            ev = Evaluator(lib, ctx.index, tags, subclass_rows)
            reads.extend(ev.run(path, env))
            calls.extend(ev.calls)
        memo[key] = (reads, calls)
    return memo[key]


def library(ctx) -> Library:
    """The project's template library, built once per run (``ctx.derived``)."""
    return ctx.derived("loops.templates", lambda: Library(ctx.project.root, ProjectFiles._skip_dir_name))
