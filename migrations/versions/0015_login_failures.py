"""failed logins counted per (email, address) pair and per account, under hashed keys

Revision ID: 0015_login_failures
Revises: 0014_sessions
Create Date: 2026-12-03 10:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015_login_failures"
down_revision = "0014_sessions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_failure",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.Column("notified_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failure_last_at"), ["last_at"], unique=False)


def downgrade():
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_failure_last_at"))
    op.drop_table("login_failure")
