"""run schedule: day times, online link, calendar sequence, cancellation; calendar feeds

Revision ID: 0019_run_schedule
Revises: 0018_notifications
Create Date: 2026-12-03 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import lms.db

# revision identifiers, used by Alembic.
revision = "0019_run_schedule"
down_revision = "0018_notifications"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("run_day", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("starts_at", sa.Time(), server_default="09:30:00", nullable=False)
        )
        batch_op.add_column(
            sa.Column("ends_at", sa.Time(), server_default="16:30:00", nullable=False)
        )
    with op.batch_alter_table("course_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("online_url", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column("sequence", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("cancelled_at", lms.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_calendar_feed_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feed_token_hash")),
    )
    with op.batch_alter_table("calendar_feed", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_feed_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("calendar_feed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_feed_user_id"))
    op.drop_table("calendar_feed")
    with op.batch_alter_table("course_run", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("sequence")
        batch_op.drop_column("online_url")
    with op.batch_alter_table("run_day", schema=None) as batch_op:
        batch_op.drop_column("ends_at")
        batch_op.drop_column("starts_at")
