"""MDB609: seed code that inserts again every time it runs."""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from ...core.messages import brief
from ...core.tags import EV, TK
from ...globs import GlobSet
from ...model import Edit, Fix, FixSafety
from ...project.contexts import DEV_DATA, REQUEST, SEED, TASK, TEST
from ..base import Rule
from . import pyast
from .seeds import EntryFinder, covers_unique, dev_or_test, is_volatile, registered, unique_columns, unique_keys

CREATES = {"create", "acreate"}
BULK = {"bulk_create", "abulk_create"}
GETS = {"get_or_create", "aget_or_create", "update_or_create", "aupdate_or_create"}
LOOKUP_EXTRAS = {"defaults", "create_defaults"}
EXITS = (ast.Return, ast.Raise, ast.Continue, ast.Break)
INSERT_SQL = re.compile(r"^\s*INSERT\s+INTO\s+([\w.\"]+)", re.I)
ON_CONFLICT = re.compile(r"\bON\s+CONFLICT\b\s*(\(([^)]*)\)|ON\s+CONSTRAINT)?", re.I)
DELETE_SQL = re.compile(r"^\s*(?:DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+([\w.\"]+)", re.I)
SA_SESSION_ADD = {"add", "add_all", "bulk_save_objects", "bulk_insert_mappings"}


@dataclass
class Insert:
    node: ast.Call
    model: Optional[str]          # model qual (None: a table known by name only)
    table: Optional[str] = None
    kind: str = "insert"          # insert | create | bulk | conflict | conflict-sql
    conflict: Optional[Tuple[str, ...]] = None  # ON CONFLICT target columns; () = no target
    stmt: Optional[ast.stmt] = None


@dataclass
class FnInfo:
    node: ast.AST
    cls: Optional[ast.ClassDef]
    contexts: Set[str] = field(default_factory=set)
    inserts: List[Insert] = field(default_factory=list)
    gets: List[Tuple[ast.Call, Optional[str]]] = field(default_factory=list)
    queries: Set[int] = field(default_factory=set)     # ids of calls that read the database
    deletes: List[Tuple[int, Optional[str], Optional[str]]] = field(default_factory=list)  # (line, model, table)
    callees: List[Tuple[str, str, ast.Call]] = field(default_factory=list)  # ("self"|"mod", name, call)
    new_instances: Dict[str, str] = field(default_factory=dict)
    seen_contexts: bool = False


def _chain_calls(node: ast.AST) -> List[ast.Call]:
    out = []
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Call):
            out.append(node)
            node = node.func
        else:
            node = node.value
    return out


def _sql_text(node: Optional[ast.AST]) -> Optional[str]:
    if node is None:
        return None
    if pyast.str_value(node) is not None:
        return pyast.str_value(node)
    if isinstance(node, ast.Call) and pyast.last_part(pyast.call_name(node)) == "text" and node.args:
        return pyast.str_value(node.args[0])
    return None


class SeedNotIdempotent(Rule):
    """
    ## What it does
    Finds seed code that inserts rows with no idempotence mechanism, or with one that only
    looks right. Seed code is every function of a file named by `migrations.seeds`, and the
    detected entry points: management commands and CLI commands named `seed*`, `init*`,
    `bootstrap*` or `load*`, `post_migrate` receivers, `AppConfig.ready()`, FastAPI/Starlette
    startup handlers and lifespans, and the functions of the same module they call.

    Reported: `Model.objects.create(...)`, `Model(...).save()`, `bulk_create(...)`,
    `session.add(Model(...))`, `insert(Model)`, `INSERT INTO ...` with nothing making a second
    run harmless; `get_or_create`/`update_or_create` keyed on a value that changes every run
    (`timezone.now()`, `uuid4()`, `random`, Faker) or on fields that are not unique; an
    `ON CONFLICT` target (`on_conflict_do_nothing(index_elements=[...])`, SQL
    `ON CONFLICT (...)`) that no unique index matches; `ignore_conflicts=True` on a model with no
    unique key to conflict on.

    Silent on `get_or_create`/`update_or_create`/`merge` keyed on a unique key, inserts under
    an existence check (`if not X.objects.filter(...).exists()`, a guard that returns early,
    `try: get() except DoesNotExist`), a full refresh (the model's rows deleted first), test
    factories, and commands generating fake or demo data.

    Primary location: the insert (or the `get_or_create` call).

    ## Why is this bad?
    Seeds run more than once: on every deploy (`post_migrate`, `ready()`, startup), when an
    operator re-runs a command, when a job is retried, in every worker that starts. Each run adds
    the same rows again (duplicates in menus, double charges of a default plan) or crashes on a
    unique constraint and blocks the deploy. A `get_or_create` that never matches is the same
    bug with a reassuring name; one on non-unique fields races when two workers start together
    and then raises `MultipleObjectsReturned` forever.

    ## Known problems
    Entry points are found by name and shape; a seed called from elsewhere is missed unless
    its file is listed in `migrations.seeds`. Guards are recognised when their test reads the
    database (a query, a name assigned from one, a project function that queries). Unique keys
    come from the model (`unique=True`, primary keys, one-to-one fields, `unique_together`,
    `UniqueConstraint` without a condition, SQLAlchemy `__table_args__`); models outside the
    project (`auth.User`) are not judged. `get_or_create` on non-unique fields is `medium` (it
    only fails under concurrency); the rest is `high`. Judges the seed, startup, signal and
    command contexts; never test or dev-data code.

    ## Example
    ```python
    @receiver(post_migrate)
    def create_plans(sender, **kwargs):
        Plan.objects.create(code="free", price=0)
    ```

    ## Use instead
    ```python
    @receiver(post_migrate)
    def create_plans(sender, **kwargs):
        Plan.objects.get_or_create(code="free", defaults={"price": 0})  # code is unique
    ```

    ## Fix safety
    Unsafe: `Model.objects.create(**kw)` becomes `Model.objects.get_or_create(<unique fields>,
    defaults={...})` when the call names every field of a unique key; the result becomes a
    `(row, created)` pair (an assignment is rewritten to `row, _ = ...`), and an existing row
    keeps its other values (use `update_or_create` to refresh them).
    """

    code = "MDB609"
    name = "seed-not-idempotent"
    summary = "Seed code (seed/init/load commands, post_migrate, ready(), startup) that inserts again on every run"
    default = False
    precision = "high"
    tags = ("seeds", "data", "deploy")
    fixable = True

    _MODELS = """
        from django.db import models

        class Plan(models.Model):
            code = models.CharField(max_length=20, unique=True)
            name = models.CharField(max_length=50)
            price = models.IntegerField(default=0)

        class Event(models.Model):
            kind = models.CharField(max_length=20)
            at = models.DateTimeField()
    """
    BAD = [
        {"billing/models.py": _MODELS, "billing/signals.py": """
            from django.db.models.signals import post_migrate
            from django.dispatch import receiver

            from billing.models import Plan


            @receiver(post_migrate)
            def create_plans(sender, **kwargs):
                Plan.objects.create(code="free", name="Free")  # error
         """},
        {"billing/models.py": _MODELS, "billing/apps.py": """
            from django.apps import AppConfig
            from django.utils import timezone


            class BillingConfig(AppConfig):
                name = "billing"

                def ready(self):
                    from billing.models import Event, Plan

                    Event.objects.get_or_create(kind="started", at=timezone.now())  # error
                    Plan.objects.get_or_create(name="Pro", defaults={"code": "pro"})  # error
         """},
        {"billing/models.py": _MODELS, "billing/management/commands/seed_plans.py": """
            from django.core.management.base import BaseCommand

            from billing.models import Plan


            class Command(BaseCommand):
                def handle(self, *args, **options):
                    self.create()

                def create(self):
                    plan = Plan(code="team", name="Team")
                    plan.save()  # error
         """},
    ]
    GOOD = [
        {"billing/models.py": _MODELS, "billing/signals.py": """
            from django.db.models.signals import post_migrate
            from django.dispatch import receiver

            from billing.models import Event, Plan


            @receiver(post_migrate)
            def create_plans(sender, **kwargs):
                Plan.objects.get_or_create(code="free", defaults={"name": "Free"})
                Plan.objects.update_or_create(code="pro", defaults={"name": "Pro"})
                if not Event.objects.filter(kind="seeded").exists():
                    Event.objects.create(kind="seeded", at=None)
         """,
         "billing/management/commands/seed_events.py": """
            from django.core.management.base import BaseCommand
            from django.db import transaction

            from billing.models import Event


            class Command(BaseCommand):
                def handle(self, *args, **options):
                    if Event.objects.exists():
                        return
                    Event.objects.create(kind="first", at=None)
                    with transaction.atomic():
                        Event.objects.all().delete()
                        Event.objects.bulk_create([Event(kind="a", at=None)])
         """,
         "billing/management/commands/load_demo_data.py": """
            from django.core.management.base import BaseCommand

            from billing.models import Event


            class Command(BaseCommand):
                def handle(self, *args, **options):
                    Event.objects.create(kind="demo", at=None)
         """},
    ]
    FIXED = [
        {"billing/signals.py": """
            from django.db.models.signals import post_migrate
            from django.dispatch import receiver

            from billing.models import Plan


            @receiver(post_migrate)
            def create_plans(sender, **kwargs):
                Plan.objects.get_or_create(code="free", defaults={"name": "Free"})  # error
         """},
    ]

    def __init__(self, ctx):
        super().__init__(ctx)
        globs = ctx.project.settings.values.get(("migrations", "seeds")) or []
        self.finder = EntryFinder(ctx.relpath, ctx.tree, GlobSet(globs), ctx.facts.module, registered(ctx))
        self.active = not dev_or_test(ctx.relpath, ctx.tree)
        self.funcs: Dict[int, FnInfo] = {}
        self.conflicts: Dict[int, Tuple[str, ...]] = {}  # id(insert(...) call) -> ON CONFLICT target

    # -- collecting ----------------------------------------------------------------------------
    def visit_FunctionDef(self, node) -> None:
        parent = self.ctx.defs[-1] if self.ctx.defs else None
        self.funcs[id(node)] = FnInfo(node, parent if isinstance(parent, ast.ClassDef) else None)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _info(self) -> Optional[FnInfo]:
        fn = self.ctx.function
        info = self.funcs.get(id(fn)) if fn is not None else None
        if info is not None and not info.seen_contexts:
            info.contexts |= set(self.ctx.contexts())
            info.seen_contexts = True
        return info

    def visit_Assign(self, node: ast.Assign) -> None:
        info = self._info()
        if info is None or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            return
        if isinstance(node.value, ast.Call):
            t = self.ctx.type_of(node.value.func)
            if t and t[0] == TK.MODEL:
                info.new_instances[node.targets[0].id] = t[1]

    def visit_Call(self, node: ast.Call) -> None:
        info = self._info()
        if info is None:
            return
        ref, result, event = self.ctx.call_info(node)
        if event is not None and (event[0] == EV.QUERY or event[0] == EV.CALL and self.ctx.typer.queries(event[1])):
            info.queries.add(id(node))
        if result is not None and result[0] in (TK.QS, TK.SAQUERY, TK.SASELECT, TK.SARESULT, TK.INST):
            info.queries.add(id(node))
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if isinstance(func, ast.Name):
            info.callees.append(("mod", func.id, node))
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            info.callees.append(("self", func.attr, node))
        base = self.ctx.type_of(func.value) if isinstance(func, ast.Attribute) else None
        if base and base[0] in (TK.MANAGER, TK.QS, TK.RELMGR) and base[1] in self.ctx.index.models:
            self._django(info, node, name, base[1])
        elif base and base[0] == TK.INST and name in ("save", "asave") and not node.args:
            made = self._new_instance(info, func.value)
            if made:
                info.inserts.append(Insert(node, made))
        elif base and base[0] == TK.SASESSION and name in SA_SESSION_ADD:
            self._session_add(info, node, name)
        elif base and base[0] == TK.SAQUERY and name == "delete":
            info.deletes.append((node.lineno, base[1], None))
        elif name in ("on_conflict_do_nothing", "on_conflict_do_update"):
            self._on_conflict(node)
        elif name in ("insert", "delete") and node.args:
            t = self.ctx.type_of(node.args[0])
            if t and t[0] == TK.MODEL:
                if name == "delete":
                    info.deletes.append((node.lineno, t[1], None))
                else:
                    conflict = self.conflicts.get(id(node))
                    info.inserts.append(Insert(node, t[1], kind="conflict" if conflict is not None else "insert",
                                               conflict=conflict))
        elif name in ("execute", "executemany", "exec_driver_sql") and node.args:
            self._sql(info, node, _sql_text(node.args[0]))

    def _django(self, info: FnInfo, node: ast.Call, name: str, model: str) -> None:
        if name in CREATES:
            info.inserts.append(Insert(node, model, kind="create"))
        elif name in BULK:
            flags = {k.arg for k in node.keywords if pyast.literal(k.value) is True}
            if flags & {"ignore_conflicts", "update_conflicts"}:
                info.inserts.append(Insert(node, model, kind="bulk-conflict"))
            else:
                info.inserts.append(Insert(node, model, kind="bulk"))
        elif name in GETS:
            info.gets.append((node, model))
        elif name in ("delete", "adelete", "_raw_delete"):
            info.deletes.append((node.lineno, model, None))

    def _new_instance(self, info: FnInfo, node: ast.AST) -> Optional[str]:
        if isinstance(node, ast.Name):
            return info.new_instances.get(node.id)
        if isinstance(node, ast.Call):
            t = self.ctx.type_of(node.func)
            return t[1] if t and t[0] == TK.MODEL else None
        return None

    def _session_add(self, info: FnInfo, node: ast.Call, name: str) -> None:
        if not node.args:
            return
        arg = node.args[0]
        if name == "bulk_insert_mappings":
            t = self.ctx.type_of(arg)
            model = t[1] if t and t[0] == TK.MODEL else None
        elif name == "add":
            model = self._new_instance(info, arg)
        else:
            elts = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg.elt] if isinstance(
                arg, (ast.ListComp, ast.GeneratorExp)) else []
            model = next((m for m in (self._new_instance(info, e) for e in elts) if m), None)
        if model:
            info.inserts.append(Insert(node, model))

    def _on_conflict(self, node: ast.Call) -> None:
        kw = {k.arg: k.value for k in node.keywords}
        if "constraint" in kw:
            target: Tuple[str, ...] = ("<constraint>",)
        else:
            target = tuple(pyast.string_list(kw.get("index_elements")) or ()) if "index_elements" in kw else ()
            if "index_elements" in kw and not target:
                target = ("<expression>",)
        for call in _chain_calls(node.func)[0:]:
            if pyast.last_part(pyast.call_name(call)) == "insert":
                self.conflicts[id(call)] = target

    def _sql(self, info: FnInfo, node: ast.Call, sql: Optional[str]) -> None:
        if not sql:
            return
        deleted = DELETE_SQL.match(sql)
        if deleted:
            info.deletes.append((node.lineno, None, deleted.group(1).strip('"')))
            return
        inserted = INSERT_SQL.match(sql)
        if not inserted:
            return
        table = inserted.group(1).strip('"')
        conflict = ON_CONFLICT.search(sql)
        target: Optional[Tuple[str, ...]] = None
        if conflict:
            if conflict.group(2) is not None:
                target = tuple(c.strip().strip('"') for c in conflict.group(2).split(",") if c.strip())
            elif conflict.group(1):
                target = ("<constraint>",)
            else:
                target = ()
        info.inserts.append(Insert(node, None, table, "conflict-sql" if target is not None else "insert", target))

    # -- deciding ------------------------------------------------------------------------------
    def finish(self) -> None:
        judged: Dict[int, str] = {}
        for key, info in self.funcs.items():
            if info.contexts & {TEST, DEV_DATA}:
                continue
            why = self.finder.why(info.node, info.cls)
            if why is None and SEED in info.contexts and not info.contexts & {TASK, REQUEST}:
                why = "seed code"  # a task or request seeding one new tenant runs once per event, not per deploy
            if why is not None:
                judged[key] = why
        frontier = list(judged)
        for _ in range(3):  # functions of this module the entry points call
            nxt = []
            for key in frontier:
                info = self.funcs[key]
                guards = _Guards(info)
                for kind, name, call in info.callees:
                    callee = self._callee(info, kind, name)
                    if callee is not None and id(callee) not in judged and not guards.covers(call):
                        judged[id(callee)] = f"called from {judged[key]}"
                        nxt.append(id(callee))
            frontier = nxt
        for key, why in judged.items():
            self._judge(self.funcs[key], why)

    def _callee(self, info: FnInfo, kind: str, name: str) -> Optional[ast.AST]:
        for other in self.funcs.values():
            if other.node.name != name:
                continue
            if kind == "self" and other.cls is not None and other.cls is info.cls:
                return other.node
            if kind == "mod" and other.cls is None and other.node in self.ctx.tree.body:
                return other.node
        return None

    def _judge(self, info: FnInfo, why: str) -> None:
        guards = _Guards(info)
        keys = unique_keys(self.ctx)
        for ins in info.inserts:
            if guards.covers(ins.node) or self._refreshed(info, ins):
                continue
            model = self.ctx.index.models.get(ins.model) if ins.model else self._model_of_table(ins.table)
            label = model.name if model is not None else ins.table or "?"
            if ins.kind in ("conflict", "conflict-sql"):
                self._conflict(ins, model, keys, why)
            elif ins.kind == "bulk-conflict":
                if model is not None and not any(k - {"pk", "id"} for k in keys.get(model.qual, [])):
                    self.report(ins.node, f"`{brief(ins.node)}` in {why}: {label} has no unique key besides its "
                                          "generated primary key, so `ignore_conflicts`/`update_conflicts` never "
                                          "conflict and every run inserts the rows again; add a unique constraint "
                                          "on the natural key")
            else:
                fix = self._fix(ins, model, keys) if ins.kind == "create" else None
                self.report(ins.node, f"`{brief(ins.node)}` in {why} inserts {label} rows with no idempotence "
                                      "mechanism: every run (redeploy, retry, another worker) adds them again or "
                                      "fails on a unique constraint; use get_or_create/update_or_create on a unique "
                                      "key, ON CONFLICT DO NOTHING, or check for the rows first", fix=fix)
        for call, model_qual in info.gets:
            if guards.covers(call):
                continue
            self._get_or_create(call, model_qual, keys, why)

    def _refreshed(self, info: FnInfo, ins: Insert) -> bool:
        table = ins.table or (self.ctx.index.models[ins.model].table if ins.model in self.ctx.index.models else None)
        return any(line <= ins.node.lineno and ((model and model == ins.model) or (t and table and t == table))
                   for line, model, t in info.deletes)

    def _model_of_table(self, table: Optional[str]):
        if not table:
            return None
        found = [m for m in self.ctx.index.models.values() if m.table.lower() == table.lower()]
        return found[0] if len(found) == 1 else None

    def _conflict(self, ins: Insert, model, keys, why: str) -> None:
        if model is None or ins.conflict is None or ins.conflict[:1] in (("<constraint>",), ("<expression>",)):
            return
        uniques = unique_columns(keys.get(model.qual, []), model) + keys.get(model.qual, [])
        if ins.conflict:
            if not any(set(k) == set(ins.conflict) for k in uniques) and set(ins.conflict) != {"id"}:
                self.report(ins.node, f"`{brief(ins.node)}` in {why}: ON CONFLICT ({', '.join(ins.conflict)}) "
                                      f"matches no unique index of {model.name}, so PostgreSQL rejects the INSERT "
                                      "(there is no unique or exclusion constraint matching the ON CONFLICT "
                                      "specification); add the unique constraint or target an existing one")
        elif not any(k - {"pk", "id"} for k in keys.get(model.qual, [])):
            self.report(ins.node, f"`{brief(ins.node)}` in {why}: ON CONFLICT DO NOTHING on {model.name}, which has "
                                  "no unique key besides its generated primary key: nothing ever conflicts and every "
                                  "run inserts again; add a unique constraint on the natural key")

    def _get_or_create(self, call: ast.Call, model_qual: str, keys, why: str) -> None:
        lookups = [k for k in call.keywords if k.arg not in LOOKUP_EXTRAS]
        if any(k.arg is None for k in call.keywords) or call.args:
            return
        volatile = next(((k.arg, v) for k in lookups for v in [is_volatile(k.value)] if v), None)
        method = call.func.attr if isinstance(call.func, ast.Attribute) else "get_or_create"
        if volatile:
            self.report(call, f"`{method}` in {why} is keyed on {volatile[0]}={volatile[1]}, a value that differs on "
                              "every run: it never finds the row it created before, so every run inserts again; "
                              "key it on stable, unique fields and move the rest to `defaults`")
            return
        model = self.ctx.index.models.get(model_qual)
        fields = {k.arg.split("__")[0] for k in lookups}
        if model is None or not fields or covers_unique(keys.get(model_qual, []), fields, model):
            return
        self.report(call, f"`{method}` in {why} is keyed on {', '.join(sorted(fields))}, which is not unique in "
                          f"{model.name}: two processes seeding at once both insert, and from then on "
                          "`get_or_create` raises MultipleObjectsReturned; add a unique constraint on those fields",
                    confidence="medium")

    # -- the unsafe fix ------------------------------------------------------------------------
    def _fix(self, ins: Insert, model, keys) -> Optional[Fix]:
        call = ins.node
        if model is None or call.args or any(k.arg is None for k in call.keywords) \
                or not isinstance(call.func, ast.Attribute):
            return None
        given = [k.arg for k in call.keywords]
        key = next((k for k in keys.get(model.qual, []) if k <= set(given) and k not in ({"pk"},)), None)
        if key is None:
            return None
        src = self.ctx.source
        manager = ast.get_source_segment(src, call.func.value)
        parts = {k.arg: ast.get_source_segment(src, k.value) for k in call.keywords}
        if manager is None or any(v is None for v in parts.values()):
            return None
        args = [f"{k}={parts[k]}" for k in given if k in key]
        rest = [f'"{k}": {parts[k]}' for k in given if k not in key]
        if rest:
            args.append("defaults={" + ", ".join(rest) + "}")
        method = "aget_or_create" if call.func.attr == "acreate" else "get_or_create"
        text = f"{manager}.{method}({', '.join(args)})"
        stmt = next((s for s in ast.walk(self.funcs_node(call)) if isinstance(s, ast.Assign) and s.value is call
                     and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)), None)
        if stmt is not None:
            return Fix(FixSafety.UNSAFE, f"{method} on the unique key", (Edit(
                self.ctx.span(stmt), f"{stmt.targets[0].id}, _ = {text}"),))
        return Fix(FixSafety.UNSAFE, f"{method} on the unique key", (Edit(self.ctx.span(call), text),))

    def funcs_node(self, call: ast.Call) -> ast.AST:
        for info in self.funcs.values():
            if any(i.node is call for i in info.inserts):
                return info.node
        return self.ctx.tree


class _Guards:
    """Which calls of a function run only when a database check said so."""

    def __init__(self, info: FnInfo):
        self.info = info
        self.parents: Dict[int, ast.AST] = {}
        body = info.node
        for parent in ast.walk(body):
            for child in ast.iter_child_nodes(parent):
                self.parents[id(child)] = parent
        self.query_names: Set[str] = set()
        for node in ast.walk(body):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and self._reads(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    self.query_names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        self.early_exits = [n for n in ast.walk(body) if isinstance(n, ast.If) and self._reads(n.test)
                            and n.body and isinstance(n.body[-1], EXITS)]

    def _reads(self, node: Optional[ast.AST]) -> bool:
        if node is None:
            return False
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and id(sub) in self.info.queries:
                return True
            if isinstance(sub, ast.Name) and sub.id in self.query_names:
                return True
        return False

    def covers(self, node: ast.AST) -> bool:
        if any(guard.lineno < node.lineno and not self._inside(node, guard) for guard in self.early_exits):
            return True
        child = node
        parent = self.parents.get(id(child))
        while parent is not None and parent is not self.info.node:
            if isinstance(parent, (ast.If, ast.While, ast.IfExp)) and child is not parent.test \
                    and self._reads(parent.test):
                return True
            if isinstance(parent, ast.ExceptHandler):
                tried = self.parents.get(id(parent))
                if isinstance(tried, ast.Try) and any(self._reads(s) for s in tried.body):
                    return True
            if isinstance(parent, (ast.For, ast.AsyncFor)) and child is not parent.iter and self._reads(parent.iter) \
                    and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                            and (c.func.attr == "exclude" or any("isnull" in (k.arg or "") for k in c.keywords))
                            for c in ast.walk(parent.iter)):
                return True
            child, parent = parent, self.parents.get(id(parent))
        return False

    def _inside(self, node: ast.AST, guard: ast.If) -> bool:
        return any(sub is node for sub in ast.walk(guard))
