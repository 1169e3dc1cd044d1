"""Recognisers for the race rules (MDB406 check-then-insert, MDB407 lost update): which model
an existence check reads, which model an insert creates, whether a field is numeric and
unique, and the ``get_or_create`` rewrite.
"""
from __future__ import annotations

import ast
from typing import List, Optional, Tuple

from ...model import Edit, Fix, FixSafety
from ...core.refs import dotted
from ...core.tags import EV, RT, TK

DJANGO_CHECKS = frozenset("exists aexists count acount first afirst last alast".split())
SA_CHECKS = frozenset("first one_or_none scalar scalar_one_or_none get exists count".split())
NUMERIC = ("IntegerField", "DecimalField", "FloatField", "DurationField", "Integer", "Numeric", "Float",
           "BigInteger", "SmallInteger", "Decimal")
NUMERIC_ANN = frozenset({"builtins.int", "builtins.float", "decimal.Decimal"})
CREATES = frozenset("create acreate get_or_create aget_or_create update_or_create".split())
SAVES = frozenset({"save", "asave"})


def _strip(node: ast.AST) -> ast.AST:
    return node.value if isinstance(node, ast.Await) else node


def checked_model(view, test: ast.AST, found: bool = False) -> Optional[Tuple[ast.Call, str]]:
    """``not X.objects.filter(...).exists()``, ``qs.count() == 0``, ``obj is None`` with ``obj``
    assigned from ``.first()``/``session.scalar(select(X)...)``: (the check call, X). With
    ``found``, the positive test instead (``obj is not None``, ``qs.exists()``, ``obj``)."""
    expr = _tested(test, found)
    if expr is None:
        return None
    expr = _strip(expr)
    if isinstance(expr, ast.Name):
        expr = view.scope.value_of(expr.id) or assigned_before(view, expr.id, view.statement(test))
        expr = _strip(expr) if expr is not None else None
    if not isinstance(expr, ast.Call):
        return None
    model = read_model(view, expr)
    return (expr, model) if model else None


def _tested(test: ast.AST, found: bool) -> Optional[ast.AST]:
    """The expression whose emptiness ``test`` checks (missing row, or with ``found`` a row)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return None if found else test.operand
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        right, op = test.comparators[0], test.ops[0]
        if not (isinstance(right, ast.Constant) and right.value in (None, 0) and right.value is not False):
            return None
        missing = isinstance(op, (ast.Is, ast.Eq))
        present = isinstance(op, (ast.IsNot, ast.NotEq, ast.Gt))
        return test.left if (present if found else missing) else None
    return test if found and isinstance(test, (ast.Name, ast.Call, ast.Await)) else None


def read_model(view, call: ast.Call) -> Optional[str]:
    """The model a row/existence/count read looks at, or None."""
    f = call.func
    if not isinstance(f, ast.Attribute):
        return None
    t = view.type_of(f)
    if t and t[0] == TK.METHOD and t[1][0] in (TK.QS, TK.MANAGER, TK.RELMGR) and f.attr in DJANGO_CHECKS:
        return t[1][1] if t[1][1] in view.ctx.index.models else None
    if f.attr not in SA_CHECKS:
        return None
    for n in ast.walk(call):
        if isinstance(n, ast.Call):
            nt = view.type_of(n)
            if nt and nt[0] in (TK.SASELECT, TK.SAQUERY) and nt[1]:
                return nt[1]
            ft = view.type_of(n.func)
            if ft and ft[0] == TK.METHOD and ft[1] == (TK.SASESSION,) and ft[2] == "get" and n.args:
                mt = view.type_of(n.args[0])
                if mt and mt[0] == TK.MODEL:
                    return mt[1]
    return None


# manager methods that insert one row (Django's ``UserManager`` adds the ``create_*user`` ones)
INSERTS = frozenset({"create", "acreate", "create_user", "create_superuser", "acreate_user", "acreate_superuser"})


def created_model(view, call: ast.Call) -> Optional[str]:
    """``X.objects.create(...)``, ``User.objects.create_user(...)``, ``X(...).save()``,
    ``session.add(X(...))``: X."""
    f = call.func
    if not isinstance(f, ast.Attribute):
        return None
    if f.attr in ("save", "asave") and not call.args:
        made = _new_instance(view, f.value)
        return made or None
    t = view.type_of(f)
    if not (t and t[0] == TK.METHOD):
        return None
    base, name = t[1], t[2]
    if base[0] in (TK.MANAGER, TK.QS, TK.RELMGR) and name in INSERTS:
        return base[1]
    if base == (TK.SASESSION,) and name == "add" and call.args:
        return _new_instance(view, call.args[0]) or None
    return None


def assigned_before(view, name: str, stmt: Optional[ast.AST]) -> Optional[ast.AST]:
    """The value of the last ``name = ...`` among the statements before ``stmt`` in its block."""
    parent = view.parent(stmt) if stmt is not None else None
    for field in ("body", "orelse", "finalbody"):
        block = getattr(parent, field, None)
        if isinstance(block, list) and stmt in block:
            for prev in reversed(block[: block.index(stmt)]):
                if isinstance(prev, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                        for t in prev.targets):
                    return prev.value
    return None


def _new_instance(view, node: ast.AST) -> Optional[str]:
    """X for ``X(...)`` or a name assigned from ``X(...)`` (once, or just before), X a model class."""
    if isinstance(node, ast.Name):
        node = view.scope.value_of(node.id) or assigned_before(view, node.id, view.statement(node))
    if not isinstance(node, ast.Call):
        return None
    t = view.type_of(node.func)
    return t[1] if t and t[0] == TK.MODEL else None


def numeric_field(ix, model: str, name: str) -> bool:
    m = ix.models.get(model)
    ff = m.fields.get(name) if m is not None else None
    if ff is None or name in m.relations:
        return False
    ctor = dotted(ff.ctor) if ff.ctor else ""
    if ctor and ctor.rsplit(".", 1)[-1].endswith(NUMERIC):
        return True
    ann = ff.ann[1] if ff.ann and ff.ann[0] == RT.MAPPED else None
    if ann is not None:
        d = dotted(ann)
        return bool(d) and ix.canonical(d) in NUMERIC_ANN
    if ff.args:
        d = dotted(ff.args[0]) or ""
        return d.rsplit(".", 1)[-1].endswith(NUMERIC)
    return False


def unique_lookup(ix, model: str, keys) -> bool:
    """Is the set of field names ``keys`` unique in ``model`` (one unique field, the primary
    key, or a ``unique_together`` entry)?"""
    m = ix.models.get(model)
    if m is None or not keys:
        return False
    keys = {k[:-3] if k.endswith("_id") and k[:-3] in m.relations else k for k in keys}
    if keys & {"pk", "id"}:
        return True
    if len(keys) == 1:
        ff = m.fields.get(next(iter(keys)))
        if ff is not None and (ff.kw.get("unique") is True or ff.kw.get("primary_key") is True):
            return True
    cf = ix.classes.get(model)
    together = (cf.meta.get("unique_together") if cf is not None else None) or ()
    if together and isinstance(together[0], str):
        together = (together,)
    return any(set(t) == keys for t in together if isinstance(t, (tuple, list)))


def guarded_insert(ctx, view, insert: ast.AST) -> bool:
    """The insert sits in the body of a ``try`` that catches the duplicate (``IntegrityError``
    or a broader error)."""
    from .calls import catches

    def catches_it(h: ast.ExceptHandler) -> bool:
        types = h.type.elts if isinstance(h.type, ast.Tuple) else ([h.type] if h.type is not None else [])
        return catches(ctx.index, [ctx.ref(t) for t in types], h.type is None) is not None

    for anc in view.ancestors(insert):
        if isinstance(anc, ast.Try) and any(catches_it(h) for h in anc.handlers):
            if any(insert in list(ast.walk(s)) for s in anc.body):
                return True
    return False


def unique_sets(ix, model: str) -> List[frozenset]:
    """The field sets a Django model keeps unique, its abstract bases' included: ``unique=True``
    fields and one-to-one fields, ``unique_together`` entries and ``UniqueConstraint(fields=…)``
    without a condition. The primary key is left out (an insert rarely names it)."""
    m = ix.models.get(model)
    if m is None or m.orm != "django":
        return []
    out = []
    for name, ff in m.fields.items():
        ctor = ff.ctor[2] if ff.ctor and ff.ctor[0] == RT.ATTR else (ff.ctor[1].rsplit(".", 1)[-1]
                                                                     if ff.ctor and ff.ctor[0] == RT.GLOBAL else "")
        if (ff.kw.get("unique") is True or ctor == "OneToOneField") and ff.kw.get("primary_key") is not True:
            out.append(frozenset({name}))
    for cls in ix.mro(model) if model in ix.classes else ():
        cf = ix.classes.get(cls)
        if cf is None:
            continue
        together = cf.meta.get("unique_together") or ()
        if together and isinstance(together[0], str):
            together = (together,)
        for t in tuple(together) + tuple(cf.meta.get("unique_constraints") or ()):
            if isinstance(t, (tuple, list)) and t and all(isinstance(x, str) for x in t):
                out.append(frozenset(t))
    return list(dict.fromkeys(out))


def fix_get_or_create(view, node: ast.If, check: ast.Call, insert: ast.Call, model: str) -> Optional[Fix]:
    """``if not X.objects.filter(**k).exists(): X.objects.create(**k, **rest)`` →
    ``X.objects.get_or_create(**k, defaults={...})`` when ``k`` is unique."""
    src = view.ctx.source
    if node.orelse or len(node.body) != 1 or not isinstance(node.body[0], ast.Expr) or node.body[0].value is not insert:
        return None
    filt = check.func.value if isinstance(check.func, ast.Attribute) and check.func.attr == "exists" else None
    if not (isinstance(filt, ast.Call) and isinstance(filt.func, ast.Attribute) and filt.func.attr == "filter"):
        return None
    mgr = ast.get_source_segment(src, filt.func.value)
    if mgr is None or mgr != ast.get_source_segment(src, insert.func.value) or insert.func.attr != "create":
        return None
    if filt.args or insert.args or any(k.arg is None for k in filt.keywords + insert.keywords):
        return None
    lookup = {k.arg: ast.get_source_segment(src, k.value) for k in filt.keywords}
    made = {k.arg: ast.get_source_segment(src, k.value) for k in insert.keywords}
    if any("__" in k or made.get(k) != v for k, v in lookup.items()) or not unique_lookup(view.ctx.index, model,
                                                                                          set(lookup)):
        return None
    args = [f"{k}={v}" for k, v in lookup.items()]
    rest = {k: v for k, v in made.items() if k not in lookup}
    if rest:
        args.append("defaults={" + ", ".join(f'"{k}": {v}' for k, v in rest.items()) + "}")
    text = f"{mgr}.get_or_create({', '.join(args)})"
    return Fix(FixSafety.UNSAFE, "use `get_or_create`, which handles the race on a unique lookup",
               (Edit(view.ctx.span(node), text),))


# -- a row read without a lock, and its write-back (MDB407, MDB409) ---------------------------
def same_attribute(a: ast.AST, b: ast.AST) -> bool:
    """``a`` reads the attribute ``b`` names (``obj.count`` in ``obj.count + 1``), whatever
    their load/store context."""
    return isinstance(a, ast.Attribute) and ast.dump(a.value) == ast.dump(b.value) and a.attr == b.attr


def read_unlocked(view, obj: ast.AST) -> bool:
    """The object came from the database (or from the caller) and no lock was taken on it."""
    if isinstance(obj, ast.Name):
        if obj.id in ("self", "cls") or view.scope.value_of(obj.id) is None:
            return not _locked_ref(view.ref(obj))  # self, a parameter, a loop variable
        value = view.scope.value_of(obj.id)
        value = value.value if isinstance(value, ast.Await) else value
        if isinstance(value, ast.Tuple) or not isinstance(value, ast.Call):
            return False
        names = {getattr(n.func, "attr", getattr(n.func, "id", "")) for n in ast.walk(value)
                 if isinstance(n, ast.Call)}
        if names & {"select_for_update", "with_for_update"} or names & CREATES:
            return False
        if any(k.arg == "with_for_update" for n in ast.walk(value) if isinstance(n, ast.Call) for k in n.keywords):
            return False
        return _db_read(view, value)
    return isinstance(obj, ast.Attribute)


def write_back(view, stmt: ast.stmt, obj: ast.AST, orm: str) -> Optional[ast.AST]:
    text = ast.unparse(obj)
    for e in view.events:
        if not isinstance(e.node, ast.Call) or not view.may_follow(stmt, e.node):
            continue
        f = e.node.func
        if orm == "django" and e.letter == "W" and isinstance(f, ast.Attribute) and f.attr in SAVES and \
                ast.unparse(f.value) == text:
            return e.node
        if orm == "sqlalchemy" and e.stack == "sa" and e.letter in ("W", "C"):
            return e.node
    return None


def _locked_ref(ref) -> bool:
    """A loop variable over ``...select_for_update()``/``with_for_update()``."""
    while ref is not None and ref[0] in (RT.ATTR, RT.CALL, RT.ITER, RT.SUB):
        if ref[0] == RT.ATTR and ref[2] in ("select_for_update", "with_for_update"):
            return True
        ref = ref[1]
    return False


def _db_read(view, value: ast.Call) -> bool:
    """The value was fetched by a query: a database read event, or a project function that
    queries (``repository.get_by_id()``); not a constructor or an in-memory helper."""
    typer = view.ctx.typer
    for n in ast.walk(value):
        if isinstance(n, ast.Call):
            ev = typer.event(view.ref(n))
            if ev and (ev[0] == EV.QUERY or (ev[0] == EV.CALL and typer.queries(ev[1]) is not None)):
                return True
    return False
