"""MDB607: a column renamed by dropping it and adding another in the same migration, with no
data copy in between (the values are lost)."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from ...model import Edit, Fix, FixSafety, Location
from .judged import MigrationFacts, MigrationRule
from .records import Migration, Operation

_CONFIG = "migrations:\n  judge: all\n"
_INITIAL = """
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    operations = [
        migrations.CreateModel(
            name="Book",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("title", models.CharField(max_length=200)),
            ],
        ),
    ]
"""
IGNORED_KWARGS = {"help_text", "verbose_name", "db_column", "blank", "editable", "validators", "error_messages",
                  "choices", "db_comment"}
COPIES = {"RunPython", "RunSQL", "execute", "bulk_insert"}


@dataclass
class Pair:
    drop: Operation
    add: Operation
    table: str
    old: str
    new: str
    same: bool   # the added column is the dropped one under a new name


class RenameAsDropAdd(MigrationRule):
    """
    ## What it does
    Finds a migration that removes one column of a table and adds another one to the same table,
    of the same type, with no data copy in between (no `RunPython`, `RunSQL`, `op.execute`):
    a rename written — or generated, when `makemigrations` asked "Did you rename…?" and the
    answer was no — as a drop and an add.

    Primary location: the `RemoveField` / `op.drop_column`; the `AddField` / `op.add_column` is a
    related location.

    ## Why is this bad?
    Dropping the column deletes every value in it; the new column starts empty (or filled with a
    default). If the intent was a rename, the data is gone the moment the migration runs, and the
    rollback cannot bring it back.

    ## Known problems
    Only unreleased migrations are judged (`migrations.judge: all` judges every one); a table
    created by a migration of the same release holds no data yet and is skipped. `high` when the
    new field is the old one under another name (same definition apart from attributes with no
    DDL effect); `medium` when only the column type and the names match — that may be a real
    replacement.
    A model with several columns dropped and added at once is paired only when exactly one pair
    has matching types, and a pair whose definitions differ only when the names are alike
    (`zip`/`zip_code`). Execution contexts do not apply.

    ## Example
    ```python
    operations = [
        migrations.RemoveField(model_name="book", name="title"),
        migrations.AddField(model_name="book", name="headline", field=models.CharField(max_length=200)),
    ]
    ```

    ## Use instead
    ```python
    operations = [
        migrations.RenameField(model_name="book", old_name="title", new_name="headline"),
    ]
    ```

    ## Fix safety
    Unsafe: the fix rewrites the pair as `RenameField` (plus an `AlterField` when the definition
    changed) or `op.alter_column(..., new_column_name=...)`, which keeps the data; if a drop and
    a fresh column were really meant, it changes the migration's meaning. An Alembic
    `downgrade()` still drops and re-adds: rename it back by hand.
    """

    code = "MDB607"
    name = "rename-as-drop-add"
    summary = "A column is renamed by dropping it and adding a new one, losing its data"
    default = False  # opt-in until measured blind on real apps
    precision = "high"
    tags = ("migrations", "data-loss")
    fixable = True
    BAD = [
        {
            "mandu.yaml": _CONFIG,
            "shop/migrations/0001_initial.py": _INITIAL,
            "shop/migrations/0002_headline.py": """
                from django.db import migrations, models


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.RemoveField(model_name="book", name="title"),  # error
                        migrations.AddField(
                            model_name="book",
                            name="headline",
                            field=models.CharField(max_length=200, default=""),
                            preserve_default=False,
                        ),
                    ]
            """,
        },
    ]
    FIXED = [
        {
            "shop/migrations/0002_headline.py": """
                from django.db import migrations, models


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.RenameField(model_name="book", old_name="title", new_name="headline"),
                    ]
            """,
        },
    ]
    GOOD = [
        {
            "mandu.yaml": _CONFIG,
            "shop/migrations/0001_initial.py": _INITIAL,
            "shop/migrations/0002_headline.py": """
                from django.db import migrations, models


                def copy_titles(apps, schema_editor):
                    Book = apps.get_model("shop", "Book")
                    Book.objects.update(headline=models.F("title"))


                class Migration(migrations.Migration):
                    dependencies = [("shop", "0001_initial")]
                    operations = [
                        migrations.AddField(model_name="book", name="headline", field=models.CharField(max_length=200,
                                                                                                       null=True)),
                        migrations.RunPython(copy_titles, migrations.RunPython.noop),
                        migrations.RemoveField(model_name="book", name="title"),
                    ]
            """,
        },
    ]

    def check_migration(self, mig: Migration, facts: MigrationFacts) -> None:
        if any(op.kind in COPIES for op in mig.operations):
            return  # a data copy (or a data migration) in the same migration: trust it
        for pair in self._pairs(mig, facts):
            fix = self._fix(mig, pair)
            related = (Location(self.ctx.path, self.ctx.span(pair.add.node), "the column added instead"),)
            verb = "is" if pair.same else "may be"
            self.report(pair.drop.node, f"`{pair.table}.{pair.old}` is dropped and `{pair.new}` added in the same "
                                        f"migration with no data copy: this {verb} a rename that loses every value; "
                                        "rename the column instead", related=related, fix=fix,
                        confidence="high" if pair.same else "medium")

    # -- pairing --------------------------------------------------------------------------------
    def _pairs(self, mig: Migration, facts: MigrationFacts) -> List[Pair]:
        from .schema import norm

        drops: Dict[str, List[Tuple[Operation, object]]] = {}
        adds: Dict[str, List[Tuple[Operation, object]]] = {}
        for op in mig.operations:
            if op.node is None or op.track in ("state", "none") or op.parent is not None and mig.system == "django":
                continue
            before = facts.replay.before(op)
            if before is None:
                continue
            found = self._column_op(mig, facts, op, before)
            if found is None:
                continue
            kind, table, column = found
            (drops if kind == "drop" else adds).setdefault(norm(table), []).append((op, column))
        out = []
        for table, dropped in drops.items():
            added = adds.get(table, [])
            candidates = [(d, a) for d in dropped for a in added if _compatible(d[1], a[1])]
            if len(candidates) != 1 or len(dropped) > 1 and len(added) > 1:
                continue
            (drop, old), (add, new) = candidates[0]
            before = facts.replay.before(drop)
            created = before.created_in(table) if before is not None else None
            if created is not None and (facts.is_unreleased(created) or created == mig.key):
                continue
            same = _same(drop, add, old, new, facts, mig)
            if same or _similar(old.name, new.name):
                out.append(Pair(drop, add, before.table(table).name, old.name, new.name, same))
        return out

    def _column_op(self, mig: Migration, facts: MigrationFacts, op: Operation, before):
        """("drop"|"add", table, ColumnState) for a column-level drop or add, else None."""
        from .fields import column_state
        from .state import column_name, table_name

        if mig.system == "alembic":
            table = op.args.get("table_name")
            if op.kind == "drop_column" and table:
                col = before.column(table, op.args.get("column_name") or "")
                return ("drop", table, col) if col else None
            if op.kind == "add_column" and table and op.args.get("column") is not None:
                return ("add", table, op.args["column"]) if before.table_exists(table) else None
            return None
        state = facts.replay.state_before(op)
        model = state.get(mig.label, op.args.get("model_name")) if state is not None else None
        if model is None or model.unknown or not model.has_table or not table_name(model):
            return None
        if op.kind == "RemoveField":
            f = model.field_named(op.args.get("name") or "")
            col = before.column(table_name(model), column_name(f)) if f is not None and column_name(f) else None
            return ("drop", table_name(model), col) if col else None
        if op.kind == "AddField" and op.args.get("field") is not None:
            f = op.args["field"]
            from dataclasses import replace

            col = column_state(replace(f, name=op.args.get("name") or f.name), model, state)
            return ("add", table_name(model), col) if col is not None else None
        return None

    # -- the fix ------------------------------------------------------------------------------
    def _fix(self, mig: Migration, pair: Pair) -> Optional[Fix]:
        if mig.system == "django":
            return self._django_fix(mig, pair)
        return self._alembic_fix(mig, pair)

    def _django_fix(self, mig: Migration, pair: Pair) -> Optional[Fix]:
        from . import pyast

        cls = pyast.find_class(self.ctx.tree, "Migration")
        stmt = next((s for s in cls.body if isinstance(s, ast.Assign) and len(s.targets) == 1
                     and isinstance(s.targets[0], ast.Name) and s.targets[0].id == "operations"), None) if cls else None
        if stmt is None or not isinstance(stmt.value, (ast.List, ast.Tuple)):
            return None
        elements = stmt.value.elts
        drop = next((e for e in elements if e is pair.drop.node or _same_pos(e, pair.drop.node)), None)
        add = next((e for e in elements if e is pair.add.node or _same_pos(e, pair.add.node)), None)
        if drop is None or add is None:
            return None
        model = pair.drop.args.get("model_name")
        old, new = pair.drop.args.get("name"), pair.add.args.get("name")
        prefix = _prefix(drop)
        rename = f'{prefix}RenameField(model_name="{model}", old_name="{old}", new_name="{new}")'
        if not pair.same:
            field = self._source(pair.add.node, "field")
            if field is None:
                return None
            rename += f',\n{_indent(self.ctx.source, add)}{prefix}AlterField(model_name="{model}", name="{new}", ' \
                      f"field={field})"
        first, second = sorted((drop, add), key=lambda e: (e.lineno, e.col_offset))
        text = self._rewrite(stmt, elements, first, rename, second)
        if text is None:
            return None
        return Fix(FixSafety.UNSAFE, f"rename `{old}` to `{new}` with RenameField", (Edit(self.ctx.span(stmt), text),))

    def _alembic_fix(self, mig: Migration, pair: Pair) -> Optional[Fix]:
        drop_stmt = _statement_of(self.ctx.tree, pair.drop.node)
        add_stmt = _statement_of(self.ctx.tree, pair.add.node)
        call = pair.drop.node
        if drop_stmt is None or add_stmt is None or not isinstance(call.func, ast.Attribute):
            return None
        receiver = ast.get_source_segment(self.ctx.source, call.func.value) if hasattr(call.func, "value") else None
        if receiver is None:
            return None
        table = "" if pair.drop.args.get("batch") else f'"{pair.table}", '
        extra = ""
        if not pair.same:
            column_call = pair.add.args.get("column")
            type_node = _column_type(pair.add.node)
            if type_node is not None:
                extra += f", type_={ast.get_source_segment(self.ctx.source, type_node)}"
            if column_call is not None and column_call.nullable is not None:
                extra += f", nullable={column_call.nullable}"
        text = f'{receiver}.alter_column({table}"{pair.old}", new_column_name="{pair.new}"{extra})'
        edits = (Edit(self.ctx.span(drop_stmt), text), Edit(self.ctx.span(add_stmt), ""))
        return Fix(FixSafety.UNSAFE, f"rename `{pair.old}` to `{pair.new}` with alter_column", edits)

    def _source(self, call: ast.Call, keyword: str) -> Optional[str]:
        from . import pyast

        bound, _ = pyast.bind(call, ("model_name", "name", "field", "preserve_default"))
        node = bound.get(keyword)
        return ast.get_source_segment(self.ctx.source, node) if node is not None else None

    def _rewrite(self, stmt: ast.Assign, elements, first, replacement: str, dropped) -> Optional[str]:
        """The ``operations = [...]`` statement with ``first`` replaced and ``dropped`` removed
        (with its separator), every other character kept."""
        offsets = _Offsets(self.ctx.source)
        start = offsets(stmt.lineno, stmt.col_offset)
        end = offsets(stmt.end_lineno, stmt.end_col_offset)
        cuts = []
        a, b = offsets(first.lineno, first.col_offset), offsets(first.end_lineno, first.end_col_offset)
        cuts.append((a, b, replacement))
        i = elements.index(dropped)
        if i + 1 < len(elements):
            nxt = elements[i + 1]
            cuts.append((offsets(dropped.lineno, dropped.col_offset), offsets(nxt.lineno, nxt.col_offset), ""))
        else:
            prev = elements[i - 1]
            after_prev = offsets(prev.end_lineno, prev.end_col_offset)
            tail = self.ctx.source[offsets(dropped.end_lineno, dropped.end_col_offset):end]
            comma = "," if tail.lstrip().startswith(",") else ""
            cuts.append((after_prev, offsets(dropped.end_lineno, dropped.end_col_offset) + (
                tail.index(",") + 1 if comma else 0), "," if comma else ""))
        source = self.ctx.source
        out = source[start:end]
        for a, b, text in sorted(cuts, reverse=True):
            if a < start or b > end:
                return None
            out = out[: a - start] + text + out[b - start:]
        # libcst re-indents the continuation lines of a statement by its block's indentation
        indent = _indent(source, stmt)
        lines = out.split("\n")
        rest = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[1:]]
        return "\n".join(lines[:1] + rest)


class _Offsets:
    """(line, UTF-8 column) -> index into the text."""

    def __init__(self, text: str):
        self.text = text
        self.starts = [0]
        for line in text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))

    def __call__(self, line: int, col: int) -> int:
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        raw = self.text[start:end].encode("utf-8")[:col]
        return start + len(raw.decode("utf-8", errors="ignore"))


def _same_pos(a: ast.AST, b: Optional[ast.AST]) -> bool:
    return b is not None and (a.lineno, a.col_offset) == (b.lineno, b.col_offset)


def _prefix(call: ast.AST) -> str:
    """``migrations.`` when the operation was written ``migrations.RemoveField(...)``."""
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute):
        return (ast.unparse(call.func.value) + ".") if call.func.value is not None else ""
    return ""


def _indent(source: str, node: ast.AST) -> str:
    line = source.splitlines()[node.lineno - 1]
    return line[: len(line) - len(line.lstrip())]


def _statement_of(tree: ast.Module, call: Optional[ast.AST]) -> Optional[ast.stmt]:
    if call is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and _same_pos(node.value, call):
            return node
    return None


def _column_type(add_call: Optional[ast.AST]) -> Optional[ast.AST]:
    """The type argument of ``op.add_column(t, sa.Column("x", sa.String(20), ...))``."""
    if not isinstance(add_call, ast.Call):
        return None
    column = next((a for a in add_call.args if isinstance(a, ast.Call)), None)
    if column is None:
        return None
    positional = column.args[1:] if column.args and isinstance(column.args[0], ast.Constant) else column.args
    return next((a for a in positional if not (isinstance(a, ast.Call) and ast.unparse(a.func).endswith("ForeignKey"))),
                None)


def _similar(old: str, new: str) -> bool:
    """Names that read as one thing renamed (``title``/``headline`` do not; ``desc``/
    ``description``, ``user_name``/``username``, ``zip``/``zip_code`` do)."""
    import difflib

    a, b = old.lower().removesuffix("_id"), new.lower().removesuffix("_id")
    if a in b or b in a:
        return True
    if set(a.split("_")) & set(b.split("_")) - {"", "is", "has", "at", "on", "by"}:
        return True
    return difflib.SequenceMatcher(None, a.replace("_", ""), b.replace("_", "")).ratio() >= 0.75


def _compatible(old, new) -> bool:
    if old is None or new is None or old.primary_key or new.primary_key:
        return False
    if old.type is None or new.type is None:
        return False
    text = {"varchar", "text", "citext"}
    return old.type == new.type or (old.type in text and new.type in text)


def _same(drop: Operation, add: Operation, old, new, facts: MigrationFacts, mig: Migration) -> bool:
    """Is the added column the dropped one under a new name (same type, length, nullability,
    uniqueness and target; Django: same field class and DDL keywords)?"""
    if (old.type, old.max_length, old.unique, old.fk) != (new.type, new.max_length, new.unique, new.fk):
        return False
    if mig.system == "alembic":
        return old.nullable == new.nullable
    state = facts.replay.state_before(drop)
    model = state.get(mig.label, drop.args.get("model_name")) if state is not None else None
    f_old = model.field_named(drop.args.get("name") or "") if model is not None else None
    f_new = add.args.get("field")
    if f_old is None or f_new is None or f_old.cls != f_new.cls:
        return False
    ignored = IGNORED_KWARGS | {"default", "null"}

    def keep(f):
        return {k: repr(v) for k, v in f.kwargs.items() if k not in ignored}

    if f_old.null != f_new.null and not (add.args.get("preserve_default") is False or f_new.has_default):
        return False
    return keep(f_old) == keep(f_new)
