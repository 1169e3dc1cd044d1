"""The option registry: every configurable key of ``mandu.yaml`` is declared here or by the
module that uses it (a rule, a proposer), and the validator in ``config.py`` is built from it.

A later issue adds keys by calling :func:`declare` in its own module; nothing in
``config.py`` changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

# Value kinds understood by the validator.
KINDS = (
    "str",  # a string
    "bool",
    "int",  # a non-negative integer
    "path",  # a string, a path relative to the project root
    "str-list",  # a list of strings (a lone string is an error)
    "glob-list",  # a list of gitignore-style globs
    "code-list",  # a list of rule codes or code prefixes (MDB, MDB3, MDB301)
    "glob-codes",  # a mapping {glob: [codes]}
    "model-list",  # a list of model identifiers (resolved against the index later)
    "auto-or-model-list",  # the string "auto" or a list of model identifiers
)


@dataclass(frozen=True)
class Option:
    section: str  # "" for top-level keys
    key: str  # kebab-case
    kind: str
    default: Any
    doc: str
    choices: Optional[Tuple[str, ...]] = None

    @property
    def attr(self) -> str:
        return self.key.replace("-", "_")


_REGISTRY: Dict[Tuple[str, str], Option] = {}


def declare(section: str, key: str, kind: str, default: Any, doc: str, choices=None) -> Option:
    if kind not in KINDS:
        raise ValueError(f"unknown option kind {kind!r}")
    opt = Option(section, key, kind, default, doc, tuple(choices) if choices else None)
    _REGISTRY[(section, key)] = opt
    return opt


def registry() -> Dict[Tuple[str, str], Option]:
    return dict(_REGISTRY)


def sections() -> Tuple[str, ...]:
    return tuple(sorted({s for s, _ in _REGISTRY if s}))


# --- core keys (the foundation issue) -------------------------------------------------------
declare("", "src", "str-list", None, "Source roots for import resolution (auto-detected when unset).")
declare("", "exclude", "glob-list", [], "Paths never read, on top of VCS-ignored, hidden and build folders.")
declare(
    "",
    "non-app",
    "glob-list",
    None,
    "Read for the index, excluded from application rules (default: tests, migrations, fixtures); "
    "replaces the defaults - use `extend-non-app` to add to them.",
)
declare("", "extend-non-app", "glob-list", [], "Globs added to the non-app ones (the defaults, or `non-app`).")
declare("", "select", "code-list", None, "Rules to run (codes or prefixes); default: every default rule.")
declare("", "extend-select", "code-list", [], "Rules added to `select`; names opt-in rules by full code.")
declare("", "ignore", "code-list", [], "Rules not to report (codes or prefixes).")
declare("", "per-file-ignores", "glob-codes", {}, "{glob: [codes]} ignored in matching files.")
declare("", "baseline", "path", None, "A baseline file; only findings not in it are reported.")
declare("", "confidence", "str", None, "Lowest confidence reported: `high` (default) or `medium`.",
        choices=("high", "medium"))
declare("", "require-noqa-reason", "bool", False,
        "Every `# noqa: MDB...` must give a reason (`# noqa: MDB401 -- why`); one without is MDB003.")
