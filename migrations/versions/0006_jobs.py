"""background jobs: kept job rows and batches

Revision ID: 0006_jobs
Revises: 0005_certificate_files
Create Date: 2026-12-01 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import lms.db

# revision identifiers, used by Alembic.
revision = "0006_jobs"
down_revision = "0005_certificate_files"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "job_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=80), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["started_by_id"],
            ["user.id"],
            name=op.f("fk_job_batch_started_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_batch")),
    )
    op.create_table(
        "job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task", sa.String(length=80), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("enqueued_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("run_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("redispatched_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("started_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("finished_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("items_done", sa.Integer(), nullable=False),
        sa.Column("unique_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["job_batch.id"],
            name=op.f("fk_job_batch_id_job_batch"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("unique_key", name=op.f("uq_job_unique_key")),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_batch_id_status", ["batch_id", "status"], unique=False)
        batch_op.create_index("ix_job_status_run_at", ["status", "run_at"], unique=False)


def downgrade():
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status_run_at")
        batch_op.drop_index("ix_job_batch_id_status")
    op.drop_table("job")
    op.drop_table("job_batch")
