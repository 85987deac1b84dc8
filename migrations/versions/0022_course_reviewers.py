"""course reviewers: who reviews a course's work when no run applies

Revision ID: 0022_course_reviewers
Revises: 0021_credential_status
Create Date: 2026-12-04 18:45:00.000000

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import lms.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0022_course_reviewers"
down_revision = "0021_credential_status"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_reviewer",
        sa.Column("course_slug", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"],
            ["user.id"],
            name=op.f("fk_course_reviewer_assigned_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_course_reviewer_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("course_slug", "user_id", name=op.f("pk_course_reviewer")),
    )
    with op.batch_alter_table("course_reviewer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_course_reviewer_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("course_reviewer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_course_reviewer_user_id"))
    op.drop_table("course_reviewer")
