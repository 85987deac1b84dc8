"""The floor for bench/load.py: a bare Flask app doing one SQLite lookup and a Jinja render.

Served by gunicorn with the same settings as the real app (``bench.floor:app``), it
shows what this machine and server can do for a page that does almost nothing: the
real pages are reported as a ratio to it.

``FLOOR_DB`` names the SQLite file (made with 1,000 rows on first use, default a
file in the system's temporary folder). ``GET /item/<id>`` looks one row up by its
primary key and renders it in a small template through Flask's ``render_template``.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from flask import Flask, abort, render_template
from jinja2 import DictLoader

ROWS = 1000

TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ item.title }}</title></head>
<body>
  <main>
    <h1>{{ item.title }}</h1>
    <p>{{ item.body }}</p>
    <ul>{% for word in item.body.split()[:5] %}<li>{{ word }}</li>{% endfor %}</ul>
  </main>
</body>
</html>
"""


def database_path() -> Path:
    return Path(os.environ.get("FLOOR_DB") or Path(tempfile.gettempdir()) / "lms-floor.db")


def make_database(path: Path) -> None:
    """Create the table with ROWS rows, once (several workers may race: IF NOT EXISTS)."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, title TEXT, body TEXT)"
        )
        if connection.execute("SELECT count(*) FROM item").fetchone()[0] == 0:
            connection.executemany(
                "INSERT OR IGNORE INTO item (id, title, body) VALUES (?, ?, ?)",
                [
                    (i, f"Item {i}", f"Body of item {i}: some words to show on the page.")
                    for i in range(1, ROWS + 1)
                ],
            )


app = Flask(__name__)
app.jinja_loader = DictLoader({"floor.html": TEMPLATE})
make_database(database_path())


_connection_cache: dict[int, sqlite3.Connection] = {}


def _connection() -> sqlite3.Connection:
    # One connection per worker process, kept open as SQLAlchemy's pool keeps its own.
    pid = os.getpid()
    if pid not in _connection_cache:
        connection = sqlite3.connect(database_path())
        connection.row_factory = sqlite3.Row
        _connection_cache[pid] = connection
    return _connection_cache[pid]


@app.get("/item/<int:item_id>")
def item(item_id: int):
    row = (
        _connection()
        .execute("SELECT id, title, body FROM item WHERE id = ?", (item_id,))
        .fetchone()
    )
    if row is None:
        abort(404)
    return render_template("floor.html", item=dict(row))
