"""MDB407: read a value, change it in Python, write it back — a lost update."""
from __future__ import annotations

import ast
from typing import Optional

from .flow import FlowView
from .race import numeric_field, read_model, read_unlocked, same_attribute, write_back
from ...model import Edit, Fix, FixSafety
from ...core.messages import brief
from .base import TxRule
from ...core.tags import TK


class LostUpdate(TxRule):
    """
    ## What it does
    Finds a numeric model field changed in Python from its own value — `obj.count += 1`,
    `obj.stock = obj.stock - qty` — on an object read from the database without a row lock,
    then written back (`obj.save()`; for SQLAlchemy a later flush or commit).

    Primary location: the statement that computes the new value.

    ## Why is this bad?
    Two requests both read `count = 5`, both compute 6, both save 6: one increment is lost. Stock
    goes wrong, balances drift, counters undercount — silently, only under load.

    ## Known problems
    The object must be a model instance the analysis can type (a query result, a loop variable
    over a queryset, `self` in a model method, an annotated parameter); objects created in the
    same function, and objects read with `select_for_update()`/`with_for_update()`, are not
    reported. Non-numeric fields (string or list concatenation) are left alone.

    ## Example
    ```python
    post = Post.objects.get(pk=pk)
    post.views += 1
    post.save()
    ```

    ## Use instead
    ```python
    Post.objects.filter(pk=pk).update(views=F("views") + 1)
    # or
    post.views = F("views") + 1
    post.save(update_fields=["views"])
    ```

    ## Fix safety
    Unsafe (Django, `+=`/`-=` only, when the field is not read again in the function):
    `obj.f += n` becomes `obj.f = F("f") + n`, so the database computes the new value. After the
    save, `obj.f` holds an expression until `refresh_from_db()`; and `save()` still writes every
    other field it loaded.
    """

    code = "MDB407"
    name = "lost-update"
    summary = "Read-modify-write of a field without a lock or an F()/SQL expression"
    precision = "medium"  # blind triage of real apps: too many findings immaterial or wrong for a default
    tags = ("concurrency", "consistency")
    fixable = True

    BAD = [
        {
            "blog/models.py": """
from django.db import models

class Post(models.Model):
    views = models.IntegerField(default=0)

    def bump(self):
        self.views += 1  # error
        self.save(update_fields=["views"])
""",
            "blog/views.py": """
from blog.models import Post

def read(request, pk):
    post = Post.objects.get(pk=pk)
    post.views = post.views + 1  # error
    post.save()
""",
        },
    ]
    GOOD = [
        {
            "blog/models.py": """
from django.db import models

class Post(models.Model):
    views = models.IntegerField(default=0)
    title = models.CharField(max_length=50)
""",
            "blog/views.py": """
from django.db import transaction
from django.db.models import F
from blog.models import Post

def read(request, pk):
    Post.objects.filter(pk=pk).update(views=F("views") + 1)

def locked(request, pk):
    with transaction.atomic():
        post = Post.objects.select_for_update().get(pk=pk)
        post.views += 1
        post.save()

def fresh(request):
    post = Post(views=0)
    post.views += 1
    post.save()

def rename(request, pk):
    post = Post.objects.get(pk=pk)
    post.title += " (edited)"
    post.save()
""",
        },
    ]

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, (ast.Add, ast.Sub)) and isinstance(node.target, ast.Attribute):
            self._check(node, node.target)

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Attribute):
            return
        target, value = node.targets[0], node.value
        if isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub)) and \
                any(same_attribute(side, target) for side in (value.left, value.right)):
            self._check(node, target)

    def _check(self, stmt: ast.stmt, target: ast.Attribute) -> None:
        view = self.view()
        if view is None:
            return
        t = view.type_of(target.value) or _read_into(view, target.value)
        if not (t and t[0] == TK.INST and numeric_field(self.ctx.index, t[1], target.attr)):
            return
        if not read_unlocked(view, target.value):
            return
        model = self.ctx.index.models[t[1]]
        write = write_back(view, stmt, target.value, model.orm)
        if write is None:
            return
        obj = ast.unparse(target.value)
        fix = self._fix(view, stmt, target, write) if model.orm == "django" else None
        better = f'`F("{target.attr}")`' if model.orm == "django" else f"`{model.name}.{target.attr}`"
        self.report(stmt, f"`{obj}.{target.attr}` is read, changed in Python and written back by "
                          f"`{brief(write)}` (line {write.lineno}): a concurrent update in between is lost; "
                          f"compute it in the database ({better} + …) or lock the row first", fix=fix)

    def _fix(self, view: FlowView, stmt: ast.stmt, target: ast.Attribute, write: ast.AST) -> Optional[Fix]:
        if not isinstance(stmt, ast.AugAssign):
            return None
        text = ast.unparse(target)
        for n in ast.walk(view.fnode):
            if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load) and n.lineno > stmt.end_lineno and \
                    ast.unparse(n) == text:
                return None  # read again later: it would see an F() expression
        value = ast.get_source_segment(self.ctx.source, stmt.value)
        target_src = ast.get_source_segment(self.ctx.source, target)
        if value is None or target_src is None:
            return None
        op = "+" if isinstance(stmt.op, ast.Add) else "-"
        if isinstance(stmt.value, (ast.BinOp, ast.BoolOp, ast.IfExp, ast.Compare, ast.Lambda, ast.NamedExpr)):
            value = f"({value})"
        new = f'{target_src} = F("{target.attr}") {op} {value}'
        return Fix(FixSafety.UNSAFE, "let the database compute the new value with `F()`",
                   (Edit(self.ctx.span(stmt), new),), (("django.db.models", "F"),))


def _read_into(view: FlowView, obj: ast.AST):
    """``product = session.scalar(select(Product)...)``: an instance of the selected model."""
    value = view.scope.value_of(obj.id) if isinstance(obj, ast.Name) else None
    value = value.value if isinstance(value, ast.Await) else value
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute) or \
            value.func.attr not in ("scalar", "scalar_one", "scalar_one_or_none", "first", "one", "one_or_none"):
        return None
    model = read_model(view, value)
    return (TK.INST, model) if model else None
