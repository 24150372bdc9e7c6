"""W7 of keel's benchmark: the same workloads with Alembic, dbmate and
sqlx-cli (`bash bench/run --peers`). The peers are installed under
~/.cache/keel-bench (pip, npm and cargo), only when asked for, and reused by
later runs. Each gets the same migrations as keel, in its own format, and the
same server over the same Unix socket.
"""

import os
import shutil
import subprocess
import sys
from urllib.parse import parse_qs, quote, urlparse

CACHE = os.path.expanduser("~/.cache/keel-bench")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def socket_of(url):
    """(socket dir, port, user, db) of a keel dev-db URL."""
    u = urlparse(url)
    q = parse_qs(u.query)
    return q["host"][0], q["port"][0], q.get("user", ["postgres"])[0], u.path.lstrip("/")


def install():
    """Installs the peers that are missing; returns {name: command prefix}."""
    os.makedirs(CACHE, exist_ok=True)
    found = {}
    py = os.path.join(CACHE, "py")
    if not os.path.exists(os.path.join(py, "alembic")):
        print("  installing alembic (pip)...", file=sys.stderr)
        sh([sys.executable, "-m", "pip", "install", "-q", "--target", py, "alembic", "psycopg2-binary"])
    found["alembic"] = py
    npm = os.path.join(CACHE, "npm")
    dbmate = os.path.join(npm, "node_modules/.bin/dbmate")
    if not os.path.exists(dbmate):
        print("  installing dbmate (npm)...", file=sys.stderr)
        sh(["npm", "install", "--silent", "--prefix", npm, "dbmate"])
    found["dbmate"] = dbmate
    cargo_root = os.path.join(CACHE, "cargo")
    sqlx = os.path.join(cargo_root, "bin/sqlx")
    if not os.path.exists(sqlx):
        print("  installing sqlx-cli (cargo install; this compiles for a while)...", file=sys.stderr)
        sh([
            "cargo", "install", "--quiet", "--root", cargo_root, "sqlx-cli",
            "--no-default-features", "--features", "postgres,native-tls",
        ])
    found["sqlx"] = sqlx
    return found


def write_projects(work, bodies):
    """bodies: [(up_sql, down_sql)] in order. Returns {peer: project dir}."""
    dirs = {}
    # Alembic: a chain of revisions running the same SQL.
    a = os.path.join(work, "alembic")
    os.makedirs(os.path.join(a, "versions"))
    with open(os.path.join(a, "alembic.ini"), "w") as f:
        f.write("[alembic]\nscript_location = %(here)s\n")
    with open(os.path.join(a, "env.py"), "w") as f:
        f.write(
            "import os\nfrom alembic import context\nfrom sqlalchemy import create_engine\n"
            "engine = create_engine(os.environ['BENCH_SQLALCHEMY_URL'])\n"
            "with engine.connect() as connection:\n"
            "    context.configure(connection=connection, target_metadata=None)\n"
            "    with context.begin_transaction():\n"
            "        context.run_migrations()\n"
        )
    with open(os.path.join(a, "script.py.mako"), "w") as f:
        f.write("")
    prev = None
    for i, (up, down) in enumerate(bodies, 1):
        rev = f"r{i:05d}"
        with open(os.path.join(a, "versions", f"{rev}.py"), "w") as f:
            f.write(
                "from alembic import op\n"
                f"revision = {rev!r}\ndown_revision = {prev!r}\nbranch_labels = None\ndepends_on = None\n"
                f"def upgrade():\n    op.execute({up!r})\n"
                f"def downgrade():\n    op.execute({down!r})\n"
            )
        prev = rev
    dirs["alembic"] = a
    # dbmate: one file per migration with up and down sections.
    d = os.path.join(work, "dbmate/db/migrations")
    os.makedirs(d)
    for i, (up, down) in enumerate(bodies, 1):
        with open(os.path.join(d, f"{i:05d}_m.sql"), "w") as f:
            f.write(f"-- migrate:up\n{up}\n-- migrate:down\n{down}\n")
    dirs["dbmate"] = d
    # sqlx: reversible migrations.
    s = os.path.join(work, "sqlx/migrations")
    os.makedirs(s)
    for i, (up, down) in enumerate(bodies, 1):
        with open(os.path.join(s, f"{i:05d}_m.up.sql"), "w") as f:
            f.write(up)
        with open(os.path.join(s, f"{i:05d}_m.down.sql"), "w") as f:
            f.write(down)
    dirs["sqlx"] = os.path.dirname(s)
    return dirs


def commands(found, dirs, keel_url):
    """{peer: (apply command, status command, env)} for the database of keel_url."""
    sock, port, user, db = socket_of(keel_url)
    env = dict(os.environ)
    env["PYTHONPATH"] = found["alembic"]
    env["BENCH_SQLALCHEMY_URL"] = f"postgresql+psycopg2://{user}@/{db}?host={sock}&port={port}"
    env["DATABASE_URL"] = f"postgres://{user}@localhost:{port}/{db}?host={quote(sock, safe='')}&sslmode=disable"
    alembic = f"{sys.executable} -m alembic -c {dirs['alembic']}/alembic.ini"
    dbmate_url = f"postgres://{user}@/{db}?socket={quote(sock, safe='')}&port={port}&sslmode=disable"
    dbmate = f"{found['dbmate']} --url '{dbmate_url}' --migrations-dir {dirs['dbmate']} --no-dump-schema"
    sqlx_url = env["DATABASE_URL"]
    sqlx = f"{found['sqlx']} migrate"
    return {
        "alembic": (f"{alembic} upgrade head", f"{alembic} current", env),
        "dbmate": (f"{dbmate} up", f"{dbmate} status", env),
        "sqlx-cli": (
            f"{sqlx} run --source {dirs['sqlx']}/migrations --database-url '{sqlx_url}'",
            f"{sqlx} info --source {dirs['sqlx']}/migrations --database-url '{sqlx_url}'",
            env,
        ),
    }


def cleanup(work):
    shutil.rmtree(os.path.join(work, "alembic"), ignore_errors=True)
