"""``mandu-lint`` / ``mandu``: check, fix, rules, explain, init, baseline.

``db:check`` is an alias of ``check`` (the plan's spelling, ``mandu db:check``). Exit codes:
0 clean, 1 findings remain, 2 usage, config or internal error or a file not checked (``--exit-zero``
never hides 2), 130 interrupted (Ctrl-C), 141 stdout closed early (``| head``).
Nothing under analysis is imported or executed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from . import __version__
from .reporters import FORMATS

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141  # 128 + SIGINT, 128 + SIGPIPE
ALIASES = {"db:check": "check"}


def _codes(value: str) -> List[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


MAX_JOBS = 512


def _globs(value: str) -> List[str]:
    from .globs import pattern_error

    out = [g.strip() for g in value.split(",") if g.strip()]
    for g in out:
        error = pattern_error(g)
        if error:
            raise argparse.ArgumentTypeError(f"invalid glob {g!r}: {error}")
    return out


def per_file_ignores(values: Sequence[str]) -> dict:
    """flake8's ``--per-file-ignores`` syntax: whitespace-separated ``glob:CODES`` entries,
    codes separated by commas (a code list may continue after a comma and a space)."""
    import re

    from .globs import pattern_error
    from .runner import UsageError

    out: dict = {}
    text = " ".join(values)
    for m in re.finditer(r"(\S+?):\s*([A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*)", text):
        glob, codes = m.group(1), _codes(m.group(2))
        error = pattern_error(glob)
        if error:
            raise UsageError(f"--per-file-ignores: invalid glob {glob!r}: {error}")
        out.setdefault(glob, []).extend(codes)
    leftover = re.sub(r"(\S+?):\s*([A-Za-z0-9]+(?:\s*,\s*[A-Za-z0-9]+)*)", "", text).strip()
    if leftover:
        raise UsageError(f"--per-file-ignores: expected GLOB:CODES entries, cannot read {leftover!r}")
    return out


def _jobs(value: str) -> int:
    """``--jobs``: ``auto`` (or 0) for the core count, else 1 to MAX_JOBS."""
    if value.strip().lower() == "auto":
        return 0
    try:
        n = int(value)
    except ValueError:
        n = -1
    if not 0 <= n <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of processes from 1 to {MAX_JOBS} "
                                         f"(0 = auto), got {value!r}")
    return n


def validate_selectors(args) -> None:
    """Unknown codes or prefixes in --select/--extend-select/--ignore are errors (exit 2), each
    with a "did you mean"; a typo would otherwise select nothing and pass."""
    from .diagnostics import known_codes, selector_problem
    from .runner import UsageError

    known = known_codes()
    problems = []
    for flag in ("select", "extend_select", "ignore"):
        for entry in getattr(args, flag, None) or []:
            why = selector_problem(entry, ignore=flag == "ignore", known=known)
            if why:
                problems.append(f"--{flag.replace('_', '-')} {entry}: {why}")
    for glob, codes in per_file_ignores(getattr(args, "per_file_ignores", None) or []).items():
        for entry in codes:
            why = selector_problem(entry, ignore=True, known=known)
            if why:
                problems.append(f"--per-file-ignores {glob}:{entry}: {why}")
    if problems:
        raise UsageError("\n".join(problems))


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--select", type=_codes, help="rules to run (codes or prefixes), replacing the config's select")
    p.add_argument("--extend-select", type=_codes, default=[], help="rules to add; opt-in rules need full codes")
    p.add_argument("--ignore", type=_codes, default=[], help="rules not to report (codes or prefixes)")
    p.add_argument("--config", type=Path, help="use this config file for every path, wherever it lives "
                   "(the project root stays the path's VCS root, else the current folder)")
    p.add_argument("--confidence", choices=["high", "medium"], default=None,
                   help="lowest confidence reported (and fixed): high (default, or the config's `confidence`, or "
                        "$MANDU_LINT_CONFIDENCE) or medium")
    p.add_argument("--extend-exclude", type=_globs, action="extend", default=[], metavar="GLOBS",
                   help="globs never read, added to the config's exclude (comma-separated, repeatable)")
    p.add_argument("--per-file-ignores", action="append", default=[], metavar="GLOB:CODES",
                   help="codes ignored in matching files, flake8's syntax: 'scripts/*.py:MDB3,MDB4 "
                        "tests/**:MDB1' (repeatable; added to the config's)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write .mandu_cache/")
    p.add_argument("--jobs", "-j", type=_jobs, default=0, metavar="N",
                   help=f"worker processes, 1 to {MAX_JOBS} (default: auto, the core count)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mandu-lint", description="Static analysis of database use in "
                                     "Python web apps (Django, SQLAlchemy, DB-API).")
    parser.add_argument("--version", action="version", version=f"mandu-lint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser("check", help="report findings (alias: db:check)")
    check.add_argument("paths", nargs="*", default=["."])
    check.add_argument("--output-format", "--format", dest="format", choices=FORMATS, default="text",
                       help="text (default), json, sarif, github (workflow annotations), gitlab (code quality), "
                            "junit, pylint")
    check.add_argument("-o", "--output", type=Path, help="write the report to this file")
    check.add_argument("--baseline", type=Path, help="report only findings not in this baseline")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    check.add_argument("--statistics", action="store_true", help="count findings per rule")
    check.add_argument("--sarif-fixes", action="store_true", help="include fixes in SARIF (costs a libcst pass)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes (same as `fix`)")
    check.add_argument("--unsafe-fixes", action="store_true", help="with --fix: also apply unsafe fixes")
    check.add_argument("--diff", action="store_true", help="with --fix: print a diff, write nothing")
    check.add_argument("--exit-non-zero-on-fix", action="store_true",
                       help="with --fix: exit 1 when a fix was applied, even if nothing remains")
    check.add_argument("--show-fixes", action="store_true",
                       help="print each finding's fix under it (with --fix: list the fixes applied)")
    check.add_argument("-q", "--quiet", action="store_true", help="print the findings and errors, nothing else")
    check.add_argument("--color", choices=["auto", "always", "never"], default="auto",
                       help="colour the text report (auto: on a terminal, unless NO_COLOR is set or "
                            "FORCE_COLOR forces it)")
    check.add_argument("--stdin-filename", metavar="PATH",
                       help="check the source on stdin as this file (with --fix: print the fixed source)")
    check.add_argument("--show-settings", action="store_true",
                       help="print each project's root (and why), config and settings; check nothing")
    check.add_argument("--show-files", action="store_true", help="print the files that would be checked; "
                       "check nothing")
    _add_selection(check)
    fix = sub.add_parser("fix", help="apply safe fixes (--unsafe-fixes for the rest)")
    fix.add_argument("paths", nargs="*", default=["."])
    fix.add_argument("--unsafe-fixes", action="store_true", help="also apply fixes labelled unsafe")
    fix.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    fix.add_argument("--exit-non-zero-on-fix", action="store_true",
                     help="exit 1 when a fix was applied, even if nothing remains")
    fix.add_argument("--show-fixes", action="store_true", help="list the fixes applied")
    fix.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    fix.add_argument("--stdin-filename", metavar="PATH", help="fix the source on stdin as this file and print it")
    _add_selection(fix)
    rules = sub.add_parser("rules", help="list rules and whether they are on by default")
    rules.add_argument("--format", choices=["text", "json"], default="text")
    explain = sub.add_parser("explain", help="print a rule's documentation")
    explain.add_argument("code")
    init = sub.add_parser("init", help="write a starter mandu.yaml for this project")
    init.add_argument("path", nargs="?", default=".")
    init.add_argument("--force", action="store_true", help="overwrite an existing mandu.yaml")
    init.add_argument("--diff", action="store_true", help="show the proposed config as a diff and how many "
                      "findings each proposed section would produce; write nothing")
    init.add_argument("--accept", action="append", default=[], metavar="SECTION",
                      help="write this policy section's proposal uncommented (tenant or layers; "
                      "repeatable): you confirm it, e.g. that the proposed tenant model owns the rows")
    base = sub.add_parser("baseline", help="record today's findings in a baseline file")
    base.add_argument("file", nargs="?", type=Path, help="default: the config's `baseline` path")
    base.add_argument("--paths", nargs="*", default=["."], help="what to check (default: .)")
    _add_selection(base)
    sub.add_parser("db:check", add_help=False)  # listed in help through `check`; parsed as check
    return parser


def _options(args):
    from .runner import CheckOptions

    validate_selectors(args)
    return CheckOptions(select=args.select, extend_select=args.extend_select, ignore=args.ignore,
                        config=args.config, use_cache=not args.no_cache, jobs=args.jobs,
                        baseline=getattr(args, "baseline", None) if isinstance(getattr(args, "baseline", None), Path)
                        else None,
                        progress=_progress if sys.stderr.isatty() and not getattr(args, "quiet", False) else None,
                        confidence=getattr(args, "confidence", None),
                        extend_exclude=list(args.extend_exclude),
                        per_file_ignores=per_file_ignores(args.per_file_ignores))


def use_color(choice: str, stream) -> bool:
    """``--color``: always/never win; auto colours a terminal unless NO_COLOR is set, and
    FORCE_COLOR colours anything (both as https://no-color.org and https://force-color.org say)."""
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR") not in (None, "", "0"):
        return True
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def cmd_check(args) -> int:
    from .config import ConfigError
    from .runner import check_paths

    _check_flags(args)
    if args.show_settings or args.show_files:
        from .runner import show_files, show_settings

        opts = _options(args)
        if args.show_settings:
            sys.stdout.write(show_settings(args.paths, opts))
        if args.show_files:
            sys.stdout.write(show_files(args.paths, opts))
        return EXIT_CLEAN
    if args.fix:
        return cmd_fix(args)
    opts = _options(args)
    _read_stdin(args, opts)
    try:
        result = check_paths(args.paths, opts)
    except ConfigError as exc:  # MDB001 in the report too (code scanning shows it), then exit 2
        _report(args, config_error_result(exc))
        raise
    return _report(args, result)


def _read_stdin(args, opts) -> None:
    """``--stdin-filename PATH``: the source comes from stdin (an editor's unsaved buffer)."""
    from .runner import UsageError

    name = getattr(args, "stdin_filename", None)
    if not name:
        return
    if args.paths not in ([], ["."]):
        raise UsageError("--stdin-filename checks stdin; do not name other paths")
    opts.stdin = (name, sys.stdin.buffer.read())
    args.paths = [name]


def _check_flags(args) -> None:
    """Flags that make no sense together are usage errors, never silently ignored."""
    from .runner import UsageError

    if args.fix:
        if args.sarif_fixes:
            raise UsageError("--sarif-fixes describes fixes in a SARIF report; --fix applies them (use one)")
        if args.format != "text":
            raise UsageError(f"--fix reports in text; --output-format {args.format} needs a check without --fix")
        return
    if args.exit_non_zero_on_fix:
        raise UsageError("check: --exit-non-zero-on-fix needs --fix")
    if args.diff:
        raise UsageError("check: --diff shows the fixes' diff and needs --fix (or use `mandu-lint fix --diff`)")
    if args.unsafe_fixes:
        raise UsageError("check: --unsafe-fixes needs --fix (or use `mandu-lint fix --unsafe-fixes`)")
    if args.sarif_fixes and args.format != "sarif":
        raise UsageError(f"--sarif-fixes adds fixes to SARIF output; the output format is {args.format!r} "
                         "(add --format sarif)")


def config_error_result(exc):
    """A run result holding one MDB001 finding at line 1 of each configuration file in ``exc``."""
    from .config import ConfigError, vcs_root
    from .diagnostics import CONFIG_CODE, TOOL_METAS, config_not_loaded
    from .engine import fingerprint
    from .model import ProjectResult, RunResult

    projects = []
    for path in dict.fromkeys(p.path for p in exc.problems):
        absolute = os.path.abspath(path)
        root = os.path.dirname(absolute)
        mine = ConfigError([p for p in exc.problems if p.path == path])
        found = fingerprint([config_not_loaded(absolute, mine)], os.path.basename(absolute))
        projects.append(ProjectResult(root, str(vcs_root(Path(root)) or root), found, []))
    return RunResult(projects, {CONFIG_CODE: TOOL_METAS[CONFIG_CODE]}, os.getcwd(), __version__)


def _report(args, result) -> int:
    from .reporters import render, summary_lines
    from .runner import run_failed

    fmt = args.format
    color = fmt == "text" and args.output is None and use_color(args.color, sys.stdout)
    text = render(result, fmt, color=color, sarif_fixes=getattr(args, "sarif_fixes", False),
                  show_fixes=args.show_fixes)
    if args.output is not None:
        from .runner import UsageError

        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the report to {args.output}: {exc.strerror or exc}") from None
    elif text:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    from .reporters.text import notice_lines

    quiet = args.quiet
    for line, notice in zip(notice_lines(result), sorted(result.notices, key=lambda n: (n.path, n.rule, n.message))):
        if notice.error or not quiet:  # a crashed rule, a cache that cannot be written…
            print(line, file=sys.stderr)
    stream = sys.stdout if fmt == "text" and args.output is None else sys.stderr
    if not quiet:
        for line in summary_lines(result, args.statistics, notices=False):
            print(line, file=stream)
    if run_failed(result):
        return EXIT_ERROR
    if result.findings and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def cmd_fix(args) -> int:
    from .fixes.apply import fix_paths, fix_stdin

    opts = _options(args)
    if getattr(args, "stdin_filename", None):
        _read_stdin(args, opts)
        return fix_stdin(opts, unsafe=args.unsafe_fixes, out=sys.stdout)
    return fix_paths(args.paths, opts, unsafe=args.unsafe_fixes, diff=args.diff, out=sys.stdout,
                     show_fixes=args.show_fixes, quiet=args.quiet, exit_non_zero_on_fix=args.exit_non_zero_on_fix)


def cmd_rules(args) -> int:
    import json

    from .registry import all_metas

    rows = sorted(all_metas().values(), key=lambda m: m.code)
    if args.format == "json":
        print(json.dumps([{"code": m.code, "name": m.name, "summary": m.summary, "default": m.default,
                           "always_on": bool(m.extra.get("always_on")), "fixable": m.fixable,
                           "security": m.security} for m in rows], indent=2))
        return EXIT_CLEAN
    for m in rows:
        state = "always" if m.extra.get("always_on") else "default" if m.default else "opt-in"
        fix = " (fixable)" if m.fixable else ""
        print(f"{m.code}  {m.name:<28} {state:<8} {m.summary}{fix}")
    return EXIT_CLEAN


def cmd_explain(args) -> int:
    from .registry import all_metas

    meta = all_metas().get(args.code.upper())
    if meta is None:
        print(f"mandu-lint: unknown rule {args.code!r} (see `mandu-lint rules`)", file=sys.stderr)
        return EXIT_ERROR
    state = "on by default" if meta.default else "opt-in: enable with `extend-select: [" + meta.code + "]`"
    print(f"# {meta.code} {meta.name}\n\n{meta.summary} ({state}).\n\n{meta.doc}")
    return EXIT_CLEAN


def cmd_init(args) -> int:
    from .init import run_init

    return run_init(Path(args.path), force=args.force, out=sys.stdout, diff=args.diff, accept=args.accept)


def cmd_baseline(args) -> int:
    from . import baseline
    from .runner import check_paths

    opts = _options(args)
    opts.baseline = None
    opts.use_baseline = False
    result = check_paths(args.paths, opts)
    target = args.file
    if target is None:
        configured = [p for p in _configured_baselines(result, args)]
        if not configured:
            print("mandu-lint: no baseline file given and no `baseline` key in mandu.yaml", file=sys.stderr)
            return EXIT_ERROR
        target = configured[0]
    from .runner import run_failed

    n = baseline.write(result, target)
    print(f"wrote {n} findings to {target}")
    if run_failed(result):
        print("mandu-lint: some files were not checked (MDB001/MDB002); they are not in the baseline",
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_CLEAN


def _configured_baselines(result, args):
    for p in result.projects:
        if getattr(p, "_baseline_setting", None) is not None:
            yield p._baseline_setting


COMMANDS = {"check": cmd_check, "fix": cmd_fix, "rules": cmd_rules, "explain": cmd_explain, "init": cmd_init,
            "baseline": cmd_baseline}


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .baseline import BaselineError
    from .config import ConfigError
    from .runner import UsageError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ALIASES:
        argv[0] = ALIASES[argv[0]]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if not args.command:
        parser.print_help()
        return EXIT_ERROR
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"mandu-lint: invalid configuration\n{exc}", file=sys.stderr)
        return EXIT_ERROR
    except (UsageError, BaselineError) as exc:
        print(f"mandu-lint: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mandu-lint: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise  # the reader went away (`| head`): entry() ends quietly
    except Exception as exc:  # never a traceback for users; MANDU_DEBUG=1 shows it
        if os.environ.get("MANDU_DEBUG"):
            raise
        print(f"mandu-lint {__version__}: internal error: {type(exc).__name__}: {exc}\n"
              "Please report it; rerun with MANDU_DEBUG=1 for the traceback.", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    """The console script. A closed stdout (``mandu-lint check | head``) ends the run quietly
    with 141 (128 + SIGPIPE, what a shell reports for a process killed by it), never a traceback."""
    from .project.workers import tune_gc

    tune_gc()
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


def _progress(total: int):
    """The CLI's progress bar on stderr, for runs long enough to want one."""
    from .reporters.text import Progress

    return Progress(total, sys.stderr) if total > 200 else None
