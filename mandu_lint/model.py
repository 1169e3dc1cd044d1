"""Plain frozen data shared by every layer: spans, findings, fixes, rule metadata.

Nothing here imports from the rest of the package; every other module may import this one.
Positions follow ``ast``: lines are 1-based, columns are 0-based *character* offsets (the
engine converts ``ast``'s UTF-8 byte offsets once, so reporters never see bytes).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional, Tuple

TOOL_NAME = "mandu-lint"


class FixSafety(str, enum.Enum):
    """ruff's model: ``safe`` fixes apply with ``fix``; ``unsafe`` need ``--unsafe-fixes``;
    ``display`` fixes are shown (JSON/SARIF/diff) but never applied."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY = "display"


@dataclass(frozen=True, order=True)
class Span:
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Location:
    """A related site (e.g. the query that should load a relation)."""

    path: str
    span: Span
    message: str = ""


@dataclass(frozen=True)
class Edit:
    """Replace the source in ``span`` by ``text``. The span must cover exactly one
    expression or statement node so that the fix engine can find it in libcst's tree."""

    span: Span
    text: str


@dataclass(frozen=True)
class Fix:
    safety: FixSafety
    description: str
    edits: Tuple[Edit, ...]
    # (module, name) pairs to import, e.g. ("sqlalchemy.orm", "joinedload");
    # name None means ``import module``.
    imports: Tuple[Tuple[str, Optional[str]], ...] = ()


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    path: str  # absolute path of the file
    span: Span
    scope: str = ""  # enclosing qualified scope, e.g. "views.BookList.get"
    node_text: str = ""  # normalised text of the primary node (for fingerprints)
    related: Tuple[Location, ...] = ()
    fix: Optional[Fix] = None
    fingerprint: str = ""  # filled in by the engine
    # How sure this finding is: "high" (reported by default) or "medium" (``--confidence
    # medium``). Never part of the fingerprint: a baseline survives a change of confidence.
    confidence: str = "high"

    @property
    def sort_key(self):
        return (self.path, self.span.line, self.span.col, self.code, self.message)


@dataclass(frozen=True)
class Notice:
    """Something the run says about a file or rule that is not a finding: a file that needs a
    newer Python, a rule that crashed (``error=True`` makes the exit code 2)."""

    path: str
    message: str
    error: bool = False
    rule: str = ""


@dataclass
class RuleMeta:
    """What reporters need to know about a rule (SARIF ``reportingDescriptor``, docs)."""

    code: str
    name: str
    summary: str
    doc: str
    default: bool = True  # False: opt-in, runs only when its full code is selected
    security: bool = False
    security_severity: Optional[float] = None
    precision: str = "high"  # SARIF properties.precision: very-high|high|medium|low
    level: str = "warning"  # SARIF defaultConfiguration.level
    tags: Tuple[str, ...] = ()
    fixable: bool = False
    project_level: bool = False  # a project-wide check (CLI only, not flake8)
    extra: dict = field(default_factory=dict)


@dataclass
class ProjectResult:
    """Everything one project root produced in a run."""

    root: str  # absolute project root
    vcs_root: str  # absolute VCS root (== root when there is no VCS)
    findings: list = field(default_factory=list)  # Finding, sorted, fingerprinted
    notices: list = field(default_factory=list)  # Notice
    baselined: int = 0  # findings hidden because the baseline holds them
    baseline_gone: int = 0  # baseline entries no longer found
    below_confidence: int = 0  # findings below the confidence threshold (``--confidence medium`` shows them)
    automation_id: str = ""  # SARIF automationDetails.id, e.g. "mandu-lint/examples/crud_app/"


@dataclass
class RunResult:
    projects: list  # ProjectResult
    rules: dict  # code -> RuleMeta, every rule enabled in the run
    cwd: str
    version: str

    @property
    def findings(self):
        return [f for p in self.projects for f in p.findings]

    @property
    def notices(self):
        return [n for p in self.projects for n in p.notices]

    @property
    def had_error(self) -> bool:
        return any(n.error for n in self.notices)


@dataclass(frozen=True)
class RuleSpec:
    """What the catalogue knows about a rule without importing it: enough to select it, list
    it and decide whether it has anything to do. ``target`` is ``"module:Class"`` inside the
    family package; the class is imported only when the rule runs."""

    code: str
    name: str
    target: str
    default: bool = True


@dataclass(frozen=True)
class FamilySpec:
    """A rule family as declared by ``mandu_lint/rules/<family>/__init__.py``.

    ``active(settings)`` says whether the family's rules can report anything under a
    configuration (the tenant rules need ``tenant.models``); when it answers False the rules are
    neither imported nor run. ``proposer`` is ``"module:function"`` for ``mandu-lint init``;
    ``describe`` is ``"module:function"`` giving ``--show-settings`` lines about what the family
    detected in a project (``function(project) -> list[str]``)."""

    name: str
    package: str
    rules: Tuple[RuleSpec, ...]
    proposer: Optional[str] = None
    active: Optional[object] = None  # Callable[[Settings], bool]; None = always
    describe: Optional[str] = None


CONFIDENCES = ("high", "medium")


def capped(confidence: str, precision: str) -> str:
    """A finding is never more confident than its rule's measured precision allows."""
    return "medium" if precision in ("medium", "low") else confidence


def shown(finding: "Finding", threshold: str) -> bool:
    """Is ``finding`` reported at this confidence threshold (``high`` or ``medium``)?"""
    return threshold == "medium" or finding.confidence == "high"
