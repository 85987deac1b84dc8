"""review items: the review queue's kept rows, one per attempt of a reviewed type, with
whether it waits for a decision

Revision ID: 0009_review_items
Revises: 0008_feedback_tallies
Create Date: 2026-12-03 09:00:00.000000

Filled from the attempts and reviews already stored. Which activity types are reviewed
comes from the app's activity types (plugins included); without an app, case studies.
"""

import sqlalchemy as sa
from alembic import op

import lms.db

# revision identifiers, used by Alembic.
revision = "0009_review_items"
down_revision = "0008_feedback_tallies"
branch_labels = None
depends_on = None


def _reviewed_types():
    try:
        from flask import current_app

        registry = current_app.extensions["lms.activity_types"]
    except (RuntimeError, KeyError):
        return ["case_study"]
    return sorted(name for name in registry.names() if registry[name].is_reviewed)


def upgrade():
    op.create_table(
        "review_item",
        sa.Column("attempt_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_slug", sa.String(length=80), nullable=False),
        sa.Column("activity_key", sa.String(length=80), nullable=False),
        sa.Column("submitted_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("is_waiting", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["attempt.id"],
            name=op.f("fk_review_item_attempt_id_attempt"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolment.id"],
            name=op.f("fk_review_item_enrolment_id_enrolment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_review_item_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attempt_id", name=op.f("pk_review_item")),
    )
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_item_queue",
            ["user_id", "course_slug", "is_waiting", "submitted_at", "attempt_id", "activity_key"],
            unique=False,
        )
        batch_op.create_index("ix_review_item_work", ["enrolment_id", "activity_key"], unique=False)
    types = _reviewed_types()
    if types:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO review_item (attempt_id, enrolment_id, user_id, course_slug,"
                " activity_key, submitted_at, is_waiting)"
                " SELECT a.id, a.enrolment_id, e.user_id, e.course_slug, a.activity_key,"
                " a.submitted_at,"
                " CASE WHEN NOT EXISTS (SELECT 1 FROM attempt AS b"
                "   WHERE b.enrolment_id = a.enrolment_id AND b.activity_key = a.activity_key"
                "   AND b.number > a.number)"
                " AND NOT EXISTS (SELECT 1 FROM attempt_review AS r WHERE r.attempt_id = a.id)"
                " THEN TRUE ELSE FALSE END"
                " FROM attempt AS a JOIN enrolment AS e ON e.id = a.enrolment_id"
                " WHERE a.activity_type IN :types"
            ).bindparams(sa.bindparam("types", expanding=True)),
            {"types": types},
        )


def downgrade():
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_index("ix_review_item_work")
        batch_op.drop_index("ix_review_item_queue")
    op.drop_table("review_item")
