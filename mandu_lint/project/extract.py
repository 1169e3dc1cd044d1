"""Per-file facts: everything the project index needs from one file, from its content alone.

Because the facts depend only on the file's bytes, they are cached by content digest and a
file that did not change is never parsed again to build the index. Meaning (is this class a
model? does this call query?) is decided later by the index, from refs (see ``refs.py``).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
import re
from typing import Dict, FrozenSet, List, Optional, Tuple

from ..core.loading import eager_paths
from ..core.refs import ModuleNames, Ref, Scope, call_name, iter_local_nodes
from ..core.tags import RT, TK
from . import flags

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_ANN_TRANSPARENT = {"Optional", "Union", "Final", "ClassVar", "Required", "NotRequired", "Type", "type"}
_ANN_GEN = {"Generator", "Iterator", "AsyncGenerator", "AsyncIterator", "Iterable", "AsyncIterable",
            "Awaitable", "Coroutine"}
_ANN_LIST = {"list", "List", "Sequence", "set", "Set", "FrozenSet", "tuple", "Tuple", "Collection"}
# Literal keyword arguments of field constructors worth keeping.
_FIELD_KW = {"null", "related_name", "unique", "primary_key", "lazy", "back_populates", "backref",
             "uselist", "db_column", "nullable", "to", "related_query_name", "abstract", "secondary",
             "foreign_key", "source", "many", "method_name", "write_only"}


@dataclass
class FieldFacts:
    name: str
    ctor: Ref  # the callee of the field's constructor, e.g. ("a", ("g","django.db.models"),"ForeignKey")
    target: object  # a string ("app.Model", "Author") or a ref, or None
    kw: Dict[str, object]  # literal keyword values
    line: int
    ann: Ref = None  # SQLAlchemy ``Mapped[...]`` annotation, as an annotation ref
    args: Tuple = ()  # refs of positional args (e.g. ForeignKey inside mapped_column)


@dataclass
class ClassFacts:
    qual: str
    name: str
    line: int
    bases: List[Ref]
    keywords: Dict[str, object]  # class keywords with literal values (``table=True``)
    fields: Dict[str, FieldFacts] = field(default_factory=dict)
    attrs: Dict[str, Ref] = field(default_factory=dict)  # other class-level assignments
    meta: Dict[str, object] = field(default_factory=dict)  # Django ``class Meta`` literals
    methods: Dict[str, str] = field(default_factory=dict)  # name -> function qual
    meta_refs: Dict[str, Ref] = field(default_factory=dict)  # ``class Meta`` names (``model = Book``)
    decorators: List[Ref] = field(default_factory=list)  # class decorators (``method_decorator(atomic, ...)``)
    display_sizes: Dict[str, int] = field(default_factory=dict)  # class-body ``NAME = (...)`` sizes


@dataclass
class FuncFacts:
    qual: str
    name: str
    cls: Optional[str]
    line: int
    is_async: bool
    params: List[Tuple[str, Ref, Ref]]  # (name, annotation ref, default ref)
    decorators: List[Ref]
    returns_ann: Ref
    calls: List[Tuple[Ref, int, int]] = field(default_factory=list)
    iters: List[Tuple[Ref, int, int]] = field(default_factory=list)
    returns: List[Ref] = field(default_factory=list)
    is_generator: bool = False
    param_attrs: List[Tuple[str, Tuple[str, ...]]] = field(default_factory=list)
    self_assigns: List[Tuple[str, Ref]] = field(default_factory=list)  # ``self.x = ...``
    locals: Dict[str, Ref] = field(default_factory=dict)  # the body's scope, reused by the engine
    returns_eager: Tuple[str, ...] = ()  # relation paths its returned queries load eagerly
    global_names: Tuple[str, ...] = ()  # ``global``/``nonlocal`` names (a value cached across calls)
    # ``with`` items: (context ref, body start line, col, block end line, col); the transaction
    # rules decide which of them open a transaction and which calls they cover.
    withs: List[Tuple[Ref, int, int, int, int]] = field(default_factory=list)
    handlers: List[Tuple[int, int, int, int]] = field(default_factory=list)  # ``except`` bodies (start, end)
    starred: List[Tuple[int, int]] = field(default_factory=list)  # (line, col) of calls with ``*a``/``**kw``
    # flag parameters and what they guard (``project/flags.py``)
    flag_defaults: Dict[str, bool] = field(default_factory=dict)
    flag_guards: List[Tuple[str, bool, int, int, int, int]] = field(default_factory=list)
    call_literals: Dict[Tuple[int, int], tuple] = field(default_factory=dict)  # True/False/None arguments
    # fills a class- or module-level store on a miss (``if k not in cls._cache: cls._cache[k] = load()``):
    # what it loads is computed once per process, not once per call (``_shared_store_fill``)
    memo: bool = False


@dataclass
class FileFacts:
    path: str  # POSIX path relative to the project root
    module: str
    is_package: bool
    names: Dict[str, str]
    assigns: Dict[str, Ref]  # module-level name -> value ref
    classes: Dict[str, ClassFacts]
    functions: Dict[str, FuncFacts]
    literals: Dict[str, object] = field(default_factory=dict)  # module-level literal values
    module_locals: Optional[Dict[str, Ref]] = None  # the module scope, reused by the engine
    # Django settings facts: {"DATABASES": True} when assigned at module level,
    # {"ATOMIC_REQUESTS": [values], "ATOMIC_MUTATIONS": [values]} for each literal value (None: not
    # a literal) found anywhere (``ATOMIC_MUTATIONS``: graphene-django, in ``GRAPHENE`` or a database).
    db_settings: Dict[str, object] = field(default_factory=dict)
    error: Optional[str] = None  # the file did not parse
    star_imports: Tuple[str, ...] = ()  # modules imported with ``from m import *``
    display_sizes: Dict[str, int] = field(default_factory=dict)  # ``NAME = [a, b, c]`` → 3
    # module-level calls (a signal registration ``post_save.connect(handler, sender=X)``), as
    # ``(call ref, line, col)`` like ``FuncFacts.calls``; calls inside functions are theirs
    module_calls: Tuple[Tuple[Ref, int, int], ...] = ()
    # every name the file *uses*: loaded names, attribute names and identifier-like words of
    # string literals (``"shop.views.checkout"``, ``__all__``) — not imports, not definitions.
    # The index's ``unreferenced`` (definitions nothing uses) is read off these.
    idents: FrozenSet[str] = frozenset()
    # names loaded that resolve through the file's imports or definitions, as qualified names
    # (``Serializer`` imported from ``app.api`` → ``app.api.Serializer``): a use of that one class,
    # not of every class with the same name
    name_refs: FrozenSet[str] = frozenset()
    # SQLAlchemy imperative (classical) mapping: module-level ``name = Table("t", metadata,
    # Column("c", ..., ForeignKey("p.id")), ...)`` as name -> (table name, columns), and
    # ``registry.map_imperatively(Cls, name, properties={...})`` / ``mapper(Cls, name, ...)`` as
    # (class ref, table ref, properties, line); the index turns the class into a model
    tables: Dict[str, Tuple[str, Dict[str, FieldFacts]]] = field(default_factory=dict)
    mappings: Tuple[Tuple[Ref, Ref, Dict[str, FieldFacts], int], ...] = ()


_MAPPERS = ("map_imperatively", "mapper")


def ann_ref(scope: Scope, node: Optional[ast.AST]) -> Ref:
    """The type an annotation names, with wrappers peeled: ``Optional[X]`` → X,
    ``Annotated[X, Depends(f)]`` → ("ann", X, (refs...)), ``Iterator[X]`` → ("gen", X),
    ``list[X]`` → ("list", X), ``Mapped[X]`` → ("mapped", X)."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        for side in (node.left, node.right):
            if not (isinstance(side, ast.Constant) and side.value is None):
                return ann_ref(scope, side)
        return None
    if isinstance(node, ast.Subscript):
        head = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if not args:  # ``Tuple[()]``
            return scope.ref_of(node.value)
        first = next((a for a in args if not (isinstance(a, ast.Constant) and a.value is None)), None)
        if head == "Annotated":
            return (RT.ANNOTATED, ann_ref(scope, args[0]), tuple(scope.ref_of(a) for a in args[1:]))
        if head in _ANN_TRANSPARENT:
            return ann_ref(scope, first)
        if head in _ANN_GEN:
            return (RT.GENERATOR, ann_ref(scope, args[0]))
        if head in _ANN_LIST:
            return (TK.LIST, ann_ref(scope, args[0]))
        if head in ("Mapped", "WriteOnlyMapped", "DynamicMapped"):
            return (RT.MAPPED, ann_ref(scope, args[0]))
        return scope.ref_of(node.value)
    return scope.ref_of(node)


def _is_type_alias(node: ast.AST) -> bool:
    """``SessionDep = Annotated[Session, Depends(get_db)]`` is kept as an annotation."""
    if not isinstance(node, ast.Subscript):
        return False
    head = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
    return head in ("Annotated", "Optional", "Union")


def _display_size(node: ast.AST) -> Optional[int]:
    """The number of items of a list/tuple/set/dict display, whatever the items are."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return len(node.elts)
    if isinstance(node, ast.Dict):
        return len(node.keys)
    return None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _idents(tree: ast.Module, names: Dict[str, str]) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """The names a file uses (see ``FileFacts.idents`` and ``name_refs``)."""
    out, refs = set(), set()
    # a plain stack walk over ``_fields``: the same nodes as ``ast.walk`` in a third of the time
    # (this runs on every node of every file while the index is built)
    AST, Name, Attribute, Constant, Store = ast.AST, ast.Name, ast.Attribute, ast.Constant, ast.Store
    stack = [tree]
    pop, push = stack.pop, stack.append
    while stack:
        node = pop()
        cls = type(node)
        if cls is Name:
            if type(node.ctx) is not Store:
                qual = names.get(node.id)
                if qual is not None:
                    refs.add(qual)
                else:
                    out.add(node.id)
            continue
        if cls is Attribute:
            out.add(node.attr)
        elif cls is Constant:
            if type(node.value) is str and len(node.value) < 2000:
                out.update(_WORD.findall(node.value))
            continue
        fields = _IDENT_FIELDS.get(cls)
        if fields is None:  # operators and ``ctx`` are leaves that hold no name
            fields = _IDENT_FIELDS[cls] = tuple(f for f in cls._fields if f not in ("ctx", "op", "type_comment"))
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        push(item)
            elif isinstance(value, AST):
                push(value)
    return frozenset(out), frozenset(refs)


def _literal(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


class Extractor:
    def __init__(self, relpath: str, module: str, is_package: bool):
        self.names = ModuleNames(module, is_package)
        self.facts = FileFacts(relpath, module, is_package, self.names.names, {}, {}, {})
        self.module_scope = Scope(self.names, func=None)

    def run(self, tree: ast.Module) -> FileFacts:
        for node in tree.body:
            self._declare(node, self.module)
        self.module_scope = module_scope(self.names, tree)
        self.facts.module_locals = self.module_scope.locals
        for node in tree.body:
            self._top(node)
        _db_settings(self.facts, [n for n in tree.body if not isinstance(n, _DEFS)])
        self.facts.idents, self.facts.name_refs = _idents(tree, self.names.names)
        return self.facts

    @property
    def module(self) -> str:
        return self.names.module

    def _qual(self, prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    def _declare(self, node: ast.AST, prefix: str) -> None:
        """Record module-level imports and definitions (also inside top-level if/try blocks)."""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self.names.add_import(node)
            if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
                star = self.names.absolute(node.level, node.module)
                self.facts.star_imports = self.facts.star_imports + (star,)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.names.names[node.name] = self._qual(prefix, node.name)
        elif isinstance(node, (ast.If, ast.Try)):
            for child in node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", []):
                self._declare(child, prefix)
            for h in getattr(node, "handlers", []):
                for child in h.body:
                    self._declare(child, prefix)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    self.names.names.setdefault(t.id, self._qual(prefix, t.id))

    def _top(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._function(node, self.module, None, self.module_scope)
        elif isinstance(node, ast.ClassDef):
            self._class(node, self.module)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    value = node.value
                    ref = (ann_ref(self.module_scope, value) if _is_type_alias(value)
                           else self.module_scope.ref_of(value))
                    self.facts.assigns[self._qual(self.module, t.id)] = ref
                    lit = _literal(node.value) if isinstance(node.value, (ast.Dict, ast.Constant, ast.List, ast.Tuple,
                                                             ast.Set)) else None
                    if lit is not None:
                        self.facts.literals[t.id] = lit
                    size = _display_size(node.value)
                    if size is not None:
                        self.facts.display_sizes[t.id] = size
                    self._table(t.id, node.value)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and call_name(node.value) in _MAPPERS and len(node.value.args) >= 2:
            self._mapping(node.value)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "connect":
            call = node.value
            self.facts.module_calls += ((self.module_scope.ref_of(call), call.lineno, call.col_offset),)
        elif isinstance(node, (ast.If, ast.Try)):
            for child in node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", []):
                self._top(child)

    def _table(self, var: str, value: ast.AST) -> None:
        """``package_table = Table("package", metadata, Column("id", ...), ...)``."""
        if not (isinstance(value, ast.Call) and call_name(value) == "Table" and value.args
                and isinstance(value.args[0], ast.Constant) and isinstance(value.args[0].value, str)):
            return
        holder = _Fields()
        for arg in value.args[1:]:
            if isinstance(arg, ast.Call) and call_name(arg) == "Column" and arg.args \
                    and isinstance(arg.args[0], ast.Constant) and isinstance(arg.args[0].value, str):
                self._field(holder, arg.args[0].value, arg, arg.lineno, self.module_scope, None)
        self.facts.tables[var] = (value.args[0].value, holder.fields)

    def _mapping(self, call: ast.Call) -> None:
        """``registry.map_imperatively(Package, package_table, properties={"tags": relationship(Tag)})``."""
        holder = _Fields()
        named = [k.value for k in call.keywords if k.arg == "properties"]
        props = call.args[2] if len(call.args) > 2 else (named[0] if named else None)
        if isinstance(props, ast.Dict):
            for key, value in zip(props.keys, props.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str) and isinstance(value, ast.Call):
                    self._field(holder, key.value, value, value.lineno, self.module_scope, None)
        scope = self.module_scope
        self.facts.mappings += ((scope.ref_of(call.args[0]), scope.ref_of(call.args[1]), holder.fields,
                                 call.lineno),)

    def _class(self, node: ast.ClassDef, prefix: str) -> None:
        qual = self._qual(prefix, node.name)
        scope = self.module_scope
        cf = ClassFacts(qual, node.name, node.lineno, [scope.ref_of(b) for b in node.bases],
                        {k.arg: _literal(k.value) for k in node.keywords if k.arg})
        cf.decorators = [scope.ref_of(d) for d in node.decorator_list]
        self.facts.classes[qual] = cf
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                cf.methods[item.name] = self._function(item, qual, qual, scope)
                value = _declared_attr_value(item)
                if value is not None:  # a mixin column or relationship: ``@declared_attr def user(cls)``
                    self._field(cf, item.name, value, item.lineno, scope, item.returns)
            elif isinstance(item, ast.ClassDef):
                if item.name == "Meta":
                    cf.meta = _meta(item)
                    cf.meta_refs = _meta_refs(item, scope, cf.meta)
                else:
                    self._class(item, qual)
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                self._class_assign(cf, item, scope)

    def _class_assign(self, cf: ClassFacts, item, scope: Scope) -> None:
        targets = item.targets if isinstance(item, ast.Assign) else [item.target]
        ann = ann_ref(scope, item.annotation) if isinstance(item, ast.AnnAssign) else None
        for t in targets:
            if not isinstance(t, ast.Name):
                continue
            value = item.value
            if isinstance(value, ast.Call):
                self._field(cf, t.id, value, item.lineno, scope, item.annotation if ann is not None else None, ann)
            elif value is None and ann is not None:
                kw = {"__optional__": True} if _optional(item.annotation) else {}
                cf.fields[t.id] = FieldFacts(t.id, None, None, kw, item.lineno, ann)
            elif value is not None:
                size = _display_size(value)
                if size is not None:
                    cf.display_sizes[t.id] = size
                lit = _literal(value) if isinstance(value, ast.Constant) else None
                cf.attrs[t.id] = (RT.LIT, lit) if lit is not None else scope.ref_of(value)

    def _field(self, cf: ClassFacts, name: str, value: ast.Call, line: int, scope: Scope,
               annotation: Optional[ast.AST], ann: Ref = None) -> None:
        kw = {k.arg: _literal(k.value) for k in value.keywords if k.arg in _FIELD_KW}
        fk = _foreign_key(value)
        if isinstance(fk, str):
            kw["__fk__"] = fk
        elif fk is not None:  # ``ForeignKey(Parent.id)``: the index finds Parent's table
            kw["__fk_ref__"] = scope.ref_of(fk)
        if ann is None and annotation is not None:
            ann = ann_ref(scope, annotation)
        if ann is not None and _optional(annotation):
            kw["__optional__"] = True  # ``Mapped[X | None]``: a nullable column
        cf.fields[name] = FieldFacts(name, scope.ref_of(value.func), _field_target(value, scope), kw, line, ann,
                                     tuple(scope.ref_of(a) for a in value.args[:3]))

    def _function(self, node, prefix: str, cls: Optional[str], outer: Scope) -> str:
        qual = self._qual(prefix, node.name)
        decos = [outer.ref_of(d) for d in node.decorator_list]
        nodes = list(iter_local_nodes(node.body))
        scope = function_scope(self.names, node, qual, cls, outer, decos, nodes)
        args = node.args
        every = args.posonlyargs + args.args + args.kwonlyargs
        defaults = [None] * (len(args.posonlyargs + args.args) - len(args.defaults)) + list(args.defaults)
        defaults += list(args.kw_defaults)
        params = [(a.arg, ann_ref(scope, a.annotation), scope.ref_of(d) if d is not None else None)
                  for a, d in zip(every, defaults)]
        ff = FuncFacts(qual, node.name, cls, node.lineno, isinstance(node, ast.AsyncFunctionDef), params,
                       decos, ann_ref(scope, node.returns))
        ff.locals = scope.locals
        ff.flag_defaults = flags.flag_defaults(node)
        ff.flag_guards = flags.flag_guards(node.body, ff.flag_defaults, nodes) if ff.flag_defaults else []
        self.facts.functions[qual] = ff
        self._body(nodes, ff, scope, qual)
        return qual

    def _body(self, nodes, ff: FuncFacts, scope: Scope, qual: str) -> None:
        param_names = {p[0] for p in ff.params}
        seen_attrs = set()
        for sub in nodes:
            if isinstance(sub, ast.Call):
                ff.calls.append((scope.ref_of(sub), sub.lineno, sub.col_offset))
                if any(isinstance(a, ast.Starred) for a in sub.args) or any(k.arg is None for k in sub.keywords):
                    ff.starred.append((sub.lineno, sub.col_offset))
                lits = flags.literal_args(sub) if sub.args or sub.keywords else ()
                if lits:
                    ff.call_literals[(sub.lineno, sub.col_offset)] = lits
            elif isinstance(sub, (ast.For, ast.AsyncFor, ast.comprehension)):
                line = getattr(sub, "lineno", getattr(sub.iter, "lineno", 0))
                ff.iters.append((scope.ref_of(sub.iter), line, getattr(sub.iter, "col_offset", 0)))
            elif isinstance(sub, ast.Return) and sub.value is not None:
                ff.returns.append(scope.ref_of(sub.value))
                eager = eager_paths(sub.value, scope)
                if eager:
                    ff.returns_eager = tuple(sorted(set(ff.returns_eager) | eager))
            elif isinstance(sub, (ast.Yield, ast.YieldFrom)):
                ff.is_generator = True
                if sub.value is not None:
                    ff.returns.append(scope.ref_of(sub.value))
            elif isinstance(sub, ast.Attribute):
                chain = _param_chain(sub, param_names)
                if chain is not None and chain not in seen_attrs:
                    seen_attrs.add(chain)
                    ff.param_attrs.append(chain)
            elif isinstance(sub, ast.Assign) and ff.cls and ff.params:
                for t in sub.targets:
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                            and t.value.id == ff.params[0][0]):
                        ff.self_assigns.append((t.attr, scope.ref_of(sub.value)))
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._function(sub, qual, None, scope)
            elif isinstance(sub, ast.ClassDef):
                self._class(sub, qual)
            elif isinstance(sub, (ast.Global, ast.Nonlocal)):
                ff.global_names = ff.global_names + tuple(sub.names)
            elif isinstance(sub, ast.If) and not ff.memo and _shared_store_fill(sub, ff, scope):
                ff.memo = True
            elif isinstance(sub, (ast.With, ast.AsyncWith)) and sub.body:
                first = sub.body[0]
                for item in sub.items:
                    ff.withs.append((scope.ref_of(item.context_expr), first.lineno, first.col_offset,
                                     sub.end_lineno or first.lineno, sub.end_col_offset or 0))
            elif isinstance(sub, ast.ExceptHandler) and sub.body:
                ff.handlers.append((sub.body[0].lineno, sub.body[0].col_offset, sub.end_lineno or sub.lineno,
                                    sub.end_col_offset or 0))
            elif isinstance(sub, ast.Dict) and ATOMIC_KEYS.intersection(_str_keys(sub)):
                _db_settings(self.facts, [sub])


def _shared_store_fill(node: ast.If, ff: FuncFacts, scope: Scope) -> bool:
    """``if <miss>: <store> = load()`` where the test reads the store and the store outlives the
    call: an attribute of the class (``cls.x`` in a classmethod, ``Cls.x``,
    ``self.__class__.x``) or a module-level name (``_CACHE[k]``, a ``global``), possibly keyed.
    An instance attribute (``self._x``) is not one: each row's object loads it again."""
    test = None
    for stmt in node.body:
        if not isinstance(stmt, ast.Assign) or not any(isinstance(n, ast.Call) for n in ast.walk(stmt.value)):
            continue
        for target in stmt.targets:
            store = target.value if isinstance(target, ast.Subscript) else target
            if not _shared_store(store, ff, scope):
                continue
            if test is None:
                test = {ast.unparse(n) for n in ast.walk(node.test) if isinstance(n, (ast.Attribute, ast.Name))}
            if ast.unparse(store) in test:
                return True
    return False


def _shared_store(store: ast.AST, ff: FuncFacts, scope: Scope) -> bool:
    if isinstance(store, ast.Name):
        ref = scope.lookup(store.id)
        return store.id in ff.global_names or (ref is not None and ref[0] == RT.GLOBAL)
    if not isinstance(store, ast.Attribute):
        return False
    base = store.value
    if isinstance(base, ast.Attribute) and base.attr == "__class__":
        return True
    if not isinstance(base, ast.Name):
        return False
    first = ff.params[0][0] if ff.params else None
    if base.id == first and ("g", "builtins.classmethod") in ff.decorators:
        return True
    ref = scope.lookup(base.id)
    return ff.cls is not None and ref is not None and ref[0] == RT.GLOBAL and ref[1] == ff.cls


def function_scope(names: ModuleNames, node, qual: str, cls: Optional[str], outer: Scope, decos,
                   nodes: Optional[list] = None, locals_=None) -> Scope:
    """The scope of a function body; shared with the engine so both phases name things alike.
    ``locals_`` (from the cached facts) skips walking the body again."""
    is_static = ("g", "builtins.staticmethod") in decos
    is_classm = ("g", "builtins.classmethod") in decos
    scope = Scope(names, func=qual, parent=outer if outer.func else None, self_cls=cls if not is_static else None)
    if locals_ is not None:
        scope.locals = dict(locals_)
        scope.lazy_body = node.body
        scope.freeze()
        return scope
    scope.bind_params(node.args, is_method=cls is not None and not is_static, is_classmethod=is_classm)
    scope.collect(node.body, nodes)
    scope.freeze()
    return scope


def module_scope(names: ModuleNames, tree: ast.Module) -> Scope:
    scope = Scope(names, func=None)
    scope.collect(_module_level_nodes(tree.body))
    scope.freeze()
    return scope


def _module_level_nodes(body):
    """Module-level statements, descending into if/try/with/for but not into defs."""
    return [n for n in body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _str_keys(node: ast.Dict) -> List[str]:
    return [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]


ATOMIC_KEYS = frozenset({"ATOMIC_REQUESTS", "ATOMIC_MUTATIONS"})


def _db_settings(facts: FileFacts, nodes) -> None:
    """Record ``DATABASES = ...`` at module level and every ``ATOMIC_REQUESTS`` and
    ``ATOMIC_MUTATIONS`` value (as a dict key or a subscript assignment): whether Django wraps
    views, and graphene-django its mutations, in a transaction."""
    found = {key: facts.db_settings.setdefault(key, []) for key in ATOMIC_KEYS}
    for top in nodes:
        for n in ast.walk(top):
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DATABASES" for t in n.targets):
                facts.db_settings["DATABASES"] = True  # also under a module-level ``if``/``try``
            if isinstance(n, ast.Dict):
                for k, v in zip(n.keys, n.values):
                    if isinstance(k, ast.Constant) and k.value in ATOMIC_KEYS:
                        found[k.value].append(_literal(v))
            elif isinstance(n, ast.Assign):
                for t in n.targets:
                    key = t.slice.value if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) else None
                    if key in ATOMIC_KEYS:
                        found[key].append(_literal(n.value))
    for key, values in found.items():
        if not values:
            del facts.db_settings[key]


def _meta(node: ast.ClassDef) -> Dict[str, object]:
    meta = {}
    for item in node.body:
        if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
            meta[item.targets[0].id] = _literal(item.value)
            if item.targets[0].id == "constraints":
                unique = _unique_constraints(item.value)
                if unique:
                    meta["unique_constraints"] = unique
    return meta


def _unique_constraints(node: ast.AST) -> Tuple[Tuple[str, ...], ...]:
    """Field sets of ``UniqueConstraint(fields=[...])`` entries of ``Meta.constraints`` (a
    conditional or expression constraint is left out: it is unique only for some rows)."""
    out = []
    for c in node.elts if isinstance(node, (ast.List, ast.Tuple)) else ():
        if not (isinstance(c, ast.Call) and getattr(c.func, "attr", getattr(c.func, "id", "")) == "UniqueConstraint"):
            continue
        kw = {k.arg: k.value for k in c.keywords if k.arg}
        if "condition" in kw or c.args:
            continue
        fields = kw.get("fields")
        names = tuple(e.value for e in getattr(fields, "elts", ()) if isinstance(e, ast.Constant)
                      and isinstance(e.value, str))
        if names and len(names) == len(getattr(fields, "elts", ())):
            out.append(names)
    return tuple(out)


def _meta_refs(node: ast.ClassDef, scope: Scope, literals: Dict[str, object]) -> Dict[str, Ref]:
    """Non-literal ``Meta`` values as refs: a DRF serializer's ``model = Book``."""
    out = {}
    for item in node.body:
        if isinstance(item, ast.Assign) and len(item.targets) == 1 and isinstance(item.targets[0], ast.Name):
            if literals.get(item.targets[0].id) is None:
                out[item.targets[0].id] = scope.ref_of(item.value)
    return out


def _param_chain(node: ast.Attribute, params) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """``obj.author.name`` → ("obj", ("author", "name")) when ``obj`` is a parameter; the inner
    ``obj.author`` is recorded on its own too, so a chain of one attribute means a direct read."""
    attrs = []
    cur = node
    while isinstance(cur, ast.Attribute) and len(attrs) < 4:
        attrs.append(cur.attr)
        cur = cur.value
    if not isinstance(cur, ast.Name) or cur.id not in params or isinstance(node.ctx, ast.Del):
        return None
    return cur.id, tuple(reversed(attrs))


def _optional(node: Optional[ast.AST]) -> bool:
    """``Mapped[Optional[X]]``, ``Mapped[X | None]``, ``Mapped["X | None"]``: the column is nullable."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return False
    if isinstance(node, ast.Subscript):
        head = node.value.attr if isinstance(node.value, ast.Attribute) else getattr(node.value, "id", "")
        if head in ("Mapped", "WriteOnlyMapped", "DynamicMapped"):
            return _optional(node.slice)
        if head == "Optional":
            return True
        if head == "Union":
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return any(isinstance(a, ast.Constant) and a.value is None for a in args)
        return False
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return any(isinstance(s, ast.Constant) and s.value is None or _optional(s) for s in (node.left, node.right))
    return False


class _Fields:
    """Somewhere for ``Extractor._field`` to put the columns of a ``Table`` or the properties of
    an imperative mapping (a class body's go to its ``ClassFacts``)."""

    def __init__(self):
        self.fields: Dict[str, FieldFacts] = {}


def _foreign_key(call: ast.Call):
    """The ``"table.column"`` of a ``ForeignKey(...)`` passed to ``Column``/``mapped_column``,
    or the column expression it was given (``ForeignKey(Parent.id)``)."""
    for a in call.args:
        if isinstance(a, ast.Call) and (getattr(a.func, "attr", None) or getattr(a.func, "id", None)) == "ForeignKey":
            first = a.args[0] if a.args else next((k.value for k in a.keywords if k.arg == "column"), None)
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
            if isinstance(first, ast.Attribute):
                return first
    return None


def _declared_attr_value(node) -> Optional[ast.Call]:
    """The column or relationship a ``@declared_attr`` method of a mixin returns (the last
    ``return <call>`` of its body); None for other methods and for ``__tablename__`` & co."""
    if node.name.startswith("__"):
        return None
    for d in node.decorator_list:
        while isinstance(d, ast.Call):
            d = d.func
        names = []
        while isinstance(d, ast.Attribute):
            names.append(d.attr)
            d = d.value
        if isinstance(d, ast.Name):
            names.append(d.id)
        if "declared_attr" in names:
            break
    else:
        return None
    value = None
    for sub in iter_local_nodes(node.body):
        if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Call):
            value = sub.value
    return value


def _field_target(call: ast.Call, scope: Scope):
    """The related model of a relation field: a string literal as written, or a ref."""
    node = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg in ("to", "argument")), None)
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Lambda):
        node = node.body
    return scope.ref_of(node)


def extract(tree: ast.Module, relpath: str, module: str, is_package: bool) -> FileFacts:
    return Extractor(relpath, module, is_package).run(tree)
