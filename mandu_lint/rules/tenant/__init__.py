"""MDB1xx — tenant scope: queries on tenant-scoped models that do not pin the tenant.

The family's map (rules first, then the analysis they share, bottom-up):

- ``mdb101_unscoped_query.py`` … ``mdb105_tenant_from_request.py`` — one rule each.
- ``base.py`` — ``TenantRule``: the per-file tenant state and message helpers the rules share.
- ``evaluation.py`` — where a query's rows are read or changed (the points the rules judge),
  and django-scopes' ``scopes_disabled()`` regions (cross-tenant on purpose).
- ``query.py`` — follows a query back through its chain and local names to where it starts;
  managers that scope by themselves (django-scopes, django-multitenant).
- ``access.py`` — ids a view's access check already tied to the tenant.
- ``predicates.py`` — is a step a tenant predicate, and where does its value come from.
- ``spec.py`` — which models are scoped, through which keys (from ``tenant.*`` and the index);
  schema-per-tenant projects (django-tenants) and django-multitenant's self-scoping models.
- ``sql.py`` — raw SQL text a call runs, parsed with sqlglot (imported lazily).
- ``fix.py`` — the unsafe fix: add the tenant filter where the query starts.
- ``propose.py`` — ``mandu-lint init``'s ``tenant`` section.

This module is imported by the configuration loader: it declares options and rule metadata
only, and imports nothing but ``options`` and ``model``.
"""
from __future__ import annotations

from ...model import FamilySpec, RuleSpec
from ...options import declare

declare("tenant", "models", "model-list", [], "Tenant root model(s), e.g. [Organization].")
declare("tenant", "fields", "str-list", None, "Tenant key names on scoped models (default: derived).")
declare("tenant", "scoped", "auto-or-model-list", "auto", "`auto` or an explicit list of scoped models.")
declare("tenant", "depth", "int", 3, "FK-path depth for `scoped: auto`.")
declare("tenant", "exempt", "model-list", [], "Models that are global on purpose.")
declare("tenant", "helpers", "str-list", [], "Functions/methods/managers that apply the tenant filter.")
declare("tenant", "system", "glob-list", [], "Code that is cross-tenant on purpose (admin, tasks...).")
declare("tenant", "judge", "str-list", ["request"],
        "Execution contexts whose tenant findings are `high` (default: request paths); elsewhere `medium`.",
        choices=("request", "admin", "command", "task", "signal"))


def _configured(settings) -> bool:
    """Without a tenant root nothing is scoped: the rules are neither imported nor run."""
    return bool(settings.section("tenant").models)


FAMILY = FamilySpec(
    name="tenant",
    package=__name__,
    rules=(
        RuleSpec("MDB101", "unscoped-tenant-query", "mdb101_unscoped_query:UnscopedQuery"),
        RuleSpec("MDB102", "unscoped-tenant-bulk-write", "mdb102_unscoped_bulk_write:UnscopedBulkWrite"),
        RuleSpec("MDB103", "unscoped-tenant-raw-sql", "mdb103_unscoped_raw_sql:UnscopedRawSql"),
        RuleSpec("MDB104", "lookup-by-id-without-tenant", "mdb104_lookup_by_id:LookupById"),
        RuleSpec("MDB105", "tenant-from-request-data", "mdb105_tenant_from_request:TenantFromRequest",
                 default=False),
    ),
    proposer="propose:propose_tenant",
    active=_configured,
)
