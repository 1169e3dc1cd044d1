"""The fix engine behind ``mandu-lint fix``: apply findings' fixes, never make things worse.

A fix is trusted only as far as the checker can confirm it. Each pass splices every chosen,
non-overlapping edit in one libcst pass (:func:`mandu_lint.fixes.splice.splice`), then checks
the file again: the result must parse, each fixed finding must be gone, and no finding may
appear that was not there before. When a batch breaks a rule, the fixes are retried one at a
time and the offenders are dropped. Passes repeat (spans move) until nothing more applies.

libcst is heavy, so it is imported only inside functions here: a check run never loads it.
"""
from __future__ import annotations

import ast
import difflib
import io
import os
import re
import sys
import tempfile
import tokenize
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ..model import Finding, FixSafety

MAX_PASSES = 10
Check = Callable[[str], Optional[List[Finding]]]  # findings of a candidate source; None: unusable
Layout = Callable[[str, str], str]  # (source before, fixed source) -> the fixed source tidied


def eligible(f: Finding, unsafe: bool) -> bool:
    """Safe fixes always, unsafe ones on request, ``display`` fixes never."""
    if f.fix is None or not f.fix.edits:
        return False
    return f.fix.safety == FixSafety.SAFE or (unsafe and f.fix.safety == FixSafety.UNSAFE)


def apply_fixes(source: str, findings: Sequence[Finding], *, unsafe: bool, check: Optional[Check] = None,
                encoding: str = "utf-8", layout: Optional[Layout] = None) -> Tuple[str, List[Finding], List[Finding]]:
    """(new source, applied, skipped) for the fixes of ``findings`` that ``unsafe`` allows.

    With ``check`` (the file's findings for a candidate source) the engine runs passes and
    enforces its guarantees; ``findings`` then only says *which* findings may be fixed (a
    finding the check reports but ``findings`` lacks, e.g. a baselined one, is left alone).
    Without it: one pass over ``findings``' spans, each fix kept only if the result parses.
    ``layout(old, new)`` tidies each candidate (imports placed, long lines re-wrapped) before
    it is checked.
    """
    want = [f for f in findings if eligible(f, unsafe)]
    if not want:
        return source, [], []
    if check is None:
        new, applied = _one_pass(source, want, encoding, layout)
    else:
        new, applied = _passes(source, findings, unsafe, check, encoding, layout)
    left = Counter(_key(f) for f in applied)
    skipped = []
    for f in want:
        if left[_key(f)] > 0:
            left[_key(f)] -= 1
        else:
            skipped.append(f)
    return new, applied, skipped


def _key(f: Finding) -> tuple:
    """A finding's fingerprint without its occurrence index: the multiset of keys is the
    multiset of fingerprints, but a key does not change when an earlier twin is fixed."""
    return (f.code, f.scope, f.node_text)


def _splice(source: str, batch: Sequence[Finding], layout: Optional[Layout] = None):
    from .splice import splice

    new, used = splice(source, batch)
    if layout is not None and used and new != source:
        new = layout(source, new)
    return new, used


def valid(source: str, encoding: str) -> bool:
    """Parses, and can be written back in the file's encoding."""
    try:
        compile(source, "<fix>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        source.encode(encoding)
    except (SyntaxError, ValueError, UnicodeEncodeError, LookupError):
        return False
    return True


def _one_pass(source: str, want: Sequence[Finding], encoding: str,
              layout: Optional[Layout] = None) -> Tuple[str, List[Finding]]:
    batch = non_overlapping(want)
    new, used = _splice(source, batch, layout)
    if used and not valid(new, encoding):
        batch = [f for f in used if valid(_splice(source, [f], layout)[0], encoding)]
        new, used = _splice(source, batch, layout)
    return (new, used) if valid(new, encoding) else (source, [])


def _edit_range(f: Finding) -> Tuple[tuple, tuple]:
    spans = [e.span for e in f.fix.edits]
    return (min((s.line, s.col) for s in spans), max((s.end_line, s.end_col) for s in spans))


def _overlaps(a, b) -> bool:
    return (a.line, a.col) < (b.end_line, b.end_col) and (b.line, b.col) < (a.end_line, a.end_col)


def non_overlapping(findings: Sequence[Finding]) -> List[Finding]:
    """Greedy by position (an enclosing edit before the edits inside it); a finding whose own
    edits overlap is never usable, one overlapping a chosen edit waits for the next pass."""
    chosen: List[Finding] = []
    taken: list = []
    for f in sorted(findings, key=lambda f: (_edit_range(f)[0], tuple(-x for x in _edit_range(f)[1]))):
        spans = [e.span for e in f.fix.edits]
        if any(_overlaps(a, b) for i, a in enumerate(spans) for b in spans[i + 1:]):
            continue
        if not any(_overlaps(a, b) for a in spans for b in taken):
            chosen.append(f)
            taken.extend(spans)
    return chosen


def introduces(before: Sequence[Finding], after: Sequence[Finding], used: Sequence[Finding]) -> bool:
    """True when the fixes of ``used`` left a fixed finding in place or created a finding.

    A fix that edits inside another finding's node changes that finding's text (so its
    fingerprint); such a finding is paired with one of the same code and scope that vanished
    without being fixed, and is not new."""
    b, a, fixed = Counter(map(_key, before)), Counter(map(_key, after)), Counter(map(_key, used))
    gone, appeared = b - a, a - b
    if fixed - gone:
        return True
    changed = Counter((k[0], k[1]) for k in (gone - fixed).elements())
    for code, scope, _ in appeared.elements():
        if changed[(code, scope)] <= 0:
            return True
        changed[(code, scope)] -= 1
    return False


@dataclass
class _State:
    source: str
    before: List[Finding]
    blocked: set  # fingerprints reported by the check that the caller did not offer
    rejected: set = field(default_factory=set)
    applied: List[Finding] = field(default_factory=list)
    single: bool = False  # after a batch failed: one fix per step
    passes: int = 0  # batch passes so far


def _passes(source: str, findings: Sequence[Finding], unsafe: bool, check: Check,
            encoding: str, layout: Optional[Layout] = None) -> Tuple[str, List[Finding]]:
    before = check(source)
    if before is None:
        return source, []
    st = _State(source, before, {f.fingerprint for f in before} - {f.fingerprint for f in findings})
    for _ in range(MAX_PASSES + len(before)):  # each step applies or rejects at least one fix
        todo = [f for f in st.before if eligible(f, unsafe) and f.fingerprint not in st.blocked | st.rejected]
        batch = non_overlapping(todo)
        if not batch or (not st.single and st.passes == MAX_PASSES):
            break
        st.passes += not st.single
        _step(st, batch[:1] if st.single else batch, check, encoding, layout)
    return st.source, st.applied


def _step(st: _State, batch: List[Finding], check: Check, encoding: str, layout: Optional[Layout] = None) -> None:
    """Apply ``batch`` if the result keeps every guarantee; otherwise reject a lone offender,
    or fall back to one fix at a time."""
    new, used = _splice(st.source, batch, layout)
    st.rejected |= {f.fingerprint for f in batch if not any(u is f for u in used)}  # never locatable
    after = check(new) if used and valid(new, encoding) else None
    if after is not None and not introduces(st.before, after, used):
        st.source, st.before = new, after
        st.applied.extend(used)
    elif len(used) == 1:
        st.rejected.add(used[0].fingerprint)
    elif used:
        st.single = True


# -- files -------------------------------------------------------------------------------------
def read_source(path: str) -> Tuple[str, str]:
    """(text, encoding) per PEP 263; the text keeps its newlines as they are on disk."""
    from ..core.source import decode

    with open(path, "rb") as fh:
        data = fh.read()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return decode(data), encoding


def write_atomic(path: str, text: str, encoding: str) -> None:
    """Write through a temporary file in the same folder, keeping the file's mode: a crash
    leaves the old file or the new one, never half of one. ``utf-8-sig`` restores a BOM."""
    data = text.encode(encoding)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".mandu-fix-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def make_check(project, rel: str, sel, encoding: str) -> Check:
    """Re-check ``rel`` as if it held a candidate source (the project's view of the file is
    overridden, so rules see the candidate's facts too). A rule crash makes it unusable."""
    import dataclasses

    from ..diagnostics import FAILURE_CODES, NOQA_CODE
    from ..registry import select_rules
    from ..runner import check_file

    # Every rule judges the candidate, not only the selected ones, at every confidence: a fix
    # that silences its finding by creating another defect (an MDB401 wrap that pulls an email
    # into a transaction, which MDB403 forbids) is rejected.
    every = select_rules(None, [r.code for r in sel.rules], [], project.settings)
    wide = dataclasses.replace(sel, rules=every, codes=tuple(r.code for r in every))

    def check(source: str) -> Optional[List[Finding]]:
        project.set_override(rel, source.encode(encoding))
        findings, notices = check_file(project, rel, wide)
        if any(n.error for n in notices) or any(f.code in FAILURE_CODES for f in findings):
            return None
        return [f for f in findings if f.code != NOQA_CODE]  # a noqa a fix made unused is no regression

    return check


def fix_in_project(project, sel, path: str, source: str, findings: Sequence[Finding], *, unsafe: bool,
                   encoding: str) -> Tuple[str, List[Finding], List[Finding]]:
    """Fix one file of a loaded project; afterwards the project sees the fixed text, so the
    files fixed after it are checked against it."""
    rel = os.path.relpath(path, project.root).replace(os.sep, "/")
    project = project.unit_for(rel)  # a monorepo service's own index
    check = make_check(project, rel, sel, encoding)
    new, applied, skipped = apply_fixes(source, findings, unsafe=unsafe, check=check, encoding=encoding,
                                        layout=project_layout(project))
    project.set_override(rel, new.encode(encoding))
    return new, applied, skipped


def project_layout(project) -> Layout:
    """Imports in their isort section (the project's own top-level modules are first party)
    and lines re-wrapped at the project's line length (see layout.py)."""
    from .layout import first_party_of, line_length, tidy

    hit = getattr(project, "_layout", None)
    if hit is None:
        first = first_party_of([m for m, _ in project.modules.values()])
        limit = line_length(project.root)
        hit = project._layout = lambda old, new: tidy(old, new, first, limit)
    return hit


def unsafe_that_apply(project, sel, path: str, source: str, findings: Sequence[Finding], *,
                      encoding: str) -> int:
    """How many unsafe fixes ``fix --unsafe-fixes`` would really apply to ``source`` (those the
    re-check rejects are not counted, so "N more with --unsafe-fixes" goes away once they are
    applied). The project's view of the file is restored afterwards."""
    rel = os.path.relpath(path, project.root).replace(os.sep, "/")
    unit = project.unit_for(rel)
    try:
        _, applied, _ = apply_fixes(source, findings, unsafe=True, check=make_check(unit, rel, sel, encoding),
                                    encoding=encoding, layout=project_layout(unit))
    finally:
        unit.set_override(rel, source.encode(encoding))
    return sum(1 for f in applied if f.fix is not None and f.fix.safety == FixSafety.UNSAFE)


def fix_source(path: str, source: str, opts, *, unsafe: bool, encoding: str = "utf-8",
               projects: Optional[dict] = None) -> str:
    """``source`` of ``path`` with its fixes applied, checked within its own project (what
    the codemod command runs per file). ``projects`` keeps loaded projects between calls."""
    from ..runner import group_paths, load_project, selection

    path = os.path.abspath(path)
    (key, items), = group_paths([path], opts.config, [] if os.path.exists(path) else [path]).items()
    projects = {} if projects is None else projects
    if key not in projects:
        project = load_project(key.root, key.config, opts, key.how, items)
        projects[key] = (project, selection(project.settings, opts))
    project, sel = projects[key]
    rel = os.path.relpath(path, project.root).replace(os.sep, "/")
    findings = make_check(project.unit_for(rel), rel, sel, encoding)(source) or []
    return fix_in_project(project, sel, path, source, findings, unsafe=unsafe, encoding=encoding)[0]


# -- the command -------------------------------------------------------------------------------
@dataclass
class _Outcome:
    path: str
    old: str
    new: str
    encoding: str
    applied: List[Finding]
    unsafe_more: int = 0  # unsafe fixes that --unsafe-fixes would apply on top (without it)


def _fixable_by_file(result, unsafe: bool) -> Dict[str, List[Finding]]:
    """Every finding of each file that has at least one fix to apply."""
    by_file: Dict[str, List[Finding]] = {}
    for f in result.findings:
        by_file.setdefault(f.path, []).append(f)
    return {p: fs for p, fs in by_file.items() if any(eligible(f, unsafe) for f in fs)}


def _fix_files(result, projects: dict, unsafe: bool) -> Tuple[List[_Outcome], List[str]]:
    """Fix file by file; a file that fails (unreadable, a libcst crash) is an error, and
    the other files are still fixed."""
    outcomes, errors = [], []
    by_file = _fixable_by_file(result, True)  # unsafe ones too: only a trial says which would apply
    for pr in result.projects:
        project, sel = projects[pr.root]
        for path in sorted({f.path for f in pr.findings} & set(by_file)):
            findings = by_file[path]
            try:
                source, encoding = read_source(path)
                new, applied = source, []
                if any(eligible(f, unsafe) for f in findings):
                    new, applied, _ = fix_in_project(project, sel, path, source, findings, unsafe=unsafe,
                                                     encoding=encoding)
                more = 0
                if not unsafe and any(eligible(f, True) and not eligible(f, False) for f in findings):
                    more = unsafe_that_apply(project, sel, path, new, findings, encoding=encoding)
            except Exception as exc:  # noqa: BLE001 - reported, exit 2; MANDU_DEBUG shows the trace
                if os.environ.get("MANDU_DEBUG"):
                    raise
                errors.append(f"{_rel(path)}: cannot fix: {type(exc).__name__}: {exc}")
                continue
            outcomes.append(_Outcome(path, source, new, encoding, applied, more))
    return outcomes, errors


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def unified_diff(old: str, new: str, rel: str) -> str:
    """git-style: ``a/``/``b/`` prefixes, and the marker for a last line without a newline."""
    out = []
    for line in difflib.unified_diff(_LINE.findall(old), _LINE.findall(new), f"a/{rel}", f"b/{rel}"):
        out.append(line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _rel(path: str) -> str:
    try:
        return os.path.relpath(path).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return path


def _emit(outcomes: List[_Outcome], diff: bool, out) -> Tuple[bool, List[str]]:
    """Print the diff or write the files. (anything changed, write errors)."""
    changed, errors = False, []
    for o in outcomes:
        if o.new == o.old:
            continue
        changed = True
        if diff:
            out.write(unified_diff(o.old, o.new, _rel(o.path)))
            continue
        if not valid(o.new, o.encoding):  # apply_fixes never returns this; never write it anyway
            errors.append(f"{_rel(o.path)}: fixed source does not parse; not written")
        else:
            try:
                write_atomic(o.path, o.new, o.encoding)
                continue
            except OSError as exc:
                errors.append(f"{_rel(o.path)}: cannot write: {exc}")
        o.applied = []  # not written: nothing was fixed
    return changed, errors


def summary(result, outcomes: List[_Outcome], unsafe: bool, diff: bool) -> str:
    """"Fixed N findings in M files; K remain (U fixable with --unsafe-fixes)"; the part in
    parentheses only when U > 0, and "Would fix"/"would remain" for a diff."""
    applied = [f for o in outcomes for f in o.applied]
    files = sum(1 for o in outcomes if o.applied)
    remain = max(len(result.findings) - len(applied), 0)
    more = 0 if unsafe else sum(o.unsafe_more for o in outcomes)  # only fixes a trial run could apply
    verb, rest = ("Would fix", "would remain") if diff else ("Fixed", "remain")
    text = f"{verb} {len(applied)} finding{'s' * (len(applied) != 1)} in {files} file{'s' * (files != 1)}; " \
           f"{remain} {rest}"
    return text + (f" ({more} fixable with --unsafe-fixes)" if more else "")


def fix_paths(paths: Sequence[str], opts, *, unsafe: bool, diff: bool, out=None, show_fixes: bool = False,
              quiet: bool = False, exit_non_zero_on_fix: bool = False) -> int:
    """``mandu-lint fix``: 0 nothing left, 1 findings remain (or, with ``diff``, there is a
    diff; or, with ``exit_non_zero_on_fix``, something was fixed), 2 an error notice in the run
    or a file that could not be written. With ``diff`` the summary goes to stderr so that
    stdout is a patch. ``show_fixes`` lists the fixes applied; ``quiet`` prints errors only."""
    from ..reporters.text import format_notice
    from ..runner import check_paths, run_failed

    out = sys.stdout if out is None else out
    projects: dict = {}
    result = check_paths(paths, opts, projects_out=projects)
    outcomes, errors = _fix_files(result, projects, unsafe)
    changed, write_errors = _emit(outcomes, diff, out)
    errors += write_errors
    for n in result.notices:
        if n.error or not quiet:
            print(format_notice(n, result.cwd), file=sys.stderr)
    for e in errors:
        print(f"mandu-lint: {e}", file=sys.stderr)
    applied = sum(len(o.applied) for o in outcomes)
    remain = len(result.findings) - applied
    stream = sys.stderr if diff else out
    if show_fixes and not quiet:
        for line in fixed_lines(outcomes, diff):
            print(line, file=stream)
    if not quiet:
        print(summary(result, outcomes, unsafe, diff), file=stream)
    if run_failed(result) or errors:
        return 2
    if exit_non_zero_on_fix and applied:
        return 1
    return 1 if (diff and changed) or remain > 0 else 0


def fixed_lines(outcomes: List[_Outcome], diff: bool) -> List[str]:
    """``--show-fixes``: one line per fix applied (or that would be, with ``diff``)."""
    lines = []
    for o in outcomes:
        for f in sorted(o.applied, key=lambda f: f.sort_key):
            lines.append(f"{'would fix' if diff else 'fixed'} {_rel(o.path)}:{f.span.line}:{f.span.col + 1}: "
                         f"{f.code} {f.fix.description}")
    return lines


def fix_stdin(opts, *, unsafe: bool, out=None) -> int:
    """``--fix --stdin-filename PATH``: the source on stdin, fixed, on stdout (editors replace
    the buffer with it); 1 when findings remain, 0 when none do."""
    from ..engine import decode
    from ..runner import check_paths

    out = sys.stdout if out is None else out
    path, data = opts.stdin
    source = decode(data)
    encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    projects: dict = {}
    new = fix_source(path, source, opts, unsafe=unsafe, encoding=encoding, projects=projects)
    out.write(new)
    opts.stdin = (path, new.encode(encoding))
    left = check_paths([path], opts).findings
    return 1 if left else 0
