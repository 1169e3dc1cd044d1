"""The rule API. A rule is one small module holding one class: its docstring is its reference
page (ruff's sections), ``BAD``/``GOOD`` are examples that the tests run, and ``visit_*`` /
``leave_*`` methods receive nodes from the engine's single walk of the file.

Rules never walk the tree themselves; the engine gives them context (``self.ctx``): the current
scope (for refs), the loop stack, the project index and its typer.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar, Iterable, List, Optional, Sequence, Tuple

from ..model import Finding, Fix, Location, Notice, RuleMeta, Span, capped

if TYPE_CHECKING:  # pragma: no cover
    from .context import FileContext


class Rule:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    default: ClassVar[bool] = True
    security: ClassVar[bool] = False
    security_severity: ClassVar[Optional[float]] = None
    precision: ClassVar[str] = "high"
    level: ClassVar[str] = "warning"
    tags: ClassVar[Tuple[str, ...]] = ()
    fixable: ClassVar[bool] = False
    # Execution contexts (``project/contexts.py``) in which a finding can be ``high``: when set,
    # a finding in a function that runs in none of them (a management command, a migration, dev
    # data, code nobody is known to call) is reported at ``medium``. None: contexts do not matter.
    high_in: ClassVar[Optional[frozenset]] = None
    # Contexts in which the rule does not report at all: a finding in a function that only they
    # reach (every context of the function is in this set) is dropped. Empty: every context.
    quiet_in: ClassVar[frozenset] = frozenset()
    # Codes of more specific rules that own a node this rule would otherwise report.
    yields_to: ClassVar[Tuple[str, ...]] = ()
    # True for a rule that judges ``non-app`` files too: the migrations family reads migration
    # files, which are non-app (never judged) for every other family.
    judges_non_app: ClassVar[bool] = False
    # Examples (the tests run them): each BAD snippet must produce a finding on every line
    # marked ``# error``, each GOOD snippet must produce none. Multi-file examples are dicts
    # {relative path: source}.
    BAD: ClassVar[Sequence[object]] = ()
    GOOD: ClassVar[Sequence[object]] = ()
    # Optional, for fixable rules: ``FIXED[i]`` is ``{path: source}`` (or a source) of files of
    # ``BAD[i]`` after ``mandu-lint fix --unsafe-fixes``; the tests apply the fixes, compare,
    # re-check (the findings are gone) and fix again (nothing changes).
    FIXED: ClassVar[Sequence[object]] = ()

    def __init__(self, ctx: "FileContext"):
        self.ctx = ctx
        self.findings: List[Finding] = []
        self.notices: List[Notice] = []  # said once per run (the runner drops repeats)
        # A rule that has nothing to do in this file (not configured, not in a layer…) sets this
        # False in ``__init__``; the engine then never calls it, which keeps the walk cheap.
        self.active = True

    @classmethod
    def meta(cls) -> RuleMeta:
        return RuleMeta(code=cls.code, name=cls.name, summary=cls.summary, doc=cls.doc(),
                        default=cls.default, security=cls.security, security_severity=cls.security_severity,
                        precision=cls.precision, level=cls.level, tags=cls.tags, fixable=cls.fixable,
                        extra={"confidence": cls.confidence_doc()})

    @classmethod
    def confidence_doc(cls) -> str:
        """One line for the rule page: which contexts it judges at which confidence."""
        if getattr(cls, "CONFIDENCE", None):
            return cls.CONFIDENCE
        if cls.precision in ("medium", "low"):
            judged = ("every execution context is judged" if not cls.quiet_in else
                      "not reported in code reached only from these contexts: " + ", ".join(sorted(cls.quiet_in)))
            return ("`medium` only (shown with `--confidence medium`): measured on real apps, too many of its "
                    "findings were immaterial or wrong for a default; " + judged)
        if cls.high_in is None:
            return "`high` in every execution context"
        where = ", ".join(sorted(cls.high_in))
        return (f"`high` in {where} code; `medium` elsewhere (management commands, migrations, dev data, seeds, "
                "startup, and code no known entry point reaches)")

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    def report(self, node: ast.AST, message: str, *, related: Iterable[Location] = (),
               fix: Optional[Fix] = None, confidence: str = "high") -> None:
        """Report ``node``. ``confidence`` is ``high`` when the evidence settles it, ``medium``
        when it is likely (shown with ``--confidence medium``); the rule's ``precision`` caps it."""
        if self.quiet_in:
            contexts = self.reporting_contexts()
            if contexts and contexts <= self.quiet_in:
                return
        if not self.judges_non_app and self.ctx.unreached(node):
            return
        finding = self.ctx.make_finding(self.code, node, message, tuple(related), fix)
        level = capped(self.confidence_of(node, confidence), self.precision)
        self.findings.append(finding if level == "high" else replace(finding, confidence=level))

    def reporting_contexts(self) -> frozenset:
        """The execution contexts of the code being reported (``quiet_in`` is judged on them)."""
        return self.ctx.contexts()

    def confidence_of(self, node: ast.AST, asked: str) -> str:
        """The confidence of a finding at ``node``: what the rule asked for, lowered to ``medium``
        outside the contexts of ``high_in``. Rules with more evidence override this."""
        if asked == "high" and self.high_in is not None and not (self.reporting_contexts() & self.high_in):
            return "medium"
        return asked

    def finish(self) -> None:
        """Called once after the walk; rules that collect first and decide later report here."""

    @classmethod
    def cache_key(cls, project, rel: str) -> str:
        """What this rule's findings in ``rel`` depend on beyond the file, the files it imports
        (and that import it) and the model files, for the findings cache: '' for most rules. A
        rule that reads other files or the git history for ``rel`` returns a digest of them."""
        return ""

    @classmethod
    def skips(cls, project, rel: str) -> bool:
        """True when this rule can tell, before ``rel`` is parsed, that it has nothing to say
        there (the runner then does not run it, nor parse a file no other rule wants)."""
        return False


def span_of(node: ast.AST) -> Span:
    return Span(node.lineno, node.col_offset, getattr(node, "end_lineno", node.lineno) or node.lineno,
                getattr(node, "end_col_offset", node.col_offset) or node.col_offset)


class ProjectRule(Rule):
    """A check of the project as a whole (migration drift, seed idempotency…), run once per
    project root by the CLI (never by flake8, which sees one file at a time). Each finding is
    still anchored to a file and line, so noqa, baselines and SARIF treat it like any other."""

    project_level: ClassVar[bool] = True

    def __init__(self, project):
        self.project = project
        self.findings: List[Finding] = []
        self.notices: List[Notice] = []

    def check(self) -> None:
        raise NotImplementedError

    def report_at(self, rel: str, line: int, message: str, *, col: int = 0, scope: str = "",
                  node_text: str = "", related: Iterable[Location] = (), fix: Optional[Fix] = None,
                  confidence: str = "high") -> None:
        self.findings.append(Finding(code=self.code, message=message, path=str(self.project.root / rel),
                                     span=Span(line, col, line, col), scope=scope, node_text=node_text or message,
                                     related=tuple(related), fix=fix,
                                     confidence=capped(confidence, self.precision)))

    @classmethod
    def meta(cls) -> RuleMeta:
        meta = super().meta()
        meta.project_level = True
        return meta
