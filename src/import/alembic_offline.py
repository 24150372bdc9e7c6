"""keel import alembic: Alembic's revision graph and each revision's offline SQL, as JSON.

keel (src/import/alembic.rs) runs this with the project's Python, from the folder that holds
the ini file named by argv[1]. It prints one JSON document on stdout and nothing else there:

  {"missing": "<ImportError>"}                       Alembic cannot be imported
  {"error": "<what>", "revision": "<id or null>"}    Alembic or the project raised
  {"branches": {"heads": [...], "merges": [[rev, [parents]]], "branch_points": [[rev, [children]]]}}
  {"revisions": [{"revision", "message", "path", "prev", "up", "down", "down_error"}]}

Revisions are listed base first. "up" is the output of `alembic upgrade PREV:REV --sql`, "down"
that of `alembic downgrade REV:PREV --sql` (null when it raised, with "down_error" saying why).
"""

import io
import json
import os
import sys
import traceback

# As under the `alembic` command, the current folder is not on the path: a project folder
# named `alembic` (as `alembic init alembic` makes) must not hide the package.
sys.path = [p for p in sys.path if p not in ("", ".", os.getcwd())]

# Whatever env.py or a revision prints goes to stderr: stdout carries only the document.
_out = sys.stdout
sys.stdout = sys.stderr

# Offline mode never connects: the URL only chooses the dialect the SQL is rendered in.
OFFLINE_URL = "postgresql://keel-import.invalid/offline"


def emit(doc):
    _out.write(json.dumps(doc))
    _out.flush()
    sys.exit(0)


def last_line(exc):
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


try:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
except ImportError as exc:
    emit({"missing": last_line(exc)})

INI = sys.argv[1]


def config(buffer=None):
    cfg = Config(INI, output_buffer=buffer)
    cfg.set_main_option("sqlalchemy.url", OFFLINE_URL)
    return cfg


def offline(fn, target):
    buffer = io.StringIO()
    fn(config(buffer), target, sql=True)
    return buffer.getvalue()


try:
    script = ScriptDirectory.from_config(config())
    heads = list(script.get_heads())
    revisions = list(script.walk_revisions())
except Exception as exc:  # noqa: BLE001 - reported to the user as it is
    emit({"error": last_line(exc), "revision": None})
revisions.reverse()

merges = [
    [r.revision, list(r.down_revision)]
    for r in revisions
    if isinstance(r.down_revision, (tuple, list)) and len(r.down_revision) > 1
]
branch_points = [
    [r.revision, sorted(r.nextrev)] for r in revisions if len(r.nextrev) > 1
]
if len(heads) > 1 or merges or branch_points:
    emit({"branches": {"heads": sorted(heads), "merges": merges, "branch_points": branch_points}})

found = []
for r in revisions:
    prev = r.down_revision
    if isinstance(prev, (tuple, list)):
        prev = prev[0] if prev else None
    since = prev or "base"
    try:
        up = offline(command.upgrade, f"{since}:{r.revision}")
    except Exception as exc:  # noqa: BLE001
        emit({"error": f"alembic upgrade {since}:{r.revision} --sql: {last_line(exc)}",
              "revision": r.revision})
    down, down_error = None, None
    try:
        down = offline(command.downgrade, f"{r.revision}:{since}")
    except Exception as exc:  # noqa: BLE001
        down_error = last_line(exc)
    found.append({
        "revision": r.revision,
        "message": r.doc or "",
        "path": os.path.relpath(r.path, os.path.dirname(os.path.abspath(INI))),
        "prev": since,
        "up": up,
        "down": down,
        "down_error": down_error,
    })
emit({"revisions": found})
