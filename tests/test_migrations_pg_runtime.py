"""Runtime proofs on a real PostgreSQL (tests/pg.py) that what MDB604, MDB605 and MDB609 report
really happens, and that their fixes remove it.

A small synthetic Django project is written to a temporary folder (a git repository: the first
migration is released on ``main``, the rest is the feature branch), Django runs it in
subprocesses with ``DATABASES`` pointing at the harness, and a second and third connection probe
the locks with ``lock_timeout = '500ms'`` while a migration is held mid-flight.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mandu_lint.fixes.apply import fix_paths
from mandu_lint.runner import CheckOptions, check_paths

psycopg = pytest.importorskip("psycopg")
pytest.importorskip("django")

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]

SETTINGS = """
    import os

    SECRET_KEY = "proof"
    USE_TZ = True
    INSTALLED_APPS = ["shop"]
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["PROOF_DB"],
                             "USER": os.environ["PROOF_USER"], "HOST": os.environ["PROOF_HOST"],
                             "PORT": os.environ["PROOF_PORT"]}}
"""
MODELS = """
    from django.db import models


    class Customer(models.Model):
        name = models.CharField(max_length=50)


    class Order(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
        code = models.CharField(max_length=20)
        qty = models.IntegerField(null=True)
        note = models.CharField(max_length=50, null=True)
        created = models.DateTimeField(null=True)


    class Plan(models.Model):
        code = models.CharField(max_length=20, unique=True)
        name = models.CharField(max_length=50)


    class Tag(models.Model):
        name = models.CharField(max_length=30)
"""
INITIAL = """
    from django.db import migrations, models


    class Migration(migrations.Migration):
        initial = True
        dependencies = []
        operations = [
            migrations.CreateModel("Customer", [
                ("id", models.BigAutoField(primary_key=True)),
                ("name", models.CharField(max_length=50)),
            ]),
            migrations.CreateModel("Order", [
                ("id", models.BigAutoField(primary_key=True)),
                ("customer", models.ForeignKey("shop.customer", on_delete=models.CASCADE)),
                ("code", models.CharField(max_length=20)),
                ("qty", models.IntegerField(null=True)),
                ("note", models.CharField(max_length=50, null=True)),
                ("created", models.DateTimeField(null=True)),
            ]),
            migrations.CreateModel("Plan", [
                ("id", models.BigAutoField(primary_key=True)),
                ("code", models.CharField(max_length=20, unique=True)),
                ("name", models.CharField(max_length=50)),
            ]),
            migrations.CreateModel("Tag", [
                ("id", models.BigAutoField(primary_key=True)),
                ("name", models.CharField(max_length=30)),
            ]),
        ]
"""


def migration(number: str, previous: str, operations: str, head: str = "", atomic: bool = True) -> str:
    body = textwrap.indent(textwrap.dedent(operations).strip("\n"), " " * 8)
    return (f"from django.db import migrations, models\n{head}\n\n\nclass Migration(migrations.Migration):\n"
            + ("    atomic = False\n" if not atomic else "")
            + f"    dependencies = [(\"shop\", \"{previous}\")]\n    operations = [\n{body}\n    ]\n")


class Proj:
    """The synthetic project: files, git, Django subprocesses, mandu-lint."""

    def __init__(self, root: Path, pg):
        self.root, self.pg = root, pg
        self.db = pg.new_database("proof")
        files = {"manage.py": "import sys\nfrom django.core.management import execute_from_command_line\n"
                              "execute_from_command_line(sys.argv)\n",
                 "mandu.yaml": "exclude: []\n", "proj/__init__.py": "", "proj/settings.py": SETTINGS,
                 "shop/__init__.py": "", "shop/models.py": MODELS, "shop/migrations/__init__.py": "",
                 "shop/migrations/0001_initial.py": INITIAL, "shop/management/__init__.py": "",
                 "shop/management/commands/__init__.py": ""}
        self.write(files)
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-qm", "released")
        self.git("checkout", "-qb", "feature")

    def write(self, files) -> None:
        for rel, text in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n") if text.startswith("\n") else text)

    def git(self, *args: str) -> None:
        subprocess.run(GIT + list(args), cwd=self.root, check=True, capture_output=True)

    @property
    def env(self) -> dict:
        return dict(os.environ, DJANGO_SETTINGS_MODULE="proj.settings", PYTHONPATH=str(self.root),
                    PROOF_DB=self.db, PROOF_USER=self.pg.user, PROOF_HOST=self.pg.host, PROOF_PORT=str(self.pg.port))

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=self.root, env=self.env, capture_output=True,
                              text=True, timeout=180)
        if check:
            assert done.returncode == 0, done.stderr[-3000:]
        return done

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "manage.py", *args], cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sqlmigrate(self, name: str) -> list:
        """The migration's SQL statements, without its BEGIN/COMMIT and comments."""
        sql = self.manage("sqlmigrate", "shop", name).stdout
        lines = [line for line in sql.splitlines() if line.strip() and not line.startswith("--")]
        statements = [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
        return [s for s in statements if s.upper() not in ("BEGIN", "COMMIT")]

    def connect(self):
        return self.pg.connect(self.db)

    def findings(self, code: str):
        opts = CheckOptions(use_cache=False, jobs=1, select=[code], confidence="medium")
        result = check_paths([str(self.root)], opts)
        assert not result.had_error
        return [(Path(f.path).relative_to(self.root).as_posix(), f.message) for f in result.findings]

    def fix(self, code: str) -> None:
        fix_paths([str(self.root)], CheckOptions(use_cache=False, jobs=1, select=[code]), unsafe=True, diff=False,
                  out=io.StringIO())


@pytest.fixture
def proj(tmp_path, pg):
    p = Proj(tmp_path / "shopproj", pg)
    p.manage("migrate", "shop", "0001")
    with p.connect() as conn:
        conn.execute("INSERT INTO shop_customer (name) SELECT 'c' || g FROM generate_series(1, 50) g")
        conn.execute("INSERT INTO shop_order (customer_id, code, qty) SELECT 1 + g % 50, 'o' || g, g "
                     "FROM generate_series(1, 2000) g")
    return p


def probe(conn, sql: str):
    """Run ``sql`` on a second connection that waits at most 500 ms for a lock: None when it
    ran, else the error."""
    conn.execute("SET lock_timeout = '500ms'")
    try:
        with conn.transaction():
            conn.execute(sql)
        return None
    except psycopg.errors.LockNotAvailable as exc:
        return exc


def held_locks(conn, pid: int, table: str) -> set:
    rows = conn.execute("SELECT mode FROM pg_locks WHERE pid = %s AND granted AND relation = %s::regclass",
                        (pid, table)).fetchall()
    return {r[0] for r in rows}


def hold(proj: Proj, statements):
    """A connection with the migration's SQL executed in a transaction left open (mid-flight)."""
    conn = proj.connect()
    conn.autocommit = False
    for sql in statements:
        conn.execute(sql)
    return conn


# -- MDB604 ------------------------------------------------------------------------------------
def test_mdb604_add_index_blocks_writes_but_not_reads(proj):
    proj.write({"shop/migrations/0002_index.py": migration("0002", "0001_initial", """
        migrations.AddIndex("order", models.Index(fields=["code"], name="order_code_idx")),
    """)})
    (finding,) = proj.findings("MDB604")
    assert finding[0] == "shop/migrations/0002_index.py" and "without CONCURRENTLY" in finding[1]
    statements = proj.sqlmigrate("0002")
    assert any(s.startswith("CREATE INDEX") for s in statements)
    holder = hold(proj, statements)
    try:
        with proj.connect() as other:
            assert "ShareLock" in held_locks(other, holder.info.backend_pid, "shop_order")
            blocked = probe(other, "INSERT INTO shop_order (customer_id, code) VALUES (1, 'new')")
            assert blocked is not None and "lock timeout" in str(blocked)
            assert probe(other, "SELECT count(*) FROM shop_order") is None
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize("operation,what", [
    ('migrations.AlterField("order", "note", models.CharField(max_length=50, default=""))', "NOT NULL"),
    ('migrations.AlterField("order", "qty", models.BigIntegerField(null=True))', "integer to bigint"),
], ids=["set-not-null", "rewriting-type-change"])
def test_mdb604_set_not_null_and_type_rewrite_block_reads(proj, operation, what):
    proj.write({"shop/migrations/0002_alter.py": migration("0002", "0001_initial", operation + ",")})
    (finding,) = proj.findings("MDB604")
    assert what in finding[1]
    holder = hold(proj, proj.sqlmigrate("0002"))
    try:
        with proj.connect() as other:
            assert "AccessExclusiveLock" in held_locks(other, holder.info.backend_pid, "shop_order")
            blocked = probe(other, "SELECT count(*) FROM shop_order")
            assert blocked is not None and "lock timeout" in str(blocked)
    finally:
        holder.rollback()
        holder.close()


def test_mdb604_fixed_add_index_concurrently_lets_writes_through(proj):
    proj.write({"shop/migrations/0002_index.py": migration("0002", "0001_initial", """
        migrations.AddIndex("order", models.Index(fields=["code"], name="order_code_idx")),
    """)})
    proj.fix("MDB604")  # AddIndex -> AddIndexConcurrently with atomic = False
    fixed = (proj.root / "shop/migrations/0002_index.py").read_text()
    assert "AddIndexConcurrently(" in fixed and "atomic = False" in fixed
    assert proj.findings("MDB604") == []
    with proj.connect() as third, proj.connect() as other:
        third.autocommit = False  # a long write transaction, left open
        third.execute("UPDATE shop_order SET qty = qty + 1 WHERE id = 1")
        running = proj.popen("migrate", "shop", "0002")
        try:
            deadline = time.monotonic() + 60
            while True:  # the build waits for the third connection's transaction to end
                row = other.execute("SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE query ILIKE "
                                    "'CREATE INDEX CONCURRENTLY%%' AND state = 'active'").fetchone()
                if row is not None and row == ("Lock", "virtualxid"):
                    break
                assert running.poll() is None, running.communicate()
                assert time.monotonic() < deadline, "CREATE INDEX CONCURRENTLY never started waiting"
                time.sleep(0.1)
            assert probe(other, "INSERT INTO shop_order (customer_id, code) VALUES (1, 'during')") is None
            valid = other.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'order_code_idx'::regclass")
            assert valid.fetchone()[0] is False  # mid-flight: not usable yet
        finally:
            third.commit()
        out, err = running.communicate(timeout=120)
        assert running.returncode == 0, err[-2000:]
        valid = other.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = 'order_code_idx'::regclass")
        assert valid.fetchone()[0] is True


# -- MDB605 ------------------------------------------------------------------------------------
BACKFILL = """

def add_orders(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Order = apps.get_model("shop", "Order")
    customer = Customer.objects.create(name="new")
    Order.objects.create(customer=customer, code="welcome")
"""


def test_mdb605_mixed_migration_fails_with_pending_trigger_events(proj):
    proj.write({"shop/migrations/0002_mixed.py": migration("0002", "0001_initial", """
        migrations.RunPython(add_orders, migrations.RunPython.noop),
        migrations.AddField("order", "source", models.CharField(max_length=10, null=True)),
    """, head=BACKFILL)})
    assert [m for _, m in proj.findings("MDB605") if "pending trigger events" in m]
    done = proj.manage("migrate", "shop", check=False)
    assert done.returncode != 0
    assert re.search(r'cannot ALTER TABLE "shop_order" because it has pending trigger events', done.stderr)


def test_mdb605_split_migrations_succeed(proj):
    proj.write({
        "shop/migrations/0002_data.py": migration("0002", "0001_initial", """
            migrations.RunPython(add_orders, migrations.RunPython.noop),
        """, head=BACKFILL),
        "shop/migrations/0003_source.py": migration("0003", "0002_data", """
            migrations.AddField("order", "source", models.CharField(max_length=10, null=True)),
        """),
    })
    assert proj.findings("MDB605") == []
    proj.manage("migrate", "shop")
    with proj.connect() as conn:
        assert conn.execute("SELECT count(*) FROM shop_order WHERE code = 'welcome'").fetchone()[0] == 1


# -- MDB609 ------------------------------------------------------------------------------------
SEED_PLANS = """
from django.core.management.base import BaseCommand

from shop.models import Plan


class Command(BaseCommand):
    def handle(self, *args, **options):
        Plan.objects.create(code="free", name="Free")
"""
SEED_TAGS = """
from django.core.management.base import BaseCommand

from shop.models import Tag


class Command(BaseCommand):
    def handle(self, *args, **options):
        Tag.objects.create(name="featured")
"""
SEED_TAGS_FIXED = """
from django.core.management.base import BaseCommand

from shop.models import Tag


class Command(BaseCommand):
    def handle(self, *args, **options):
        if not Tag.objects.filter(name="featured").exists():
            Tag.objects.create(name="featured")
"""


def count(proj: Proj, table: str) -> int:
    with proj.connect() as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_mdb609_seed_twice_doubles_rows_or_fails_and_the_fix_does_not(proj):
    proj.write({"shop/management/commands/seed_plans.py": SEED_PLANS,
                "shop/management/commands/seed_tags.py": SEED_TAGS})
    assert sorted(path for path, _ in proj.findings("MDB609")) == [
        "shop/management/commands/seed_plans.py", "shop/management/commands/seed_tags.py"]
    for _ in range(2):
        proj.manage("seed_tags")
    assert count(proj, "shop_tag") == 2  # doubled
    proj.manage("seed_plans")
    again = proj.manage("seed_plans", check=False)
    assert again.returncode != 0 and "duplicate key value violates unique constraint" in again.stderr
    assert count(proj, "shop_plan") == 1

    proj.fix("MDB609")  # create -> get_or_create on the unique code
    assert 'Plan.objects.get_or_create(code="free", defaults={"name": "Free"})' in \
        (proj.root / "shop/management/commands/seed_plans.py").read_text()
    proj.write({"shop/management/commands/seed_tags.py": SEED_TAGS_FIXED})
    assert proj.findings("MDB609") == []
    with proj.connect() as conn:
        conn.execute("DELETE FROM shop_tag")
    for _ in range(2):
        proj.manage("seed_plans")
        proj.manage("seed_tags")
    assert count(proj, "shop_plan") == 1
    assert count(proj, "shop_tag") == 1
