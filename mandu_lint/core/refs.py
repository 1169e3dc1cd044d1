"""Symbolic values ("refs"): what an expression *is*, written without knowing the project.

Per-file extraction runs before the project index exists, so it cannot know whether ``Book``
is a model. It records expressions as refs instead, and the index gives them meaning later
(:meth:`mandu_lint.project.index.ProjectIndex.type_of`). Rules use the same :class:`Scope` so
that both phases agree on what an expression refers to.

Refs are small tuples (cheap to pickle into the cache):

- ``("g", "pkg.mod.Name")``  a global: module attribute, import, builtin (``builtins.len``)
- ``("a", base, "attr")``    attribute of ``base``
- ``("c", base, pos, kw)``   result of calling ``base``; ``pos`` = refs of the first positional
  arguments, ``kw`` = ``((name, ref), ...)`` of keyword arguments
- ``("i", base)``            an element of iterating ``base`` (a loop variable)
- ``("s", base)``            ``base[...]``
- ``("p", func, name)``      a parameter of project function ``func``
- ``("self", cls)``          ``self`` inside a method of project class ``cls``
- ``("lit",)``               a literal (number, string, container display); a string that reads as SQL
  is ``("lit", "sql", "query"|"write"|"ddl")``, a short identifier-like string ``("lit", "str", value)``
  (``apps.get_model("shop", "Book")``), a dict display of names ``("lit", "dict", value refs)``,
  a list/tuple/set display of at most 20 constants or names ``("lit", "few", n)``
- ``("s", base, "index")``   ``base[i]`` with an index or key (``("s", base)`` is a slice)
- ``("conflict", r1, r2, …)`` a local bound to several refs (every assignment), or the operands of
  ``a or b`` / ``a if c else b``; the typer types it when all of them type alike,
  :meth:`Scope.lookup` returns it, :meth:`Scope.lookup_single` not

``None`` means unknown. ``await`` is transparent: ``await s.execute()`` is the call's ref.
"""
from __future__ import annotations

import ast
import re
from typing import Dict, Iterable, Optional, Tuple
from .bounded import FEW, is_small_display
from .tags import RT

Ref = Optional[tuple]
MAX_DEPTH = 24  # refs deeper than this are treated as unknown (keeps pathological code cheap); a receiver
# chain counts an attribute and a call per method, so 24 is a queryset of about a dozen chained
# methods (`Doc.objects.filter().distinct().order_by().annotate()…prefetch_related()`: 15), common in views
MAX_POS = 3
MAX_CANDIDATES = 8  # a local bound to more different refs than this is unknown
INDEX = "index"  # third item of ``("s", base, INDEX)``: an element, not a slice
_NONE_LIT = ("lit",)  # the ref of a local assigned only ``None`` (an identity marker while collecting)
_STR_LIT = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)?")
_SQL = re.compile(r"\s*\(?\s*(select|insert|update|delete|with|replace|merge|upsert|truncate|create|alter|drop)\b"
                  r"(.*)", re.I | re.S)
_DDL_OBJECTS = r"\b(table|index|view|sequence|trigger|function|procedure|schema|extension|type|materialized)\b"
_SQL_SHAPE = {"select": re.compile(r"\bfrom\b|^\s*[\w.*()',\s]+$", re.I), "insert": re.compile(r"\binto\b", re.I),
              "update": re.compile(r"\bset\b", re.I), "delete": re.compile(r"\bfrom\b", re.I),
              "with": re.compile(r"\bas\s*\(", re.I), "replace": re.compile(r"\binto\b", re.I),
              "merge": re.compile(r"\binto\b", re.I), "upsert": re.compile(r"\binto\b", re.I),
              "truncate": re.compile(r"\w", re.I), "create": re.compile(_DDL_OBJECTS, re.I),
              "alter": re.compile(_DDL_OBJECTS, re.I), "drop": re.compile(_DDL_OBJECTS, re.I)}
_SQL_WRITES = re.compile(r"\b(insert|update|delete|merge|upsert)\b", re.I)


def sql_kind(text: str) -> Optional[str]:
    """``"query"``, ``"write"`` or ``"ddl"`` when ``text`` reads as an SQL statement, else None."""
    m = _SQL.match(text)
    if m is None:
        return None
    verb, rest = m.group(1).lower(), m.group(2)
    if not _SQL_SHAPE[verb].search(rest):
        return None
    if verb == "select" and not re.search(r"\bfrom\b", rest, re.I) and (
            not m.group(1).isupper() or len(rest) > 60):
        return None  # "SELECT 1", "SELECT nextval('s')"; not "Select a project"
    if verb == "select":
        return "query"
    if verb == "with":
        return "write" if _SQL_WRITES.search(rest) else "query"
    if verb in ("create", "alter", "drop"):
        return "ddl"  # schema, not rows: no round trip per row to batch, no data to half-write
    return "write"


def sql_literal(ref: Ref) -> Optional[str]:
    """The SQL kind (``query``/``write``) of a literal ref, seen through ``.format()``."""
    if ref is not None and ref[0] == RT.CALL and ref[1] is not None and ref[1][0] == RT.ATTR \
            and ref[1][2] == "format":
        ref = ref[1][1]
    if ref is not None and ref[0] == RT.LIT and len(ref) == 3 and ref[1] == "sql":
        return ref[2]
    return None


def literal_str(ref: Ref) -> Optional[str]:
    """The value of a short identifier-like string literal ref (``"shop.Book"``)."""
    if ref is not None and ref[0] == RT.LIT and len(ref) == 3 and ref[1] == "str":
        return ref[2]
    return None


BUILTINS = frozenset(dir(__import__("builtins")))


def depth(ref: Ref) -> int:
    n = 0
    while ref is not None and ref[0] in (RT.ATTR, RT.CALL, RT.ITER, RT.SUB):
        ref = ref[1]
        n += 1
    return n


def root(ref: Ref) -> Ref:
    """The innermost ref of a chain; a conflict stands for its first candidate (see ``chain``)."""
    return chain(ref)[0]


_STEPS = (RT.ATTR, RT.CALL, RT.ITER, RT.SUB)


def chain(ref: Ref) -> Tuple[Ref, list]:
    """Split a ref into its root and the attribute/call steps applied to it, outermost last:
    ``Book.objects.filter().first()`` → (g Book, [a objects, a filter, c, a first, c]).

    A conflict on the way (a local assigned several times) is read as its first candidate:
    the typer types a conflict only when every candidate types like the first, and a later
    candidate is recorded on top of the first (``qs = qs.filter()``), so the first is where
    the query starts."""
    steps = []
    while ref is not None:
        tag = ref[0]
        if tag in _STEPS:
            steps.append(ref)
            ref = ref[1]
        elif tag == RT.CONFLICT and len(ref) > 1:
            ref = ref[1]
        else:
            break
    steps.reverse()
    return ref, steps


class ModuleNames:
    """What each top-level name of a module refers to: imports and module-level definitions."""

    def __init__(self, module: str, is_package: bool):
        self.module = module
        self.is_package = is_package
        self.names: Dict[str, str] = {}  # local name -> qualified name

    def absolute(self, level: int, mod: Optional[str]) -> str:
        if level == 0:
            return mod or ""
        parts = self.module.split(".")
        keep = len(parts) - level + (1 if self.is_package else 0)
        base = parts[: max(keep, 0)]
        return ".".join(base + ([mod] if mod else []))

    def add_import(self, node) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self.names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    self.names[top] = top
        else:
            base = self.absolute(node.level, node.module)
            for a in node.names:
                if a.name != "*":
                    self.names[a.asname or a.name] = f"{base}.{a.name}" if base else a.name

    def qual(self, name: str) -> Optional[str]:
        q = self.names.get(name)
        if q is not None:
            return q
        if name in BUILTINS:
            return "builtins." + name
        return None


_SCOPE_BARRIERS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_SKIP_FIELDS = {"ctx", "op", "type_comment", "kind"}
_FIELDS: Dict[type, Tuple[str, ...]] = {}


def child_nodes(node: ast.AST) -> list:
    """Child nodes in source order; a faster ``ast.iter_child_nodes`` that also skips
    leaf-only fields (``ctx``, operators), which are a large share of all nodes."""
    cls = node.__class__
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(f for f in cls._fields if f not in _SKIP_FIELDS)
    out = []
    for name in fields:
        v = getattr(node, name, None)
        if v is None:
            continue
        if v.__class__ is list:
            for x in v:
                if isinstance(x, ast.AST):
                    out.append(x)
        elif isinstance(v, ast.AST):
            out.append(v)
    return out


def iter_local_nodes(body: Iterable[ast.AST]):
    """Every node in ``body`` (pre-order) without entering nested functions, classes or lambdas."""
    stack = list(body)
    stack.reverse()
    barriers = _SCOPE_BARRIERS
    fields_of, AST = _FIELDS, ast.AST
    # ``child_nodes`` inlined, on purpose (a copy of its loop): this visits every node of every
    # function body, and the call per node cost about 0.15 s of a cold netbox run
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, barriers):
            continue
        cls = node.__class__
        fields = fields_of.get(cls)
        if fields is None:
            fields = fields_of[cls] = tuple(f for f in cls._fields if f not in _SKIP_FIELDS)
        children = []
        for name in fields:
            v = getattr(node, name, None)
            if v is None:
                continue
            if v.__class__ is list:
                for x in v:
                    if isinstance(x, AST):
                        children.append(x)
            elif isinstance(v, AST):
                children.append(v)
        children.reverse()
        stack.extend(children)


class Scope:
    """Names visible in one function (or module) body, each mapped to a ref.

    Flow-insensitive on purpose: a name assigned two different things is a *conflict*,
    ``("conflict", r1, r2, …)``, holding every assigned ref (a ``None`` literal is left out:
    ``x = None`` then ``x = Book.objects.get()`` is an optional Book). The typer types it only
    when all of them type alike, so a rule never acts on a guess; an assignment that is
    unknown makes the whole name unknown (``(CONFLICT,)``). A rebinding derived from the name
    itself (``qs = qs.filter(…)``) is recorded on the first candidate, which keeps the
    candidates flat: their types agree exactly when the conflict's does.
    """

    _CONFLICT = (RT.CONFLICT,)

    def __init__(self, names: ModuleNames, func: Optional[str] = None, parent: "Scope" = None,
                 self_cls: Optional[str] = None):
        self.mod = names
        self.func = func
        self.parent = parent
        self.self_cls = self_cls
        self.locals: Dict[str, Ref] = {}
        self.values: Dict[str, Optional[ast.AST]] = {}  # name -> its only assigned expression
        self.all_values: Dict[str, list] = {}  # name -> every expression assigned to it
        self.lazy_body: Optional[list] = None  # locals came from the cache; values computed on demand
        self._none_names: set = set()  # names whose only binding so far is ``None``
        # id(node) -> ref, once every binding is known (see ``freeze``); several rules ask for the
        # ref of the same call, and a chain's ref contains the refs of its inner calls.
        self.memo: Optional[Dict[int, Ref]] = None

    def freeze(self) -> None:
        """Bindings are complete: refs may be memoised from now on."""
        self.memo = {}

    def forget(self) -> None:
        """A binding changed (the engine rebinds loop variables): drop memoised refs."""
        if self.memo:
            self.memo.clear()

    # -- building ---------------------------------------------------------------------------
    def bind(self, name: str, ref: Ref, none: bool = False) -> None:
        """``none``: the value is the literal ``None`` (left out of a conflict's candidates)."""
        self.forget()
        old = self.locals.get(name, self)
        if none:
            if old is self:
                self.locals[name] = _NONE_LIT
                self._none_names.add(name)
            return
        if old is self:
            self.locals[name] = ref
            return
        if name in self._none_names:  # ``x = None`` came first
            self._none_names.discard(name)
            if old is _NONE_LIT:
                self.locals[name] = (RT.CONFLICT, ref) if ref is not None else self._CONFLICT
                return
        if old == ref:
            return
        if ref is None or old is None or old == self._CONFLICT:
            self.locals[name] = self._CONFLICT
            return
        cands = list(old[1:]) if old[0] == RT.CONFLICT else [old]
        ref = _rebase(ref, old, cands[0])
        if ref is None or depth(ref) > MAX_DEPTH:
            self.locals[name] = self._CONFLICT
        elif ref not in cands:
            cands.append(ref)
            self.locals[name] = (RT.CONFLICT,) + tuple(cands) if len(cands) <= MAX_CANDIDATES else self._CONFLICT

    def bind_params(self, args: ast.arguments, is_method: bool, is_classmethod: bool) -> None:
        every = args.posonlyargs + args.args + args.kwonlyargs
        extra = [a for a in (args.vararg, args.kwarg) if a is not None]
        for i, a in enumerate(every):
            if i == 0 and is_method and self.self_cls:
                self.locals[a.arg] = (RT.GLOBAL, self.self_cls) if is_classmethod else (RT.SELF, self.self_cls)
            else:
                self.locals[a.arg] = (RT.PARAM, self.func, a.arg)
        for a in extra:
            self.locals[a.arg] = None

    def collect(self, body: Iterable[ast.AST], nodes: Optional[list] = None) -> None:
        """Bind every local assignment target in ``body``, in textual order (one pass).
        ``nodes`` may pass ``list(iter_local_nodes(body))`` when the caller walks it too."""
        bindings = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor,
                    ast.comprehension, ast.With, ast.AsyncWith, ast.FunctionDef, ast.AsyncFunctionDef,
                    ast.ClassDef, ast.Import, ast.ImportFrom, ast.ExceptHandler)
        for node in (nodes if nodes is not None else iter_local_nodes(body)):
            if isinstance(node, bindings):
                self._collect_node(node)

    def _collect_node(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and self.func is None and self.parent is None:
            return  # module-level names stay globals (``("g", "mod.name")``), resolved by the index
        if isinstance(node, ast.Assign):
            if isinstance(node.value, ast.Constant) and node.value.value is None:
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.bind(t.id, None, none=True)
                        self.values[t.id] = None if t.id in self.values else node.value
                    else:
                        self._bind_target(t, None)
                return
            value = self.ref_of(node.value)
            for t in node.targets:
                self._bind_target(t, value, node.value)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            if isinstance(node, ast.AugAssign):
                self.bind(node.target.id, None)
            elif node.value is not None:
                self.bind(node.target.id, self.ref_of(node.value))
            else:
                self.bind(node.target.id, None)
        elif isinstance(node, ast.NamedExpr):
            self.bind(node.target.id, self.ref_of(node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            self._bind_loop_target(node.target, node.iter)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    self._bind_target(item.optional_vars, self.ref_of(item.context_expr))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if self.func is not None:  # module-level definitions are named by ModuleNames
                self.bind(node.name, (RT.GLOBAL, f"{self.func}.{node.name}"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            local = ModuleNames(self.mod.module, self.mod.is_package)
            local.add_import(node)
            for name, qual in local.names.items():
                self.bind(name, (RT.GLOBAL, qual))
        elif isinstance(node, ast.ExceptHandler) and node.name:
            self.bind(node.name, None)

    def _bind_target(self, target: ast.AST, value: Ref, node: Optional[ast.AST] = None) -> None:
        if isinstance(target, ast.Name):
            self.bind(target.id, value)
            prev = self.values.get(target.id, node)
            self.values[target.id] = node if prev is node else None
            if node is not None:
                self.all_values.setdefault(target.id, []).append(node)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._bind_target(elt.value if isinstance(elt, ast.Starred) else elt, None)

    def _bind_loop_target(self, target: ast.AST, it: ast.AST) -> None:
        element = loop_element_ref(self, it)
        if isinstance(target, ast.Name):
            self.bind(target.id, element)
            return
        # ``for i, x in enumerate(qs)``: x is an element of qs
        if (isinstance(target, ast.Tuple) and len(target.elts) == 2 and isinstance(it, ast.Call)
                and isinstance(it.func, ast.Name) and it.func.id == "enumerate" and it.args):
            self._bind_target(target.elts[0], None)
            self._bind_target(target.elts[1], (RT.ITER, self.ref_of(it.args[0])))
            return
        self._bind_target(target, None)

    # -- lookup -----------------------------------------------------------------------------
    def value_of(self, name: str) -> Optional[ast.AST]:
        """The expression a local name was assigned, when it was assigned exactly once."""
        scope = self
        while scope is not None:
            if name in scope.locals:
                if scope.lazy_body is not None:
                    scope._compute_values()
                return scope.values.get(name)
            scope = scope.parent
        return None

    def values_of(self, name: str) -> list:
        """Every expression assigned to a local name (``name = …``), in textual order."""
        scope = self
        while scope is not None:
            if name in scope.locals:
                if scope.lazy_body is not None:
                    scope._compute_values()
                return scope.all_values.get(name, [])
            scope = scope.parent
        return []

    def _compute_values(self) -> None:
        body, self.lazy_body = self.lazy_body, None
        for node in iter_local_nodes(body):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        prev = self.values.get(t.id, node.value)
                        self.values[t.id] = node.value if prev is node.value else None
                        self.all_values.setdefault(t.id, []).append(node.value)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension, ast.AugAssign, ast.AnnAssign)):
                for n in ast.walk(node.target):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):  # not ``obj`` of ``obj.x += 1``
                        self.values[n.id] = None

    def method_class(self) -> Optional[str]:
        """The class whose method this scope is (or is nested in), when known."""
        scope = self
        while scope is not None:
            if scope.self_cls:
                return scope.self_cls
            scope = scope.parent
        return None

    def lookup(self, name: str) -> Ref:
        scope = self
        while scope is not None:
            if name in scope.locals:
                ref = scope.locals[name]
                if ref is not None and ref[0] == RT.CONFLICT:
                    if len(ref) == 2:
                        return ref[1]  # ``x = None`` and one other value: that value
                    return ref if len(ref) > 2 else None
                return ref
            scope = scope.parent
        q = self.mod.qual(name)
        if q is not None:
            return (RT.GLOBAL, q)
        return (RT.GLOBAL, f"{self.mod.module}.{name}") if self.mod.module else (RT.GLOBAL, name)

    def ref_of(self, node: ast.AST) -> Ref:
        ref = self._ref_of(node)
        if ref is not None and depth(ref) > MAX_DEPTH:
            return None
        return ref

    def _ref_of(self, node: ast.AST) -> Ref:
        memo = self.memo
        if memo is None or isinstance(node, ast.Name):
            return self._compute(node)
        key = id(node)
        if key in memo:
            return memo[key]
        ref = memo[key] = self._compute(node)
        return ref

    def _compute(self, node: ast.AST) -> Ref:
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            base = self._ref_of(node.value)
            return None if base is None else (RT.ATTR, base, node.attr)
        if isinstance(node, ast.Call):
            base = self._ref_of(node.func)
            if base is None:
                return None
            pos = tuple(self._ref_of(a) for a in node.args[:MAX_POS] if not isinstance(a, ast.Starred))
            kw = tuple((k.arg, self._ref_of(k.value)) for k in node.keywords if k.arg)
            if not node.args and not node.keywords and isinstance(node.func, ast.Name) and node.func.id == "super":
                cls = self.method_class()
                if cls:  # zero-argument ``super()`` in a method: recorded as ``super(Class, self)``
                    pos = ((RT.SELF, cls),)
            return (RT.CALL, base, pos, kw)
        if isinstance(node, ast.Await):
            return self._ref_of(node.value)
        if isinstance(node, ast.Subscript):
            base = self._ref_of(node.value)
            if base is None:
                return None
            return (RT.SUB, base) if isinstance(node.slice, ast.Slice) else (RT.SUB, base, INDEX)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, str):
                kind = sql_kind(v) if len(v) > 6 else None
                if kind is not None:
                    return (RT.LIT, "sql", kind)
                if len(v) <= 80 and _STR_LIT.fullmatch(v):
                    return (RT.LIT, "str", v)
            return (RT.LIT,)
        if isinstance(node, ast.JoinedStr):
            if node.values and isinstance(node.values[0], ast.Constant):
                text = "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else " x "
                               for v in node.values)
                kind = sql_kind(text)
                if kind is not None:
                    return (RT.LIT, "sql", kind)
            return (RT.LIT,)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            left = self._ref_of(node.left)  # ``"SELECT … %s" % args``, ``"SELECT …" + where``
            return left if sql_literal(left) else None
        if isinstance(node, ast.Dict):
            if 0 < len(node.values) <= MAX_CANDIDATES and all(  # names, or objects it makes
                    isinstance(v, (ast.Name, ast.Attribute)) or isinstance(v, ast.Call) and not v.args
                    and not v.keywords and isinstance(v.func, (ast.Name, ast.Attribute)) for v in node.values):
                vals = tuple(self._ref_of(v) for v in node.values)
                if all(v is not None for v in vals):
                    return (RT.LIT, "dict", vals)
            return (RT.LIT,)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and node.elts and is_small_display(node):
            return (RT.LIT, FEW, len(node.elts))  # a fixed, small collection (``core/bounded.py``)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp)):
            return (RT.LIT,)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
            return self._either(node.values)  # ``(conn or db).execute(…)``
        if isinstance(node, ast.IfExp):
            return self._either((node.body, node.orelse))  # ``session if session else make()``
        return None

    def _either(self, operands) -> Ref:
        """The value of ``a or b`` / ``a if c else b``: one of its operands, like a local bound in
        both branches of an ``if`` (a ``conflict`` the typer types when every operand types alike);
        a ``None`` operand is left out, an unknown one makes the whole unknown."""
        cands = []
        for op in operands:
            if isinstance(op, ast.Constant) and op.value is None:
                continue
            ref = self._ref_of(op)
            if ref is None:
                return None
            if ref not in cands:
                cands.append(ref)
        if not cands or len(cands) > MAX_CANDIDATES:
            return None
        return cands[0] if len(cands) == 1 else (RT.CONFLICT,) + tuple(cands)


def _rebase(ref: Ref, old: Ref, first: Ref) -> Ref:
    """``ref`` with ``old`` (a name's current binding, found as the root of its own rebinding:
    ``qs = qs.filter()``) replaced by ``first``, the name's first candidate."""
    if old == first or ref is None:
        return ref
    if ref == old:
        return first
    if ref[0] in (RT.ATTR, RT.ITER, RT.SUB):
        inner = _rebase(ref[1], old, first)
        return None if inner is None else (ref[0], inner) + ref[2:]
    if ref[0] == RT.CALL:
        inner = _rebase(ref[1], old, first)
        return None if inner is None else (RT.CALL, inner) + ref[2:]
    return ref


def loop_element_ref(scope: Scope, it: ast.AST) -> Ref:
    base = scope.ref_of(it)
    return None if base is None else (RT.ITER, base)


def call_name(node: ast.Call) -> Optional[str]:
    """The last name of a call's callee: ``a.b.filter(...)`` → ``filter``."""
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


def dotted(ref) -> Optional[str]:
    """``("a", ("g", "django.db.models"), "Model")`` → ``"django.db.models.Model"``."""
    parts = []
    while ref is not None and ref[0] == RT.ATTR:
        parts.append(ref[2])
        ref = ref[1]
    if ref is None or ref[0] != RT.GLOBAL:
        return None
    parts.append(ref[1])
    return ".".join(reversed(parts))


def decorator_name(ref: Ref) -> str:
    """The last name of a decorator's ref, its calls stripped: ``@app.task(bind=True)`` →
    ``task``, ``@functools.lru_cache`` → ``lru_cache``; '' when unknown."""
    while ref is not None and ref[0] == RT.CALL:
        ref = ref[1]
    if ref is not None and ref[0] == RT.ATTR:
        return ref[2]
    return ref[1].rsplit(".", 1)[-1] if ref is not None and ref[0] == RT.GLOBAL else ""
