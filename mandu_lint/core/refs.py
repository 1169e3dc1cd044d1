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
- ``("lit",)``               a literal (number, string, container display)

``None`` means unknown. ``await`` is transparent: ``await s.execute()`` is the call's ref.
"""
from __future__ import annotations

import ast
from typing import Dict, Iterable, Optional, Tuple
from .tags import RT

Ref = Optional[tuple]
MAX_DEPTH = 12  # refs deeper than this are treated as unknown (keeps pathological code cheap)
MAX_POS = 3

BUILTINS = frozenset(dir(__import__("builtins")))


def depth(ref: Ref) -> int:
    n = 0
    while ref is not None and ref[0] in (RT.ATTR, RT.CALL, RT.ITER, RT.SUB):
        ref = ref[1]
        n += 1
    return n


def root(ref: Ref) -> Ref:
    while ref is not None and ref[0] in (RT.ATTR, RT.CALL, RT.ITER, RT.SUB):
        ref = ref[1]
    return ref


def chain(ref: Ref) -> Tuple[Ref, list]:
    """Split a ref into its root and the attribute/call steps applied to it, outermost last:
    ``Book.objects.filter().first()`` → (g Book, [a objects, a filter, c, a first, c])."""
    steps = []
    while ref is not None and ref[0] in (RT.ATTR, RT.CALL, RT.ITER, RT.SUB):
        steps.append(ref)
        ref = ref[1]
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
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, barriers):
            continue
        children = child_nodes(node)
        children.reverse()
        stack.extend(children)


class Scope:
    """Names visible in one function (or module) body, each mapped to a ref.

    Flow-insensitive on purpose: a name assigned two different things is unknown, so a rule
    never acts on a guess.
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
        self.lazy_body: Optional[list] = None  # locals came from the cache; values computed on demand
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
    def bind(self, name: str, ref: Ref) -> None:
        self.forget()
        old = self.locals.get(name, self)
        if old is self:
            self.locals[name] = ref
        elif old != ref:
            self.locals[name] = self._CONFLICT

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

    def _compute_values(self) -> None:
        body, self.lazy_body = self.lazy_body, None
        for node in iter_local_nodes(body):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        prev = self.values.get(t.id, node.value)
                        self.values[t.id] = node.value if prev is node.value else None
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension, ast.AugAssign, ast.AnnAssign)):
                for n in ast.walk(node.target):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):  # not ``obj`` of ``obj.x += 1``
                        self.values[n.id] = None

    def lookup(self, name: str) -> Ref:
        scope = self
        while scope is not None:
            if name in scope.locals:
                ref = scope.locals[name]
                return None if ref is not None and ref[0] == RT.CONFLICT else ref
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
            return (RT.CALL, base, pos, kw)
        if isinstance(node, ast.Await):
            return self._ref_of(node.value)
        if isinstance(node, ast.Subscript):
            base = self._ref_of(node.value)
            return None if base is None else (RT.SUB, base)
        if isinstance(node, (ast.Constant, ast.JoinedStr, ast.List, ast.Tuple, ast.Set, ast.Dict,
                             ast.ListComp, ast.SetComp, ast.DictComp)):
            return (RT.LIT,)
        return None


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
