"""MDB3xx — per-row database work: queries, lazy loads and writes once per loop iteration.

The family's map:

- ``mdb301_query_in_loop.py`` — a query per iteration (the fallback rule of the family).
- ``mdb302_lazy_relation_in_loop.py`` (+ ``mdb302_examples.py``) — N+1 through lazy relations.
- ``mdb303_write_in_loop.py`` — a write per iteration.
- ``mdb304_prefetch_bypassed.py`` — a prefetched relation re-queried per row.
- ``per_row.py`` — *row sources*: the rows a loop or a serializer handles one at a time, their
  model, the paths their query loads, the query a fix edits.
- ``drf.py`` — DRF ``many=True`` serializers as per-row contexts.
- ``templates.py`` — Django templates: a lexer/parser of the template grammar (``for``, ``with``,
  ``include``, ``extends``/``block``…), the project's template folders, and what a template's
  loops read of the rows bound to its context names.
- ``pydantic_rows.py`` — Pydantic response models validated from rows (``Schema.model_validate(row)``
  in a loop, FastAPI ``response_model=list[Schema]``): which relations a schema's fields read.
- ``template_views.py`` — views that hand querysets to templates (``render``, ``TemplateResponse``,
  ``ListView``/``DetailView``, ``get_context_data``, ``Paginator`` pages): template per-row contexts.
- ``query_reach.py`` — can the analysis see a query, and where would a fix edit it.
- ``reads.py`` — which relations of a parameter a project function reads, calls away.
- ``served.py`` — is a relation read already loaded by the loop's query, and what would load it.
- ``writes.py`` — which writes reach the database now (staged ``add`` does not).
- ``fix.py`` — eager-loading edits (``select_related``/``prefetch_related``, ``joinedload``…).

Imported by the configuration loader: rule metadata only (the family has no options).
"""
from __future__ import annotations

from ...model import FamilySpec, RuleSpec

FAMILY = FamilySpec(
    name="loops",
    package=__name__,
    rules=(
        RuleSpec("MDB301", "query-in-loop", "mdb301_query_in_loop:QueryInLoop"),
        RuleSpec("MDB302", "lazy-relation-in-loop", "mdb302_lazy_relation_in_loop:LazyRelationInLoop"),
        RuleSpec("MDB303", "write-in-loop", "mdb303_write_in_loop:WriteInLoop"),
        RuleSpec("MDB304", "prefetch-bypassed", "mdb304_prefetch_bypassed:PrefetchBypassed"),
        RuleSpec("MDB305", "count-for-existence", "mdb305_count_for_existence:CountForExistence", default=False),
    ),
)
