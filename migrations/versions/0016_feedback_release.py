"""feedback released in groups: released counts on feedback_tally, a released flag on responses

Revision ID: 0016_feedback_release
Revises: 0015_login_failures
Create Date: 2026-12-03 11:00:00.000000

Existing sites keep showing what they showed: every group (a form's responses in one run,
or outside any run) with at least 5 responses was shown in full, so it is released in
full; smaller groups showed nothing, so their responses wait for the next release.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_feedback_release"
down_revision = "0015_login_failures"
branch_labels = None
depends_on = None

#: lms.feedback.models: MIN_RESPONSES, ALL_RUNS, NO_RUN and TOTAL as they were here.
MIN_RESPONSES = 5
ALL_RUNS = 0
NO_RUN = -1
TOTAL = "@total"


def upgrade():
    # Plain ADD COLUMN (no batch copy): feedback_tally and feedback_response are
    # WITHOUT ROWID tables on SQLite, and a copy would lose that.
    op.add_column(
        "feedback_response",
        sa.Column("released", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "feedback_tally",
        sa.Column("released", sa.Integer(), server_default="0", nullable=False),
    )
    tally = sa.table(
        "feedback_tally",
        sa.column("course_slug", sa.String),
        sa.column("run_key", sa.Integer),
        sa.column("activity_key", sa.String),
        sa.column("question_key", sa.String),
        sa.column("value", sa.Text),
        sa.column("count", sa.Integer),
        sa.column("released", sa.Integer),
    )
    response = sa.table(
        "feedback_response",
        sa.column("course_slug", sa.String),
        sa.column("activity_key", sa.String),
        sa.column("run_id", sa.Integer),
        sa.column("released", sa.Boolean),
    )
    # The responses of each group of at least MIN_RESPONSES responses.
    r2 = response.alias("r2")
    group_size = (
        sa.select(sa.func.count())
        .select_from(r2)
        .where(
            r2.c.course_slug == response.c.course_slug,
            r2.c.activity_key == response.c.activity_key,
            sa.func.coalesce(r2.c.run_id, NO_RUN) == sa.func.coalesce(response.c.run_id, NO_RUN),
        )
        .scalar_subquery()
    )
    op.execute(sa.update(response).where(group_size >= MIN_RESPONSES).values(released=True))
    # Each run's (and NO_RUN's) counts, where its total is at least MIN_RESPONSES.
    total = tally.alias("total")
    big = (
        sa.select(total.c.count)
        .where(
            total.c.course_slug == tally.c.course_slug,
            total.c.activity_key == tally.c.activity_key,
            total.c.run_key == tally.c.run_key,
            total.c.question_key == TOTAL,
            total.c.value == "",
        )
        .scalar_subquery()
    )
    op.execute(
        sa.update(tally)
        .where(tally.c.run_key != ALL_RUNS, big >= MIN_RESPONSES)
        .values(released=tally.c.count)
    )
    # The whole course's: the sum of its runs'.
    runs = tally.alias("runs")
    summed = (
        sa.select(sa.func.coalesce(sa.func.sum(runs.c.released), 0))
        .where(
            runs.c.course_slug == tally.c.course_slug,
            runs.c.activity_key == tally.c.activity_key,
            runs.c.run_key != ALL_RUNS,
            runs.c.question_key == tally.c.question_key,
            runs.c.value == tally.c.value,
        )
        .scalar_subquery()
    )
    op.execute(sa.update(tally).where(tally.c.run_key == ALL_RUNS).values(released=summed))


def downgrade():
    op.drop_column("feedback_tally", "released")
    op.drop_column("feedback_response", "released")
