"""The real-world validation protocol's script (bench/realworld/triage.py), on synthetic data only.

Nothing here runs mandu-lint on a real app: `run` is exercised with a fake analyser command.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import math
import random
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("rw_triage", ROOT / "bench" / "realworld" / "triage.py")
triage = importlib.util.module_from_spec(_spec)
sys.modules["rw_triage"] = triage
_spec.loader.exec_module(triage)


# --------------------------------------------------------------------------- helpers
def finding(rule, path, line, **extra):
    return {"rule": rule, "path": path, "line": line, "column": 1, "message": f"{rule} at {path}:{line}", **extra}


def run_record(app, pool, rules: dict[str, int], py_lines=10000):
    findings = [finding(rule, f"{app}/m{i % 7}.py", 10 * i + 1) for rule, n in rules.items() for i in range(n)]
    return {"app": app, "pool": pool, "py_lines": py_lines, "findings": findings}


def sha(c):
    return "%040x" % c


def write_registry(base: Path, apps: dict, seed=7, size=3, mins=None):
    """apps: name -> (family, pool)."""
    reg = {}
    for i, (name, (family, pool)) in enumerate(apps.items()):
        reg[name] = {"repo": f"owner{i}/{name}", "commit": sha(i + 1), "family": family, "stack": "x",
                     "size": 1, "pool": pool, "tenancy": "none", "layers": "x"}
    (base / "apps.yaml").write_text(yaml.safe_dump({"apps": reg}))
    pool = [{"name": n, "repo": a["repo"], "commit": a["commit"], "family": a["family"]}
            for n, a in reg.items() if a["pool"] == "holdout"]
    lock = {"registered": "2026-12-04", "statement": "synthetic",
            "draw": {"seed": seed, "size": size, "min_per_family": mins or {}},
            "pool_digest": triage.pool_digest(pool), "pool": pool}
    (base / "holdout.lock").write_text(yaml.safe_dump(lock))
    return reg, lock


FAKE_MANDU = textwrap.dedent("""
    import json, os, sys
    from pathlib import Path
    Path(os.environ["RW_MARKER"]).write_text(" ".join(sys.argv[1:]))
    here = os.getcwd()
    print(json.dumps({
        "version": 1, "tool": {"name": "mandu-lint", "version": "9.9"},
        "findings": [
            {"code": "MDB301", "path": "pkg/views.py", "line": 3, "column": 5, "end_line": 3, "end_column": 9,
             "message": "query in a loop", "fingerprint": "f1", "scope": "pkg.views.f", "project_root": ".",
             "fix": {"safety": "safe", "description": "d",
                     "edits": [{"line": 3, "column": 1, "end_line": 3, "end_column": 2, "text": "SECRET_SOURCE_TEXT"}],
                     "imports": []},
             "related": [{"path": os.path.join(here, "pkg", "models.py"), "line": 1, "column": 1,
                          "end_line": 1, "end_column": 2, "message": "model"}]},
            {"code": "MDB401", "path": os.path.join(here, "pkg", "models.py"), "line": 2, "column": 1,
             "end_line": 2, "end_column": 2, "message": "two writes", "fingerprint": "f2", "scope": "",
             "project_root": ".", "fix": None, "related": []}],
        "notices": [], "summary": {"total": 2}}))
""")


@pytest.fixture
def fake_mandu(tmp_path, monkeypatch):
    script = tmp_path / "fake_mandu.py"
    script.write_text(FAKE_MANDU)
    marker = tmp_path / "marker"
    monkeypatch.setenv("RW_MARKER", str(marker))
    return [sys.executable, str(script)], marker


@pytest.fixture
def snapshot(tmp_path):
    snap = tmp_path / "snap"
    (snap / "pkg").mkdir(parents=True)
    (snap / "pkg" / "views.py").write_text("a = 1\nb = 2\nc = 3\n")
    (snap / "pkg" / "models.py").write_text("x = 1\ny = 2")  # no trailing newline: still 2 lines
    (snap / "pkg" / "notes.txt").write_text("not python\n" * 50)
    (snap / ".git").mkdir()
    (snap / ".git" / "hook.py").write_text("skipped\n" * 99)
    return snap


# --------------------------------------------------------------------------- sampling
def sampled_counts(sample):
    return dict(Counter((r["app"], r["rule"]) for rows in sample.values() for r in rows))


def test_sampling_is_stratified_by_app_and_rule_and_capped():
    runs = {"a": run_record("a", "tune", {"MDB301": 25, "MDB303": 4}),
            "b": run_record("b", "tune", {"MDB301": 12, "MDB401": 10})}
    sample = triage.sample_findings(runs, seed=1, cap=10)
    assert sampled_counts(sample) == {("a", "MDB301"): 10, ("a", "MDB303"): 4,
                                      ("b", "MDB301"): 10, ("b", "MDB401"): 10}
    for app, rows in sample.items():
        real = {(f["path"], f["line"], f["rule"]) for f in runs[app]["findings"]}
        keys = [(r["path"], r["line"], r["rule"]) for r in rows]
        assert len(keys) == len(set(keys)) and set(keys) <= real


def test_two_findings_of_a_rule_on_one_line_are_one_item_of_the_sheet():
    # verdicts are keyed by (app, path, line, rule): a line that reads two relations is judged once
    runs = {"a": run_record("a", "tune", {"MDB302": 3})}
    twin = dict(runs["a"]["findings"][0], message="another relation on the same line")
    runs["a"] = dict(runs["a"], findings=runs["a"]["findings"] + [twin])
    rows = triage.sample_findings(runs, seed=1, cap=10)["a"]
    assert len(rows) == 3 and len({(r["path"], r["line"]) for r in rows}) == 3


def test_sampling_is_seeded_deterministic_and_strata_independent():
    runs = {"a": run_record("a", "tune", {"MDB301": 25, "MDB303": 4})}
    one = triage.sample_findings(runs, seed=1)
    assert one == triage.sample_findings(runs, seed=1)
    assert one != triage.sample_findings(runs, seed=2)
    # a new app and a new rule leave the existing stratum's draw alone
    more = dict(runs, z=run_record("z", "tune", {"MDB301": 30}))
    more["a"] = dict(runs["a"], findings=runs["a"]["findings"] + [finding("MDB404", "a/x.py", i) for i in range(1, 30)])

    def pick(s):
        return [r for r in s["a"] if r["rule"] == "MDB301"]

    assert pick(one) == pick(triage.sample_findings(more, seed=1))
    # the order findings arrive in does not matter
    shuffled = dict(runs["a"], findings=random.Random(3).sample(runs["a"]["findings"], 29))
    assert triage.sample_findings({"a": shuffled}, seed=1) == one


def test_sheets_are_blind_and_rejudge_subset_is_twenty_percent(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    rec = run_record("a", "tune", {"MDB301": 25, "MDB302": 3})
    for f in rec["findings"]:
        f["confidence"] = "CONFIDENCE_LEAK"
        f["verdict"] = "TP"
    (runs_dir / "a.json").write_text(json.dumps(rec))
    sizes = triage.write_sheets(tmp_path, seed=5, level=None)
    assert sizes == {"a": (13, 3)}  # 10 + 3 sampled, ceil(0.2 * 13) = 3 to re-judge
    for name in ("a.csv", "a.rejudge.csv"):
        text = (tmp_path / "sheets" / name).read_text()
        assert "CONFIDENCE_LEAK" not in text and "confidence" not in text
        rows = list(csv.DictReader(text.splitlines()))
        assert tuple(csv.reader(text.splitlines()).__next__()) == triage.SHEET_COLUMNS
        assert all(r["verdict"] == "" and r["reason"] == "" for r in rows)
    main = list(csv.DictReader((tmp_path / "sheets" / "a.csv").open()))
    sub = list(csv.DictReader((tmp_path / "sheets" / "a.rejudge.csv").open()))
    assert {tuple(r.values()) for r in sub} <= {tuple(r.values()) for r in main}
    rows = triage.sample_findings({"a": rec}, seed=5)["a"]
    for n in (1, 4, 5, 13):
        assert len(triage.rejudge_subset(rows[:n], seed=5)) == math.ceil(0.2 * n)
    assert triage.rejudge_subset(rows, seed=5) == triage.rejudge_subset(rows, seed=5)


# --------------------------------------------------------------------------- tally
def verdict_rows(app, rule, counts: dict[str, int], judge="j1", start=1):
    rows, line = [], start
    for verdict, n in counts.items():
        for _ in range(n):
            rows.append({"app": app, "path": f"{app}/v.py", "line": line, "rule": rule,
                         "verdict": verdict, "reason": "r", "judge": judge})
            line += 1
    return rows


def test_kappa_and_raw_agreement_match_a_hand_computed_example():
    pairs = [("TP", "TP")] * 20 + [("TP", "FP")] * 5 + [("FP", "TP")] * 10 + [("FP", "FP")] * 15
    kappa, raw = triage.cohen_kappa(pairs)
    assert raw == pytest.approx(0.7)
    assert kappa == pytest.approx(0.4)  # po 0.7, pe 0.5*0.6 + 0.5*0.4 = 0.5
    assert triage.cohen_kappa([("TP", "TP"), ("NEG", "NEG")]) == (1.0, 1.0)
    assert triage.cohen_kappa([]) == (None, None)


def test_tally_precision_neg_pooling_weighting_and_density():
    runs = {"t": run_record("t", "tune", {"MDB301": 40, "MDB303": 10, "MDB101": 5}, py_lines=20000),
            "h": run_record("h", "holdout", {"MDB301": 8}, py_lines=10000)}
    first = (verdict_rows("t", "MDB301", {"TP": 12, "FP": 5, "NEG": 3})
             + verdict_rows("t", "MDB303", {"TP": 5, "FP": 5}, start=100)
             + verdict_rows("t", "MDB101", {"TP": 1, "NEG": 4}, start=200)
             + verdict_rows("h", "MDB301", {"TP": 2, "FP": 6}))
    t = triage.compute_tally(runs, first, [])
    tune, hold = t["tune"], t["holdout"]
    r301 = tune["rules"]["MDB301"]
    assert (r301["n"], r301["findings"]) == (20, 40)
    assert r301["precision"] == pytest.approx(12 / 20)          # NEG counted false
    assert r301["precision_incl_neg"] == pytest.approx(15 / 20)
    assert r301["neg_rate"] == pytest.approx(3 / 20)
    assert r301["per_10k_lines"] == pytest.approx(40 * 10000 / 20000)
    # n < 15: pooled by family and listed with n; MDB301 (n=20) is not pooled
    pooled = tune["pooled_small_rules"]
    assert pooled[triage.FAMILIES["3"]]["rules"] == [("MDB303", 10)]
    assert pooled[triage.FAMILIES["1"]]["rules"] == [("MDB101", 5)]
    assert pooled[triage.FAMILIES["1"]]["precision"] == pytest.approx(1 / 5)
    assert pooled[triage.FAMILIES["1"]]["precision_incl_neg"] == pytest.approx(1.0)
    # overall: weighted by each rule's finding count, not by judged n
    assert tune["weighted_precision"] == pytest.approx((40 * 0.6 + 10 * 0.5 + 5 * 0.2) / 55)
    assert tune["weighted_precision_incl_neg"] == pytest.approx((40 * 0.75 + 10 * 0.5 + 5 * 1.0) / 55)
    assert tune["judged"]["NEG"] == 7
    # holdout kept apart
    assert hold["apps"] == ["h"] and hold["rules"]["MDB301"]["precision"] == pytest.approx(2 / 8)
    assert hold["rules"]["MDB301"]["per_10k_lines"] == pytest.approx(8.0)
    assert "MDB303" not in hold["rules"]
    text = triage.format_tally(t)
    assert "MDB303 (n=10)" in text and "60.0%" in text


def test_tally_agreement_uses_only_doubly_judged_items_by_different_judges():
    runs = {"t": run_record("t", "tune", {"MDB301": 50})}
    first = (verdict_rows("t", "MDB301", {"TP": 25}, judge="j1")
             + verdict_rows("t", "MDB301", {"FP": 25}, judge="j1", start=26))
    # second judge: 20 TP/TP, 5 TP/FP, 10 FP/TP, 15 FP/FP -> kappa 0.4, raw 0.7 (as above)
    labels = ["TP"] * 20 + ["FP"] * 5 + ["TP"] * 10 + ["FP"] * 15
    second = [dict(r, verdict=v, judge="j2") for r, v in zip(first, labels)]
    second.append(dict(first[0], line=999, judge="j2"))       # not judged by the first judge: ignored
    second.append(dict(first[1], verdict="FP", judge="j1"))   # same judge twice: not a second opinion
    a = triage.compute_tally(runs, first, second)["agreement"]
    assert a["tune"]["n"] == 50 and a["holdout"]["n"] == 0
    assert a["tune"]["kappa"] == pytest.approx(0.4) and a["tune"]["raw"] == pytest.approx(0.7)
    assert a["all"]["kappa"] == pytest.approx(0.4)


def test_verdict_files_are_validated(tmp_path):
    vd = tmp_path / "verdicts"
    vd.mkdir()
    header = "app,path,line,rule,verdict,reason,judge\n"
    (vd / "a.csv").write_text(header + "a,x.py,3,MDB301,TP,real N+1,j1\n")
    (vd / "a.rejudge.csv").write_text(header + "a,x.py,3,MDB301,NEG,tiny loop,j2\n")
    first, second = triage.load_verdicts(tmp_path)
    assert [r["verdict"] for r in first] == ["TP"] and [r["verdict"] for r in second] == ["NEG"]
    (vd / "b.csv").write_text(header + "b,x.py,3,MDB301,maybe,,j1\n")
    with pytest.raises(triage.ProtocolError, match="verdict must be"):
        triage.load_verdicts(tmp_path)
    (vd / "b.csv").write_text("app,path,line,rule,verdict\nb,x.py,3,MDB301,TP\n")
    with pytest.raises(triage.ProtocolError, match="missing columns"):
        triage.load_verdicts(tmp_path)
    (vd / "b.csv").unlink()
    dup = first + first
    with pytest.raises(triage.ProtocolError, match="two first-judge verdicts"):
        triage.compute_tally({"a": run_record("a", "tune", {})}, dup, [])


# --------------------------------------------------------------------------- the holdout guard and run
APPS = {"t1": ("django", "tune"), "h1": ("sqlalchemy", "holdout"), "h2": ("django", "holdout"),
        "h3": ("sqlalchemy", "holdout"), "h4": ("dbapi", "holdout"), "h5": ("django", "holdout")}


def test_holdout_guard_refuses_without_running_anything(tmp_path, fake_mandu, snapshot):
    cmd, marker = fake_mandu
    _, lock = write_registry(tmp_path, APPS, size=3)
    drawn = triage.final_draw(lock)
    undrawn = sorted(n for n, (_, pool) in APPS.items() if pool == "holdout" and n not in drawn)
    for app, flag in [(drawn[0], False), (undrawn[0], False), (undrawn[0], True), ("nope", False)]:
        with pytest.raises(triage.ProtocolError):
            triage.run_app(app, snapshot, final_draw_flag=flag, base=tmp_path, mandu_cmd=cmd)
        assert not marker.exists() and not (tmp_path / "runs").exists()
    rc = triage.main(["--base", str(tmp_path), "run", drawn[0], str(snapshot), "--mandu", " ".join(cmd)])
    assert rc == 2 and not marker.exists()
    # a tampered lock is refused even with --final-draw
    text = (tmp_path / "holdout.lock").read_text()
    (tmp_path / "holdout.lock").write_text(text.replace(lock["pool"][0]["commit"], sha(999)))
    with pytest.raises(triage.ProtocolError, match="pool_digest"):
        triage.run_app(drawn[0], snapshot, final_draw_flag=True, base=tmp_path, mandu_cmd=cmd)
    assert not marker.exists()


def test_final_draw_app_runs_only_with_the_flag(tmp_path, fake_mandu, snapshot):
    cmd, marker = fake_mandu
    _, lock = write_registry(tmp_path, APPS, size=3)
    app = triage.final_draw(lock)[0]
    dest = triage.run_app(app, snapshot, final_draw_flag=True, base=tmp_path, mandu_cmd=cmd)
    assert marker.exists() and json.loads(dest.read_text())["final_draw"] is True


def test_run_stores_relative_paths_line_count_and_no_source(tmp_path, fake_mandu, snapshot):
    cmd, marker = fake_mandu
    write_registry(tmp_path, APPS)
    dest = triage.run_app("t1", snapshot, base=tmp_path, mandu_cmd=cmd)
    assert dest == tmp_path / "runs" / "t1.json"
    assert "--exit-zero" in marker.read_text() and "json" in marker.read_text()
    text = dest.read_text()
    assert "SECRET_SOURCE_TEXT" not in text and str(snapshot) not in text
    rec = json.loads(text)
    assert (rec["py_files"], rec["py_lines"]) == (2, 5)   # .txt and .git/ not counted
    assert [(f["rule"], f["path"], f["line"]) for f in rec["findings"]] == [
        ("MDB301", "pkg/views.py", 3), ("MDB401", "pkg/models.py", 2)]
    assert rec["findings"][0]["related"][0]["path"] == "pkg/models.py"
    assert rec["findings"][0]["fix_safety"] == "safe"
    assert (rec["pool"], rec["commit"]) == ("tune", sha(1))


# --------------------------------------------------------------------------- the draw
def synthetic_lock(seed, names_families, size=8, mins=None):
    pool = [{"name": n, "repo": f"o/{n}", "commit": sha(i), "family": f} for i, (n, f) in enumerate(names_families)]
    return {"draw": {"seed": seed, "size": size, "min_per_family": mins if mins is not None else {"sqlalchemy": 3}},
            "pool": pool, "pool_digest": triage.pool_digest(pool)}


POOL = [(f"dj{i}", "django") for i in range(10)] + [(f"sa{i}", "sqlalchemy") for i in range(3)] + \
       [(f"db{i}", "dbapi") for i in range(2)]


def test_draw_is_deterministic_order_independent_and_keeps_three_sqlalchemy():
    swaps_needed = 0
    for seed in range(200):
        lock = synthetic_lock(seed, POOL)
        drawn = triage.final_draw(lock)
        assert drawn == triage.final_draw(lock)
        shuffled = dict(lock, pool=random.Random(seed).sample(lock["pool"], len(lock["pool"])))
        assert triage.final_draw(shuffled) == drawn
        fam = {p["name"]: p["family"] for p in lock["pool"]}
        assert len(drawn) == 8 and len(set(drawn)) == 8
        assert sum(fam[n] == "sqlalchemy" for n in drawn) >= 3
        naive = sorted(fam, key=lambda n: triage.draw_rank(seed, f"o/{n}"))[:8]
        swaps_needed += sum(fam[n] == "sqlalchemy" for n in naive) < 3
    assert swaps_needed > 20   # the constraint really is exercised, not satisfied by luck
    assert triage.final_draw(synthetic_lock(1, POOL)) != triage.final_draw(synthetic_lock(2, POOL))


def test_draw_refuses_impossible_constraints():
    with pytest.raises(triage.ProtocolError):
        triage.final_draw(synthetic_lock(1, POOL, mins={"sqlalchemy": 4}))
    with pytest.raises(triage.ProtocolError):
        triage.final_draw(synthetic_lock(1, POOL, size=3, mins={"sqlalchemy": 3, "django": 1}))


def test_registered_pool_is_consistent_and_its_draw_meets_the_protocol():
    """The committed registry itself (data only; nothing is run): every round's lock."""
    base = ROOT / "bench" / "realworld"
    registry = triage.load_registry(base)
    fams = Counter(a["family"] for a in registry.values())
    assert len(registry) >= 22 and fams["django"] >= 9 and fams["sqlalchemy"] >= 7 and fams["dbapi"] >= 2
    recall = {"zulip/zulip", "inventree/InvenTree", "WeblateOrg/weblate", "readthedocs/readthedocs.org",
              "indico/indico", "mozilla/pontoon", "PostHog/posthog", "getsentry/sentry", "apache/superset",
              "mlflow/mlflow", "lnbits/lnbits", "pretix/pretix"}
    assert not any(a["repo"] in recall for a in registry.values() if a["pool"] == "holdout")
    rounds = triage.lock_rounds(base)
    assert rounds[:3] == [1, 2, 3]
    for rnd in rounds:
        lock = triage.load_lock(base, rnd)
        triage.verify_lock(lock, registry)
        hold = Counter(a["family"] for a in registry.values()
                       if a["pool"] == "holdout" and triage.round_of(a) == rnd)
        assert hold["sqlalchemy"] >= 4 and hold["django"] >= 4 and 1 <= hold["dbapi"] <= 4 and sum(hold.values()) >= 10
        drawn = triage.final_draw(lock)
        assert len(drawn) >= 8 and sum(registry[n]["family"] == "sqlalchemy" for n in drawn) >= 3
    # no app is in two rounds, and the later pool shares no repository with an earlier one
    repos = [a["repo"] for a in registry.values()]
    assert len(repos) == len(set(repos))


def test_a_later_round_is_guarded_by_its_own_lock_and_tallied_apart(tmp_path, fake_mandu, snapshot):
    cmd, _ = fake_mandu
    write_registry(tmp_path, {"t": ("django", "tune"), "h": ("django", "holdout")})
    apps = yaml.safe_load((tmp_path / "apps.yaml").read_text())
    apps["apps"]["h2"] = dict(apps["apps"]["h"], repo="o/h2", commit=sha(99), round=2)
    (tmp_path / "apps.yaml").write_text(yaml.safe_dump(apps))
    pool2 = [{"name": "h2", "repo": "o/h2", "commit": sha(99), "family": apps["apps"]["h"]["family"]}]
    lock2 = {"round": 2, "draw": {"seed": 3, "size": 1}, "pool": pool2, "pool_digest": triage.pool_digest(pool2)}
    (tmp_path / "holdout-2.lock").write_text(yaml.safe_dump(lock2))
    assert triage.lock_rounds(tmp_path) == [1, 2]
    with pytest.raises(triage.ProtocolError, match="final draw"):
        triage.run_app("h2", snapshot, base=tmp_path, mandu_cmd=cmd)
    dest = triage.run_app("h2", snapshot, base=tmp_path, mandu_cmd=cmd, final_draw_flag=True)
    assert json.loads(dest.read_text())["pool"] == "holdout-2"
    lock2["pool"][0]["commit"] = sha(98)
    (tmp_path / "holdout-2.lock").write_text(yaml.safe_dump(lock2))
    with pytest.raises(triage.ProtocolError, match="edited"):
        triage.run_app("h2", snapshot, base=tmp_path, mandu_cmd=cmd, final_draw_flag=True)
    runs = {"t": run_record("t", "tune", {"MDB301": 1}), "h2": run_record("h2", "holdout-2", {"MDB301": 1})}
    t = triage.compute_tally(runs, [], [], None)
    assert set(t) == {"tune", "holdout", "holdout-2", "agreement"} and t["holdout-2"]["apps"] == ["h2"]


def test_sheets_and_tally_take_one_confidence_level(tmp_path):
    """The default output (high) and the medium findings are sampled and tallied apart."""
    (tmp_path / "runs").mkdir()
    rec = run_record("a", "tune", {"MDB301": 4, "MDB302": 2, "MDB000": 1})
    for i, f in enumerate(rec["findings"]):
        f["confidence"] = "high" if f["rule"] == "MDB302" or f["rule"] == "MDB000" else "medium"
    (tmp_path / "runs" / "a.json").write_text(json.dumps(rec))
    assert triage.write_sheets(tmp_path, seed=5, level="high")["a"][0] == 2  # tool codes are not judged
    assert triage.write_sheets(tmp_path, seed=5, level="medium")["a"][0] == 4
    first = [{"app": "a", "path": f["path"], "line": str(f["line"]), "rule": f["rule"], "verdict": "TP",
              "judge": "j"} for f in rec["findings"] if f["rule"] == "MDB302"]
    first += [{"app": "a", "path": f["path"], "line": str(f["line"]), "rule": f["rule"], "verdict": "FP",
               "judge": "j"} for f in rec["findings"] if f["rule"] == "MDB301"]
    high = triage.compute_tally(triage.load_runs(tmp_path), first, [], level="high")["tune"]
    medium = triage.compute_tally(triage.load_runs(tmp_path), first, [], level="medium")["tune"]
    assert high["judged"]["TP"] == 2 and high["judged"]["FP"] == 0
    assert medium["judged"]["FP"] == 4 and medium["judged"]["TP"] == 0


def test_the_extended_draw_admits_only_registered_pool_apps(tmp_path):
    lock = {"pool": [{"name": "h1", "repo": "o/h1"}, {"name": "h2", "repo": "o/h2"}],
            "draw": {"seed": 1, "size": 1}}
    registry = {"h1": {"repo": "o/h1", "pool": "holdout"}, "h2": {"repo": "o/h2", "pool": "holdout"}}
    orig = triage.verify_lock
    triage.verify_lock = lambda lock, registry: None
    try:
        drawn = triage.final_draw(lock)
        other = next(n for n in ("h1", "h2") if n not in drawn)
        with pytest.raises(triage.ProtocolError):
            triage.check_allowed(other, registry, lock, True)
        triage.check_allowed(other, registry, lock, "extended")  # the rest of the pool, on purpose
        with pytest.raises(triage.ProtocolError):
            triage.check_allowed("nope", registry, lock, "extended")
    finally:
        triage.verify_lock = orig
