"""MDB105 (opt-in): the tenant predicate takes its value from client input."""
from __future__ import annotations

import ast

from .predicates import DJ_FILTERS, SA_FILTERS, django_predicate, from_client, sa_predicate, text
from .base import TenantRule
from .mdb101_unscoped_query import CONFIG, MODELS
from ...core.tags import TK


class TenantFromRequest(TenantRule):
    """
    ## What it does
    Finds a tenant predicate whose value comes from what the client sent rather than from the
    authenticated context: `filter(workspace=request.data["workspace"])`,
    `filter(project__workspace_id=request.GET.get("ws"))`, `where(Task.organization_id ==
    request.json["org"])`, a FastAPI parameter declared with `Query()`/`Body()`/`Path()`/`Form()`,
    or a field of a request-body model (`payload.organization_id`). Local names are followed one
    assignment back.

    Primary location: the value expression of the tenant predicate.

    ## Why is this bad?
    The query is scoped, but to whichever tenant the client names. Unless membership is checked
    separately, a user of one customer reads another customer's data by changing one field. The
    tenant should come from the session: `request.user`'s organization, `request.tenant` set by
    middleware, a FastAPI dependency that checks membership.

    ## Known problems
    Opt-in (`extend-select: [MDB105]`): many apps pick the tenant from the URL or a header and
    check membership in a permission class or middleware this rule cannot see. Implicit path
    parameters (Django URL kwargs, plain FastAPI parameters) and headers are not reported, only
    request data and explicitly declared client parameters; only predicates on the tenant root
    (not on a parent along the path such as `project_id`) are checked.

    ## Example
    ```python
    def tasks(request):
        return Task.objects.filter(project__workspace_id=request.GET["workspace"])
    ```

    ## Use instead
    ```python
    def tasks(request):
        return Task.objects.filter(project__workspace=request.tenant)
    ```

    ## Fix safety
    No automatic fix: where the authenticated tenant lives is application-specific.
    """

    code = "MDB105"
    name = "tenant-from-request-data"
    summary = "Tenant predicate takes its value from client input"
    default = False
    security_severity = 6.5
    precision = "medium"
    level = "warning"

    BAD = [
        {
            "mandu.yaml": CONFIG + "extend-select: [MDB105]\n",
            "app/models.py": MODELS,
            "app/views.py": """
from app.models import Project, Task

def tasks(request):
    ws = request.GET.get("workspace")
    a = Task.objects.filter(project__workspace_id=ws)  # error
    b = Project.objects.filter(workspace=request.data["workspace"]).first()  # error
    return a, b
""",
        },
    ]
    GOOD = [
        {
            "mandu.yaml": CONFIG + "extend-select: [MDB105]\n",
            "app/models.py": MODELS,
            "app/views.py": """
from app.models import Project, Task

def tasks(request, slug):
    a = Task.objects.filter(project__workspace=request.tenant)
    b = Project.objects.filter(workspace__slug=slug)            # a URL kwarg: not reported
    c = Task.objects.filter(project_id=request.data["project"])  # a parent, not the root
    return a, b, c
""",
        },
    ]

    def visit_Call(self, node: ast.Call) -> None:
        if self.tenant is None or not isinstance(node.func, ast.Attribute):
            return
        name = node.func.attr
        t = self.ctx.type_of(node.func.value)
        spec = self.tenant.spec
        if name in DJ_FILTERS and t is not None and t[0] in (TK.MANAGER, TK.QS) and t[1] in spec.models:
            values = [(k, v) for k, v, suffix in django_predicate(self.ctx, spec, t[1], node).values
                      if suffix is not None]
        elif name in SA_FILTERS and self._sa_receiver(node, t):
            values = [(k, v) for k, v, _s in sa_predicate(self.ctx, spec, node, name).values]
        else:
            return
        for lookup, value in values:
            source = from_client(self.ctx, value)
            if source is not None:
                self.report(value, f"the tenant predicate `{lookup}` takes `{text(value)}` from {source}, which "
                                   f"the client chooses; take the tenant from the authenticated context "
                                   f"(`request.user`, `request.tenant`, a dependency) or check membership")

    def _sa_receiver(self, node: ast.Call, t) -> bool:
        if t is not None and t[0] in (TK.SASELECT, TK.SAQUERY):
            return True
        q = self.resolver().resolve(node.func.value)
        return q is not None and q.orm == "sqlalchemy"
