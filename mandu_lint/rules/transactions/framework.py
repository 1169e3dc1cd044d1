"""What the framework does with functions no project code calls — the "known" part of the
three-state entry rule: a Celery task, a management command and an ``on_commit`` callback run
in autocommit; a sync view runs in a transaction exactly when ``ATOMIC_REQUESTS`` is on (async
views and ``non_atomic_requests`` never); the admin's ``save_model``/``delete_model`` run inside
one; a ``post_save`` receiver and a model's ``save()`` override run wherever the model is saved
(inside a transaction when the save is ``get_or_create``'s or ``update_or_create``'s: Django
wraps it in ``atomic()``).
A GraphQL mutation (graphene's ``mutate``/``mutate_and_get_payload``/``perform_mutate``,
strawberry's ``@mutation``) is a request handler: autocommit, unless ``ATOMIC_REQUESTS`` wraps its
(sync) view or graphene-django's ``ATOMIC_MUTATIONS`` (in ``GRAPHENE`` or a database) is on.

A mixin of :class:`mandu_lint.rules.transactions.analysis.TxIndex`, which supplies the call sites.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .calls import NON_ATOMIC, is_task, origin, strip_call
from ...core.tags import RT, TK

INSIDE, OUTSIDE, UNKNOWN = "inside", "outside", "unknown"
RECEIVER = frozenset({"django.dispatch.receiver", "django.dispatch.dispatcher.receiver"})
SAVE_SIGNALS = frozenset(f"django.db.models.signals.{s}" for s in ("post_save", "pre_save"))
DELETE_SIGNALS = frozenset(f"django.db.models.signals.{s}" for s in ("post_delete", "pre_delete"))
SAVE_CALLS = ("save", "asave", "create", "acreate", "get_or_create", "aget_or_create", "update_or_create",
              "aupdate_or_create")
DELETE_CALLS = ("delete", "adelete")
# Django runs the save of these inside its own ``transaction.atomic()``: the ``save()`` override and
# the save receivers they trigger are inside a transaction whatever the caller's state
OWN_ATOMIC = frozenset({"get_or_create", "aget_or_create", "update_or_create", "aupdate_or_create"})
# an event's description (```X.get_or_create()```) names one of them
OWN_ATOMIC_CALL = re.compile(r"\b(" + "|".join(sorted(OWN_ATOMIC)) + r")\(\)")
VIEW_BASES = ("django.views", "django.contrib.auth.views", "rest_framework.views", "rest_framework.viewsets",
              "rest_framework.generics", "rest_framework.mixins", "django.contrib.admin")
HANDLERS = frozenset("""get post put patch delete head options dispatch form_valid form_invalid
perform_create perform_update perform_destroy create update partial_update destroy list retrieve""".split())
MUTATE = frozenset({"mutate", "mutate_and_get_payload", "perform_mutate"})
STRAWBERRY_MUTATION = frozenset({"strawberry.mutation", "strawberry_django.mutation", "strawberry.django.mutation"})
SAVED_IN = "runs inside the transaction of every"
ADMIN_ATOMIC = frozenset("save_model delete_model save_related save_formset delete_queryset".split())


@dataclass(frozen=True)
class Entry:
    state: str
    why: str
    where: Optional[Tuple[str, int]] = None  # (relative path, line) of the deciding call site


class FrameworkEntries:
    """Needs ``ix``, ``typer``, ``sites()``, ``func_of()``, ``entry``-style ``_meet()`` and
    ``_non_app()`` from the class it is mixed into."""

    def framework(self, fn) -> Entry:
        """What the framework does with a function no project code calls."""
        if is_task(self.ix, fn):
            return Entry(OUTSIDE, "a task: it runs in autocommit")
        mro = self.ix.mro(fn.cls) if fn.cls else []
        if fn.cls and fn.name == "handle" and any(a.startswith("django.core.management") for a in mro):
            return Entry(OUTSIDE, "a management command: it runs in autocommit")
        if fn.cls and fn.name in ADMIN_ATOMIC and any(a.startswith("django.contrib.admin") for a in mro):
            return Entry(INSIDE, "the Django admin calls it inside a transaction")
        if self._is_view(fn, mro):
            return self._view_state(fn)
        graphql = self._mutation(fn, mro)
        if graphql:
            return self._mutation_state(fn, graphql)
        if fn.cls in self.ix.models and fn.name in ("save", "delete"):
            return self._model_state(fn.cls, SAVE_CALLS if fn.name == "save" else DELETE_CALLS, True)
        return self._receiver_state(fn)

    def _is_view(self, fn, mro) -> bool:
        params = [p[0] for p in fn.params]
        if not fn.cls:
            return bool(params) and params[0] == "request" and fn.qual.count(".") >= 1 and \
                fn.qual.rsplit(".", 1)[0] in self.ix.modules
        if not any(a.startswith(VIEW_BASES) for a in mro):
            return False
        return fn.name in HANDLERS or (len(params) > 1 and params[1] == "request")

    def _view_state(self, fn) -> Entry:
        if any(origin(self.ix, d) in NON_ATOMIC for d in fn.decorators):
            return Entry(OUTSIDE, "a view marked `non_atomic_requests`")
        on = self.atomic_requests()
        if on is True:
            return Entry(OUTSIDE, "an async view: ATOMIC_REQUESTS does not wrap it") if fn.is_async else \
                Entry(INSIDE, "a view under ATOMIC_REQUESTS")
        if on is False:
            return Entry(OUTSIDE, "a view: Django runs it in autocommit (ATOMIC_REQUESTS is off)")
        return Entry(UNKNOWN, "a view, but the project's ATOMIC_REQUESTS setting is unknown")

    def _mutation(self, fn, mro) -> Optional[str]:
        """"graphene" or "strawberry" when ``fn`` is a GraphQL mutation the schema calls."""
        if fn.cls and fn.name in MUTATE and any(a.startswith(("graphene.", "graphene_django.")) for a in mro):
            return "graphene"
        if any(origin(self.ix, strip_call(d)) in STRAWBERRY_MUTATION for d in fn.decorators):
            return "strawberry"
        return None

    def _mutation_state(self, fn, library: str) -> Entry:
        requests = self.atomic_requests()
        mutations = self.atomic_setting("ATOMIC_MUTATIONS") if library == "graphene" else False
        if requests is None:
            return Entry(UNKNOWN, "a GraphQL mutation, but the project's ATOMIC_REQUESTS setting is unknown")
        if requests and not fn.is_async:
            return Entry(INSIDE, "a GraphQL mutation in a view under ATOMIC_REQUESTS")
        if mutations is True:
            return Entry(INSIDE, "a graphene mutation under ATOMIC_MUTATIONS")
        if mutations is None:
            return Entry(UNKNOWN, "a graphene mutation, but the project's ATOMIC_MUTATIONS setting is unknown")
        return Entry(OUTSIDE, "a GraphQL mutation: it runs in autocommit (no ATOMIC_REQUESTS"
                              + (" or ATOMIC_MUTATIONS)" if library == "graphene" else ")"))

    def atomic_requests(self) -> Optional[bool]:
        """True/False from the settings modules; None when absent or not a literal."""
        return self.atomic_setting("ATOMIC_REQUESTS")

    def atomic_setting(self, key: str) -> Optional[bool]:
        """``ATOMIC_REQUESTS``/``ATOMIC_MUTATIONS``: True/False from the settings modules (False
        when absent from settings that define ``DATABASES``); None when unknown or not a literal."""
        if key not in self._atomic:
            values, has_db = [], False
            for rel in self.ix.files:
                if self._non_app(rel):
                    continue
                ds = getattr(self.ix.files[rel], "db_settings", None) or {}
                has_db = has_db or bool(ds.get("DATABASES"))
                values += ds.get(key, [])
            if values:
                self._atomic[key] = values[0] if all(v is values[0] for v in values) and values[0] in (True, False) \
                    else None
            else:
                self._atomic[key] = False if has_db else None
        return self._atomic[key]

    def _receiver_state(self, fn) -> Entry:
        for signal, sender in self._registrations(fn):
            name = origin(self.ix, signal)
            if name in DELETE_SIGNALS:
                # ``Collector.delete()`` sends pre_delete/post_delete inside its own
                # ``transaction.atomic(savepoint=False)``: a model with receivers is never
                # fast-deleted, so its receivers always run in the deletion's transaction
                return Entry(INSIDE, f"{SAVED_IN} deletion: Django sends delete signals inside it")
            calls = SAVE_CALLS if name in SAVE_SIGNALS else DELETE_CALLS if name in DELETE_SIGNALS else None
            t = self.typer.type_of(sender) if sender is not None else None
            if calls and t and t[0] == TK.MODEL:
                return self._model_state(t[1], calls, False)
        return Entry(UNKNOWN, "no project caller")

    def _registrations(self, fn):
        for d in fn.decorators:
            if d and d[0] == RT.CALL and origin(self.ix, d[1]) in RECEIVER and d[2]:
                yield d[2][0], dict(d[3]).get("sender")
        yield from self._connects().get(fn.qual, ())

    def _connects(self) -> Dict[str, list]:
        """``post_save.connect(handler, sender=Model)`` calls: handler → [(signal, sender)]."""
        if self._conn is None:
            self._conn = {}
            for _caller, ref, _l, _c in self.sites().get("connect", ()):
                if ref[1][0] == RT.ATTR and ref[2]:
                    target = self.func_of(ref[2][0])
                    if target:
                        self._conn.setdefault(target, []).append((ref[1][1], dict(ref[3]).get("sender")))
        return self._conn

    def model_sites(self, model: str, calls, subclasses: bool) -> list:
        """Calls that save (or delete) instances of ``model`` (and of its subclasses)."""
        wanted = {model} | ({m for m in self.ix.models if model in self.ix.mro(m)} if subclasses else set())
        out = []
        for name in calls:
            for caller, ref, line, col in self.sites().get(name, ()):
                t = self.typer.type_of(ref[1])
                if t and t[0] == TK.METHOD and t[1][0] in (TK.INST, TK.MANAGER, TK.QS, TK.RELMGR) and \
                        t[1][1] in wanted and t[2] == name:
                    out.append((caller, line, col, "atomic" if name in OWN_ATOMIC else "call"))
        return out

    # -- what a save runs ------------------------------------------------------------------------
    def save_hooks(self, model: str, deleting: bool = False) -> List[str]:
        """Project code a save (or delete) of ``model`` runs: the nearest ``save()``/``delete()``
        override, and receivers of ``pre_save``/``post_save`` (``pre_delete``/``post_delete``)."""
        meth = self.ix.find_method(model, "delete" if deleting else "save")
        out = [meth] if meth else []
        signals = DELETE_SIGNALS if deleting else SAVE_SIGNALS
        out += [q for q, signal in self._receivers().get(model, ()) if signal in signals]
        return out

    def _receivers(self) -> Dict[str, list]:
        """Model -> [(receiver qual, signal)]: stored beside the index (one pickle, not every
        module's facts, for a one-file editor run)."""
        if self._recv is None:
            build = getattr(self.project, "derived_table", None)
            name = f"tx-receivers-{self.project.settings.digest[:12]}"
            self._recv = build(name, self._build_receivers) if build else self._build_receivers()
        return self._recv

    def _build_receivers(self) -> Dict[str, list]:
        out: Dict[str, list] = {}
        for rel in self.ix.files:
            if self._non_app(rel):
                continue
            for fn in self.ix.files[rel].functions.values():
                for signal, sender in self._registrations(fn):
                    t = self.typer.type_of(sender) if sender is not None else None
                    if t and t[0] == TK.MODEL:
                        out.setdefault(t[1], []).append((fn.qual, origin(self.ix, signal)))
        return out

    def _model_state(self, model: str, calls, subclasses: bool) -> Entry:
        sites = self.model_sites(model, calls, subclasses)
        if not sites:
            return Entry(UNKNOWN, "the model is never saved by project code")
        out = self._meet(sites)
        label = self.ix.models[model].name
        if out.state == INSIDE:
            return Entry(INSIDE, f"{SAVED_IN} `{label}` save")
        return out
