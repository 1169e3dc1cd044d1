"""Real-world validation of mandu-lint: run, sample, triage, tally (issue 11 §1).

    python bench/realworld/triage.py run APP SNAPSHOT_DIR [--config FILE] [--final-draw]
    python bench/realworld/triage.py sample [--seed N] [--cap 10] [--rejudge 0.2]
    python bench/realworld/triage.py tally            (also: triage.py --tally)
    python bench/realworld/triage.py draw
    python bench/realworld/triage.py verify           (registry and holdout.lock consistency)

The protocol is in bench/realworld/README.md. Standard library plus PyYAML only. Nothing is
fetched: ``run`` analyses a snapshot already on disk. What is stored is data only — paths
relative to the snapshot, line numbers, rule ids, the analyser's messages, verdicts and one-line
reasons — never source code (fix edits, which quote code, are dropped).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import random
import shlex
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent

VERDICTS = ("TP", "FP", "NEG")
SHEET_COLUMNS = ("app", "path", "line", "rule", "message", "verdict", "reason")
VERDICT_COLUMNS = ("app", "path", "line", "rule", "verdict", "reason", "judge")
DEFAULT_SAMPLE_SEED = 20261204
DEFAULT_CAP = 10
DEFAULT_REJUDGE = 0.2
MIN_JUDGED_PER_RULE = 15
REJUDGE_SUFFIX = ".rejudge.csv"
SKIP_DIRS = {".git", ".hg", ".svn", ".mandu_cache", "node_modules", "__pycache__", ".venv", "venv", ".tox"}

# Never registered, run, triaged or mined (kept out of every pool; netbox is a performance benchmark only).
RESERVED = {
    "saleor/saleor", "healthchecks/healthchecks", "wagtail/wagtail", "pretalx/pretalx",
    "getredash/redash", "DefectDojo/django-DefectDojo", "TandoorRecipes/recipes",
    "taigaio/taiga-back", "Netflix/dispatch", "mealie-recipes/mealie", "CTFd/CTFd",
    "netbox-community/netbox",
}
RESERVED_NAMES = {"saleor", "healthchecks", "wagtail", "pretalx", "redash", "django-defectdojo",
                  "recipes", "taiga-back", "dispatch", "mealie", "ctfd", "netbox"}

FAMILIES = {
    "0": "MDB0xx parse",
    "1": "MDB1xx tenant scope",
    "2": "MDB2xx layers and connections",
    "3": "MDB3xx queries in loops",
    "4": "MDB4xx transactions",
}


class ProtocolError(Exception):
    """The protocol forbids the requested action, or its files are inconsistent."""


# --------------------------------------------------------------------------- registry and lock
def load_registry(base: Path = HERE) -> dict:
    data = yaml.safe_load((base / "apps.yaml").read_text(encoding="utf-8"))
    apps = data["apps"]
    for name, app in apps.items():
        if app.get("pool") not in ("tune", "holdout"):
            raise ProtocolError(f"apps.yaml: {name}: pool must be tune or holdout")
        if app.get("family") not in ("django", "sqlalchemy", "dbapi"):
            raise ProtocolError(f"apps.yaml: {name}: family must be django, sqlalchemy or dbapi")
        if len(str(app.get("commit", ""))) != 40:
            raise ProtocolError(f"apps.yaml: {name}: commit must be 40 hex digits")
        if is_reserved(app["repo"]):
            raise ProtocolError(f"apps.yaml: {name}: {app['repo']} is reserved and may not be registered")
    return apps


def is_reserved(repo: str) -> bool:
    return repo in RESERVED or repo.split("/")[-1].lower() in RESERVED_NAMES


def round_of(entry: dict) -> int:
    """Holdout round of a registered app (round 1 = holdout.lock, round N = holdout-N.lock)."""
    return int(entry.get("round", 1))


def pool_name(entry: dict) -> str:
    """'tune', 'holdout' (round 1) or 'holdout-N': the pools tallied apart."""
    if entry["pool"] != "holdout" or round_of(entry) == 1:
        return entry["pool"]
    return f"holdout-{round_of(entry)}"


def lock_path(base: Path = HERE, round_: int = 1) -> Path:
    return base / ("holdout.lock" if round_ == 1 else f"holdout-{round_}.lock")


def lock_rounds(base: Path = HERE) -> list[int]:
    rounds = [1] if lock_path(base, 1).exists() else []
    for p in base.glob("holdout-*.lock"):
        tail = p.stem.split("-", 1)[1]
        if tail.isdigit():
            rounds.append(int(tail))
    return sorted(rounds)


def load_lock(base: Path = HERE, round_: int = 1) -> dict:
    lock = yaml.safe_load(lock_path(base, round_).read_text(encoding="utf-8"))
    if int(lock.get("round", 1)) != round_:
        raise ProtocolError(f"{lock_path(base, round_).name} says round {lock.get('round', 1)}")
    return lock


def pool_digest(pool: list[dict]) -> str:
    lines = sorted(f"{p['repo']}@{p['commit']}" for p in pool)
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest()


def verify_lock(lock: dict, registry: dict) -> None:
    """The lock is intact (digest) and agrees with apps.yaml on every holdout app."""
    pool = lock["pool"]
    if pool_digest(pool) != lock["pool_digest"]:
        raise ProtocolError(f"round-{lock.get('round', 1)} holdout lock: pool_digest does not match the pool "
                            "(the lock was edited)")
    in_lock = {p["name"]: p for p in pool}
    rnd = int(lock.get("round", 1))
    in_registry = {n: a for n, a in registry.items() if a["pool"] == "holdout" and round_of(a) == rnd}
    if set(in_lock) != set(in_registry):
        raise ProtocolError(
            f"round-{rnd} holdout apps differ between its lock and apps.yaml: "
            f"{sorted(set(in_lock) ^ set(in_registry))}"
        )
    for name, p in in_lock.items():
        a = in_registry[name]
        for key in ("repo", "commit", "family"):
            if p[key] != a[key]:
                raise ProtocolError(f"{name}: {key} differs between holdout.lock and apps.yaml")


# --------------------------------------------------------------------------- the final draw
def draw_rank(seed: int, repo: str) -> str:
    return hashlib.sha256(f"{seed}:{repo}".encode()).hexdigest()


def final_draw(lock: dict) -> list[str]:
    """Names of the drawn holdout apps, best rank first. Depends only on the seed, the pool's
    repos and families, the size and the per-family minimums (not on the order of the pool)."""
    d = lock["draw"]
    seed, size, mins = int(d["seed"]), int(d["size"]), dict(d.get("min_per_family") or {})
    pool = {p["name"]: p for p in lock["pool"]}
    if size > len(pool):
        raise ProtocolError(f"draw size {size} exceeds the pool ({len(pool)} apps)")
    if sum(mins.values()) > size:
        raise ProtocolError("per-family minimums exceed the draw size")
    ranked = sorted(pool, key=lambda n: (draw_rank(seed, pool[n]["repo"]), n))
    drawn = ranked[:size]

    def count(fam):
        return sum(1 for n in drawn if pool[n]["family"] == fam)

    for fam in sorted(mins):
        while count(fam) < mins[fam]:
            outgoing = [n for n in reversed(drawn)
                        if pool[n]["family"] != fam and count(pool[n]["family"]) > mins.get(pool[n]["family"], 0)]
            incoming = [n for n in ranked if n not in drawn and pool[n]["family"] == fam]
            if not outgoing or not incoming:
                raise ProtocolError(f"cannot satisfy the minimum of {mins[fam]} {fam} apps")
            drawn[drawn.index(outgoing[0])] = incoming[0]
    return sorted(drawn, key=ranked.index)


# --------------------------------------------------------------------------- run
def count_py(snapshot: Path) -> tuple[int, int]:
    """(.py files, physical lines in them) under the snapshot, skipping VCS/cache/venv folders."""
    files = lines = 0
    for root, dirs, names in os.walk(snapshot):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in names:
            if name.endswith(".py"):
                data = (Path(root) / name).read_bytes()
                files += 1
                lines += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return files, lines


def _rel(path: str, snapshot: Path) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(snapshot.resolve())
        except ValueError:
            return p.name  # outside the snapshot: keep no machine path
    s = p.as_posix()
    return s[2:] if s.startswith("./") else s


def strip_report(report: dict, snapshot: Path) -> tuple[list[dict], list[dict]]:
    """Findings and notices without any source text: fix edits (which quote code) are dropped."""
    findings = []
    for f in report.get("findings", []):
        findings.append({
            "rule": f["code"],
            "path": _rel(f["path"], snapshot),
            "line": f["line"],
            "column": f.get("column"),
            "end_line": f.get("end_line"),
            "message": f.get("message", ""),
            "fingerprint": f.get("fingerprint", ""),
            "confidence": f.get("confidence", "high"),
            "scope": f.get("scope", ""),
            "fix_safety": (f.get("fix") or {}).get("safety"),
            "related": [{"path": _rel(r["path"], snapshot), "line": r["line"], "message": r.get("message", "")}
                        for r in f.get("related", [])],
        })
    notices = [{"path": _rel(n.get("path", ""), snapshot) if n.get("path") else "",
                "message": n.get("message", ""), "error": bool(n.get("error")), "rule": n.get("rule", "")}
               for n in report.get("notices", [])]
    return findings, notices


def check_allowed(app: str, registry: dict, lock: dict | None, final_draw_flag, base: Path = HERE) -> None:
    """Raise ProtocolError unless the analyser may be run on this app now."""
    if app not in registry:
        raise ProtocolError(f"{app} is not registered in apps.yaml; register it (with its commit) first")
    entry = registry[app]
    if is_reserved(entry["repo"]):
        raise ProtocolError(f"{entry['repo']} is reserved: never run")
    if entry["pool"] == "holdout":
        if lock is None or int(lock.get("round", 1)) != round_of(entry):
            lock = load_lock(base, round_of(entry))
        verify_lock(lock, registry)
        if not final_draw_flag:
            raise ProtocolError(f"{app} is a holdout app: the analyser runs on it only for the final draw "
                                "(--final-draw)")
        # "extended": the drawn apps gave fewer findings to judge than the protocol needs, so the
        # rest of the pre-registered pool is drawn too (README: "triage all when fewer, and draw
        # more apps"); nothing outside the registered pool is ever run.
        drawn = [p["name"] for p in lock["pool"]] if final_draw_flag == "extended" else final_draw(lock)
        if app not in drawn:
            raise ProtocolError(f"{app} is a holdout app not in the final draw {drawn}: never run it")


def _snapshot_head(snapshot: Path) -> str | None:
    if not (snapshot / ".git").exists():
        return None
    out = subprocess.run(["git", "-C", str(snapshot), "rev-parse", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


# Suites: the default output, and the migrations/seeds family (issue 13), whose rules are opt-in
# and judge every migration here (a snapshot has no base branch: every migration counts as
# released, so the default `judge: unreleased` would leave MDB603-607 silent). A suite keeps its
# runs, sheets and verdicts under suites/<name>/; registry, locks and configs are shared.
SUITES = {
    "default": {"select": None, "overlay": {}},
    "migrations": {"select": "MDB601,MDB602,MDB603,MDB604,MDB605,MDB606,MDB607,MDB609,MDB610",
                   "overlay": {"migrations": {"judge": "all"}}},
    # the tenant rules with the tenant `init` proposes, accepted as a user would
    # (`mandu-lint init --accept tenant`; the config is passed with --config)
    "tenant": {"select": "MDB101,MDB102,MDB103,MDB104", "overlay": {}},
}


def suite_dir(base: Path, suite: str) -> Path:
    if suite not in SUITES:
        raise ProtocolError(f"unknown suite {suite!r}; known: {sorted(SUITES)}")
    return base if suite == "default" else base / "suites" / suite


def run_app(app: str, snapshot: Path, *, config: Path | None = None, final_draw_flag: bool = False,
            base: Path = HERE, mandu_cmd: list[str] | None = None, suite: str = "default") -> Path:
    registry = load_registry(base)
    check_allowed(app, registry, None, final_draw_flag, base)
    entry = registry[app]
    snapshot = snapshot.resolve()
    if not snapshot.is_dir():
        raise ProtocolError(f"{snapshot} is not a directory")
    head = _snapshot_head(snapshot)
    if head is not None and head != entry["commit"]:
        raise ProtocolError(f"snapshot is at {head}, apps.yaml pins {entry['commit']}")
    if config is None and (base / "configs" / f"{app}.yaml").exists():
        config = base / "configs" / f"{app}.yaml"
    cmd = list(mandu_cmd or [sys.executable, "-m", "mandu_lint"])
    # every finding is stored with its confidence; ``sample``/``tally`` pick the level to judge
    cmd += ["check", "--format", "json", "--exit-zero", "--no-cache", "--confidence", "medium"]
    spec = SUITES[suite]
    data = suite_dir(base, suite)
    if spec["select"]:
        cmd += ["--select", spec["select"]]
    config_file = config
    if spec["overlay"]:
        merged = yaml.safe_load(Path(config).read_text(encoding="utf-8")) if config is not None else {}
        for section, values in spec["overlay"].items():
            merged.setdefault(section, {}).update(values)
        config_file = data / "configs" / f"{app}.yaml"
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    if config_file is not None:
        cmd += ["--config", str(Path(config_file).resolve())]
    cmd.append(".")
    py_files, py_lines = count_py(snapshot)
    out = subprocess.run(cmd, cwd=snapshot, capture_output=True, text=True)
    # exit 2 with a JSON report = files not checked (MDB001/MDB002), listed in the report: keep it
    try:
        report = json.loads(out.stdout) if out.returncode in (0, 2) else None
    except json.JSONDecodeError:
        report = None
    if report is None:
        raise ProtocolError(f"mandu-lint exited {out.returncode}: {out.stderr.strip()[-2000:]}")
    findings, notices = strip_report(report, snapshot)
    record = {
        "app": app,
        "repo": entry["repo"],
        "commit": entry["commit"],
        "commit_verified": head is not None,
        "pool": pool_name(entry),
        "family": entry["family"],
        "final_draw": final_draw_flag if final_draw_flag == "extended" else bool(final_draw_flag),
        "tool": report.get("tool", {}),
        "suite": suite,
        "config": None if config_file is None else {
            "name": Path(config_file).name,
            "sha256": hashlib.sha256(Path(config_file).read_bytes()).hexdigest(),
        },
        "ran_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "py_files": py_files,
        "py_lines": py_lines,
        "summary": report.get("summary", {}),
        "findings": findings,
        "notices": notices,
    }
    dest = data / "runs" / f"{app}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return dest


# --------------------------------------------------------------------------- sample
def load_runs(base: Path = HERE) -> dict[str, dict]:
    runs = {}
    for p in sorted((base / "runs").glob("*.json")):
        rec = json.loads(p.read_text(encoding="utf-8"))
        runs[rec["app"]] = rec
    return runs


def _finding_key(f: dict) -> tuple:
    return (f["path"], int(f["line"]), f.get("column") or 0, f["rule"], f.get("message", ""))


def sample_findings(runs: dict[str, dict], seed: int = DEFAULT_SAMPLE_SEED,
                    cap: int = DEFAULT_CAP) -> dict[str, list[dict]]:
    """Stratified by (app, rule): every finding when a stratum has at most ``cap``, else ``cap``
    of them drawn without replacement. Each stratum has its own RNG seeded by (seed, app, rule),
    so adding an app or a rule never changes another stratum's sample. A verdict is stored per
    (app, path, line, rule), so two findings of one rule on one line (two relations read on it)
    are one item: the first of them, in key order, stands for the line."""
    out = {}
    for app in sorted(runs):
        by_rule = defaultdict(dict)
        for f in sorted(runs[app]["findings"], key=_finding_key):
            by_rule[f["rule"]].setdefault((f["path"], int(f["line"])), f)
        rows = []
        for rule in sorted(by_rule):
            items = list(by_rule[rule].values())  # in key order: filled from the sorted findings
            if len(items) > cap:
                items = random.Random(f"{seed}:{app}:{rule}").sample(items, cap)
            rows += [{"app": app, "path": f["path"], "line": int(f["line"]), "rule": rule,
                      "message": f.get("message", ""), "verdict": "", "reason": ""} for f in items]
        rows.sort(key=lambda r: (r["path"], r["line"], r["rule"], r["message"]))
        out[app] = rows
    return out


def rejudge_subset(rows: list[dict], seed: int = DEFAULT_SAMPLE_SEED, fraction: float = DEFAULT_REJUDGE) -> list[dict]:
    """ceil(fraction * n) rows of one app's sheet for an independent second judge."""
    if not rows:
        return []
    k = math.ceil(fraction * len(rows))
    picked = random.Random(f"{seed}:rejudge:{rows[0]['app']}").sample(range(len(rows)), k)
    return [dict(rows[i]) for i in sorted(picked)]


def write_sheet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=SHEET_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in SHEET_COLUMNS} | {"verdict": "", "reason": ""})


def write_sheets(base: Path = HERE, seed: int = DEFAULT_SAMPLE_SEED, cap: int = DEFAULT_CAP,
                 fraction: float = DEFAULT_REJUDGE, level: str | None = "high") -> dict[str, tuple[int, int]]:
    """Sheets of the findings of one confidence level (``high`` = the default output); tool
    codes (MDB000-MDB003: files not parsed or not checked, noqa comments) are not judged."""
    runs = at_level(load_runs(base), level)
    runs = {a: dict(r, findings=[f for f in r["findings"] if not f["rule"].startswith("MDB00")])
            for a, r in runs.items()}
    sampled = sample_findings(runs, seed, cap)
    sizes = {}
    for app, rows in sampled.items():
        sub = rejudge_subset(rows, seed, fraction)
        write_sheet(base / "sheets" / f"{app}.csv", rows)
        write_sheet(base / "sheets" / f"{app}{REJUDGE_SUFFIX}", sub)
        sizes[app] = (len(rows), len(sub))
    return sizes


# --------------------------------------------------------------------------- tally
def item_key(row: dict) -> tuple:
    return (row["app"], row["path"], int(row["line"]), row["rule"])


def load_verdicts(base: Path = HERE) -> tuple[list[dict], list[dict]]:
    """(first-judge rows, second-judge rows). Second-judge files end in ``.rejudge.csv``."""
    first, second = [], []
    for p in sorted((base / "verdicts").glob("*.csv")):
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = set(VERDICT_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ProtocolError(f"{p.name}: missing columns {sorted(missing)}")
            for n, row in enumerate(reader, start=2):
                row = {k: (row.get(k) or "").strip() for k in VERDICT_COLUMNS}
                if row["verdict"] not in VERDICTS:
                    raise ProtocolError(f"{p.name}:{n}: verdict must be one of {VERDICTS}, got {row['verdict']!r}")
                if "\n" in row["reason"] or "\r" in row["reason"]:
                    raise ProtocolError(f"{p.name}:{n}: reasons are one line")
                if not row["judge"]:
                    raise ProtocolError(f"{p.name}:{n}: judge is empty")
                row["line"] = int(row["line"])
                row["sheet_level"] = "medium" if ".medium." in p.name else "high"
                (second if p.name.endswith(REJUDGE_SUFFIX) else first).append(row)
    return first, second


def cohen_kappa(pairs: list[tuple[str, str]]) -> tuple[float | None, float | None]:
    """(kappa, raw agreement) for two raters' labels on the same items."""
    n = len(pairs)
    if n == 0:
        return None, None
    po = sum(1 for a, b in pairs if a == b) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if pe == 1:
        return (1.0 if po == 1 else 0.0), po
    return (po - pe) / (1 - pe), po


def family_of(rule: str) -> str:
    return FAMILIES.get(rule[3:4], f"{rule[:4]}xx")


def _prec(c: Counter) -> dict:
    n = c["TP"] + c["FP"] + c["NEG"]
    return {
        "n": n, "TP": c["TP"], "FP": c["FP"], "NEG": c["NEG"],
        "precision": c["TP"] / n if n else None,              # headline: NEG counts as false
        "precision_incl_neg": (c["TP"] + c["NEG"]) / n if n else None,
        "neg_rate": c["NEG"] / n if n else None,
    }


def at_level(runs: dict[str, dict], level: str | None) -> dict[str, dict]:
    """The runs with only the findings of one confidence level (None: all of them)."""
    if level is None:
        return runs
    return {a: dict(r, findings=[f for f in r["findings"] if f.get("confidence", "high") == level])
            for a, r in runs.items()}


def keys_of(runs: dict[str, dict]) -> set:
    return {(a, f["path"], int(f["line"]), f["rule"]) for a, r in runs.items() for f in r["findings"]}


def compute_tally(runs: dict[str, dict], first: list[dict], second: list[dict], registry: dict | None = None,
                  min_n: int = MIN_JUDGED_PER_RULE, level: str | None = None) -> dict:
    """Precision per rule and pool. With ``level`` ("high" = the default output, "medium"),
    only findings of that confidence and the verdicts on them count."""
    if level is not None:
        runs = at_level(runs, level)
        current = keys_of(runs)
        first = [row for row in first if item_key(row) in current]
        second = [row for row in second if item_key(row) in current]

    def pool_of(app):
        if registry and app in registry:
            return pool_name(registry[app])
        if app in runs:
            return runs[app]["pool"]
        raise ProtocolError(f"verdicts for {app}, which is neither registered nor run")

    # One finding per key and level: two findings of one rule on one line, one high and one
    # medium, are judged once in each level's sheet; the level asked for picks its verdict.
    def dedupe(rows):
        kept = {}
        for row in rows:
            k = item_key(row)
            other = kept.get(k)
            if other is None:
                kept[k] = row
            elif other.get("sheet_level", "high") == row.get("sheet_level", "high"):
                raise ProtocolError(f"{k} has two first-judge verdicts")
            elif row.get("sheet_level") == level:
                kept[k] = row
        return list(kept.values())

    first = dedupe(first)
    seen = {item_key(row): row for row in first}

    result = {}
    pools = ["tune", "holdout"] + sorted({pool_of(a) for a in runs} - {"tune", "holdout"})
    for pool in pools:
        apps = [a for a in runs if pool_of(a) == pool]
        totals = Counter()
        for a in apps:
            totals.update(f["rule"] for f in runs[a]["findings"])
        lines = sum(int(runs[a].get("py_lines", 0)) for a in apps)
        judged = defaultdict(Counter)
        for row in first:
            if pool_of(row["app"]) == pool:
                judged[row["rule"]][row["verdict"]] += 1
        rules = {}
        for rule in sorted(set(totals) | set(judged)):
            rules[rule] = _prec(judged[rule]) | {
                "findings": totals[rule],
                "per_10k_lines": (totals[rule] * 10000 / lines) if lines else None,
            }
        families = defaultdict(lambda: {"counts": Counter(), "rules": []})
        for rule, r in rules.items():
            if 0 < r["n"] < min_n:
                fam = families[family_of(rule)]
                fam["counts"].update(judged[rule])
                fam["rules"].append((rule, r["n"]))
        pooled = {name: _prec(f["counts"]) | {"rules": f["rules"]} for name, f in sorted(families.items())}
        weighted = [(r["findings"], r["precision"], r["precision_incl_neg"]) for r in rules.values() if r["n"]]
        wsum = sum(w for w, _, _ in weighted)
        all_counts = Counter()
        for c in judged.values():
            all_counts.update(c)
        result[pool] = {
            "apps": sorted(apps),
            "py_lines": lines,
            "rules": rules,
            "pooled_small_rules": pooled,
            "weighted_precision": sum(w * p for w, p, _ in weighted) / wsum if wsum else None,
            "weighted_precision_incl_neg": sum(w * p for w, _, p in weighted) / wsum if wsum else None,
            "judged": _prec(all_counts),
            "unjudged_rules": sorted(r for r, v in rules.items() if v["findings"] and not v["n"]),
        }

    pairs = {pool: [] for pool in pools}
    for row in second:
        k = item_key(row)
        if k in seen and seen[k]["judge"] != row["judge"]:
            pairs[pool_of(row["app"])].append((seen[k]["verdict"], row["verdict"]))
    agreement = {}
    for name, ps in [*pairs.items(), ("all", [x for ps in pairs.values() for x in ps])]:
        kappa, raw = cohen_kappa(ps)
        kb, rb = cohen_kappa([(a == "TP" and "TP" or "not", b == "TP" and "TP" or "not") for a, b in ps])
        agreement[name] = {"n": len(ps), "kappa": kappa, "raw": raw, "kappa_tp_vs_rest": kb, "raw_tp_vs_rest": rb}
    result["agreement"] = agreement
    return result


def _pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def format_tally(t: dict, min_n: int = MIN_JUDGED_PER_RULE) -> str:
    out = []
    for pool in [k for k in t if k != "agreement"]:
        p = t[pool]
        out.append(f"## {pool}: {len(p['apps'])} apps, {p['py_lines']} .py lines")
        out.append("")
        out.append("| rule | findings | per 10k lines | judged | TP | FP | NEG | precision (NEG=false) | incl. NEG |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for rule, r in p["rules"].items():
            per = "-" if r["per_10k_lines"] is None else f"{r['per_10k_lines']:.2f}"
            shown = _pct(r["precision"]) if r["n"] >= min_n else f"(n<{min_n}, pooled)" if r["n"] else "-"
            incl = _pct(r["precision_incl_neg"]) if r["n"] >= min_n else ""
            out.append(f"| {rule} | {r['findings']} | {per} | {r['n']} | {r['TP']} | {r['FP']} | {r['NEG']} "
                       f"| {shown} | {incl} |")
        if p["pooled_small_rules"]:
            out.append("")
            out.append(f"Rules with fewer than {min_n} judged findings, pooled by family:")
            for fam, f in p["pooled_small_rules"].items():
                listed = ", ".join(f"{r} (n={n})" for r, n in f["rules"])
                out.append(f"- {fam}: n={f['n']}, precision {_pct(f['precision'])} "
                           f"(incl. NEG {_pct(f['precision_incl_neg'])}); {listed}")
        j = p["judged"]
        out.append("")
        out.append(f"Overall precision, weighted by each rule's finding count: {_pct(p['weighted_precision'])} "
                   f"(NEG counted false); {_pct(p['weighted_precision_incl_neg'])} counting NEG as true.")
        out.append(f"Judged: {j['n']} (TP {j['TP']}, FP {j['FP']}, NEG {j['NEG']}; NEG rate {_pct(j['neg_rate'])}).")
        if p["unjudged_rules"]:
            out.append(f"Rules with findings but no verdicts: {', '.join(p['unjudged_rules'])}.")
        out.append("")
    out.append("## agreement between first and second judges")
    out.append("")
    for name, a in t["agreement"].items():
        k = "-" if a["kappa"] is None else f"{a['kappa']:.3f}"
        kb = "-" if a["kappa_tp_vs_rest"] is None else f"{a['kappa_tp_vs_rest']:.3f}"
        flag = "" if a["kappa"] is None or a["kappa"] >= 0.6 else "  <-- below 0.6: revise the rubric"
        out.append(f"- {name}: n={a['n']}, Cohen's kappa {k} (TP/FP/NEG), raw agreement {_pct(a['raw'])}; "
                   f"TP vs rest kappa {kb}, raw {_pct(a['raw_tp_vs_rest'])}{flag}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--tally" in argv:
        argv = ["tally" if a == "--tally" else a for a in argv]
    ap = argparse.ArgumentParser(prog="triage.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, default=HERE, help=argparse.SUPPRESS)
    ap.add_argument("--suite", default="default", choices=sorted(SUITES),
                    help="default output, or the migrations/seeds rules "
                         "(runs/sheets/verdicts under suites/NAME)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run mandu-lint on a local snapshot of a registered app")
    r.add_argument("app")
    r.add_argument("snapshot", type=Path)
    r.add_argument("--config", type=Path)
    r.add_argument("--final-draw", action="store_true", help="allowed for holdout apps in the final draw only")
    r.add_argument("--extended-draw", action="store_true",
                   help="the final draw gave too few findings: run the rest of the registered holdout pool too")
    r.add_argument("--mandu", help="command that runs mandu-lint (default: this Python's -m mandu_lint)")
    s = sub.add_parser("sample", help="write triage sheets and re-judge subsets from runs/")
    s.add_argument("--seed", type=int, default=DEFAULT_SAMPLE_SEED)
    s.add_argument("--cap", type=int, default=DEFAULT_CAP)
    s.add_argument("--rejudge", type=float, default=DEFAULT_REJUDGE)
    s.add_argument("--confidence", choices=["high", "medium", "all"], default="high",
                   help="which findings to sample: the default output (high), medium ones, or all")
    t = sub.add_parser("tally", help="precision per rule from verdicts/, tune and holdout apart")
    t.add_argument("--json", action="store_true")
    t.add_argument("--confidence", choices=["high", "medium", "all"], default="high",
                   help="tally the default output (high), medium findings, or all")
    d = sub.add_parser("draw", help="print the final draw of a holdout round (default: the latest)")
    d.add_argument("--round", type=int, dest="round_")
    sub.add_parser("verify", help="check apps.yaml and every holdout lock agree")
    args = ap.parse_args(argv)
    base = args.base
    try:
        if args.cmd == "run":
            cmd = shlex.split(args.mandu) if args.mandu else None
            flag = "extended" if args.extended_draw else args.final_draw
            dest = run_app(args.app, args.snapshot, config=args.config, final_draw_flag=flag,
                           base=base, mandu_cmd=cmd, suite=args.suite)
            rec = json.loads(dest.read_text(encoding="utf-8"))
            print(f"{args.app}: {len(rec['findings'])} findings in {rec['py_lines']} .py lines -> {dest}")
        elif args.cmd == "sample":
            level = None if args.confidence == "all" else args.confidence
            sizes = write_sheets(suite_dir(base, args.suite), args.seed, args.cap, args.rejudge, level)
            for app, (n, k) in sizes.items():
                print(f"{app}: {n} sampled, {k} to re-judge")
        elif args.cmd == "tally":
            first, second = load_verdicts(suite_dir(base, args.suite))
            level = None if args.confidence == "all" else args.confidence
            runs = load_runs(suite_dir(base, args.suite))
            t = compute_tally(runs, first, second, load_registry(base), level=level)
            if args.json:
                print(json.dumps(t, indent=1))
            else:
                print(format_tally(t), end="")
        elif args.cmd == "draw":
            registry = load_registry(base)
            lock = load_lock(base, args.round_ or max(lock_rounds(base)))
            verify_lock(lock, registry)
            pool = {p["name"]: p for p in lock["pool"]}
            d = lock["draw"]
            print(f"round {lock.get('round', 1)}: seed {d['seed']}, {d['size']} of {len(pool)} apps:")
            for n in final_draw(lock):
                print(f"  {n:22} {pool[n]['family']:11} {pool[n]['repo']}@{pool[n]['commit']}")
        elif args.cmd == "verify":
            registry = load_registry(base)
            for rnd in lock_rounds(base):
                lock = load_lock(base, rnd)
                verify_lock(lock, registry)
                print(f"ok: round {rnd}: {len(lock['pool'])} apps in the holdout pool, digest matches")
            print(f"ok: {len(registry)} apps registered")
    except ProtocolError as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
