"""withdrawn certificates: erasure keeps an anonymous record; subject access exports

Revision ID: 0023_withdrawn_certificates
Revises: 0022_course_reviewers
Create Date: 2026-12-04 18:45:00.000000

A certificate whose holder's data is erased (lms.privacy) loses its links to the person
and the accreditation (both nullable now) and its personal fields, and keeps number,
course, dates and file hashes with ``withdrawn_at`` set: verification shows it as
withdrawn. ``privacy_export`` records the copies of a person's data asked for.
"""

import sqlalchemy as sa
from alembic import op

import lms.db

# revision identifiers, used by Alembic.
revision = "0023_withdrawn_certificates"
down_revision = "0022_course_reviewers"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", lms.db.UTCDateTime(), nullable=True))
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("accreditation_id", existing_type=sa.Integer(), nullable=True)
    op.create_table(
        "privacy_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("ready_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("expires_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("file_name", sa.String(length=80), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user.id"],
            name=op.f("fk_privacy_export_requested_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_privacy_export_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_export")),
    )
    with op.batch_alter_table("privacy_export", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_export_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("privacy_export", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_export_user_id"))
    op.drop_table("privacy_export")
    # Withdrawn certificates name nobody: they cannot go back to a person, so they go.
    certificate = sa.table("certificate", sa.column("id"), sa.column("user_id"))
    certificate_file = sa.table("certificate_file", sa.column("certificate_id"))
    orphans = sa.select(certificate.c.id).where(certificate.c.user_id.is_(None))
    op.execute(certificate_file.delete().where(certificate_file.c.certificate_id.in_(orphans)))
    op.execute(certificate.delete().where(certificate.c.user_id.is_(None)))
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.alter_column("accreditation_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("withdrawn_at")
