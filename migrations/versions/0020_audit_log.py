"""audit log: an append-only, hash-chained record of issues, re-issues, revocations and decisions

Revision ID: 0020_audit_log
Revises: 0019_run_schedule
Create Date: 2026-12-03 15:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

import lms.db

# revision identifiers, used by Alembic.
revision = "0020_audit_log"
down_revision = "0019_run_schedule"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", lms.db.UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_entry_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_entry_prev_hash")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_subject"), ["subject"], unique=False)
    # Append-only: an entry, once written, cannot be changed (removing one breaks the chain,
    # which `lms audit verify` reports).
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION audit_entry_no_update() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION audit_entry_no_update()"
        )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entry_no_update ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_no_update()")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_subject"))
    op.drop_table("audit_entry")
