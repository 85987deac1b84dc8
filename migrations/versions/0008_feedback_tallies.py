"""feedback tallies: counts of answers per form, run, question and option, kept as
responses arrive; feedback response indexes end with the id

Revision ID: 0008_feedback_tallies
Revises: 0007_list_indexes
Create Date: 2026-12-03 08:00:00.000000

The table is filled from the responses already stored. Which answers are free text
(counted under "", their words never copied) comes from the course content loaded by
the app; an answer to a question the content no longer has counts under its value
only when it is a number.
"""

from collections import Counter

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_feedback_tallies"
down_revision = "0007_list_indexes"
branch_labels = None
depends_on = None

ALL_RUNS = 0
NO_RUN = -1
TOTAL = "@total"
ANONYMOUS = "@anonymous"


def _kinds():
    """(course slug, form key) -> {question key: kind} from the loaded catalogue."""
    try:
        from flask import current_app

        catalogue = current_app.extensions["lms.courses"]
    except (RuntimeError, KeyError):
        return lambda slug, key: {}
    found = {}

    def kinds(slug, key):
        if (slug, key) not in found:
            course = catalogue.get(slug)
            activity = course.activity(key) if course is not None else None
            found[(slug, key)] = (
                {q.key: q.kind for q in activity.config.questions}
                if activity is not None and activity.type == "feedback"
                else {}
            )
        return found[(slug, key)]

    return kinds


def _text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _backfill(tally):
    bind = op.get_bind()
    response = sa.table(
        "feedback_response",
        sa.column("course_slug", sa.String),
        sa.column("activity_key", sa.String),
        sa.column("run_id", sa.Integer),
        sa.column("is_anonymous", sa.Boolean),
        sa.column("answers", sa.JSON),
    )
    kinds_of = _kinds()
    counts = Counter()
    result = bind.execute(
        sa.select(
            response.c.course_slug,
            response.c.activity_key,
            response.c.run_id,
            response.c.is_anonymous,
            response.c.answers,
        ).execution_options(yield_per=2000)
    )
    for slug, key, run_id, anonymous, answers in result:
        kinds = kinds_of(slug, key)
        for run_key in (ALL_RUNS, NO_RUN if run_id is None else run_id):
            counts[(slug, run_key, key, TOTAL, "")] += 1
            if anonymous:
                counts[(slug, run_key, key, ANONYMOUS, "")] += 1
            for question, value in (answers or {}).items():
                if value is None:
                    continue
                kind = kinds.get(question)
                numeric = isinstance(value, int | float) and not isinstance(value, bool)
                shown = kind in ("rating", "choice") or (kind is None and numeric)
                counts[(slug, run_key, key, question, _text(value) if shown else "")] += 1
    rows = [
        {
            "course_slug": k[0],
            "run_key": k[1],
            "activity_key": k[2],
            "question_key": k[3],
            "value": k[4],
            "count": n,
        }
        for k, n in sorted(counts.items())
    ]
    for start in range(0, len(rows), 1000):
        op.bulk_insert(tally, rows[start : start + 1000])


def upgrade():
    tally = op.create_table(
        "feedback_tally",
        sa.Column("course_slug", sa.String(length=80), nullable=False),
        sa.Column("run_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("activity_key", sa.String(length=80), nullable=False),
        sa.Column("question_key", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "course_slug",
            "run_key",
            "activity_key",
            "question_key",
            "value",
            name=op.f("pk_feedback_tally"),
        ),
        sqlite_with_rowid=False,
    )
    _backfill(tally)
    with op.batch_alter_table("feedback_response", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_response_form")
        batch_op.drop_index("ix_feedback_response_run")
        batch_op.create_index(
            "ix_feedback_response_form", ["course_slug", "activity_key", "id"], unique=False
        )
        batch_op.create_index(
            "ix_feedback_response_run", ["run_id", "activity_key", "id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("feedback_response", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_response_run")
        batch_op.drop_index("ix_feedback_response_form")
        batch_op.create_index(
            "ix_feedback_response_form", ["course_slug", "activity_key"], unique=False
        )
        batch_op.create_index("ix_feedback_response_run", ["run_id", "activity_key"], unique=False)
    op.drop_table("feedback_tally")
