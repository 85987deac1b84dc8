"""credential status: Bitstring Status List positions for issued credentials

Revision ID: 0021_credential_status
Revises: 0020_audit_log
Create Date: 2026-12-04 18:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

import lms.db

# revision identifiers, used by Alembic.
revision = "0021_credential_status"
down_revision = "0020_audit_log"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "credential_status_list",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("published", sa.Text(), nullable=True),
        sa.Column("published_at", lms.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", lms.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_status_list")),
    )
    op.create_table(
        "credential_status_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", lms.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_credential_status_entry_certificate_id_certificate"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["credential_status_list.id"],
            name=op.f("fk_credential_status_entry_list_id_credential_status_list"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_status_entry")),
        sa.UniqueConstraint(
            "certificate_id", name=op.f("uq_credential_status_entry_certificate_id")
        ),
        sa.UniqueConstraint(
            "list_id", "position", name=op.f("uq_credential_status_entry_list_id_position")
        ),
    )
    with op.batch_alter_table("credential_status_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credential_status_entry_list_id"), ["list_id"], unique=False
        )
    _positions_for_existing_certificates()


LENGTH = 131_072
FILL_LIMIT = LENGTH // 2


def _positions_for_existing_certificates() -> None:
    """Give certificates issued before status lists their random positions now, so that
    downloading their credential later does not have to write."""
    import secrets
    from datetime import UTC, datetime

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, revoked_at FROM certificate ORDER BY id")).fetchall()
    if not rows:
        return
    now = datetime.now(UTC)
    lists = sa.table(
        "credential_status_list",
        sa.column("id", sa.Integer),
        sa.column("purpose", sa.String),
        sa.column("length", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("created_at", lms.db.UTCDateTime()),
    )
    entries = sa.table(
        "credential_status_entry",
        sa.column("list_id", sa.Integer),
        sa.column("position", sa.Integer),
        sa.column("certificate_id", sa.Integer),
        sa.column("revoked", sa.Boolean),
        sa.column("created_at", lms.db.UTCDateTime()),
    )
    draw = secrets.SystemRandom()
    for number, start in enumerate(range(0, len(rows), FILL_LIMIT), 1):
        part = rows[start : start + FILL_LIMIT]
        op.bulk_insert(
            lists,
            [
                {
                    "id": number,
                    "purpose": "revocation",
                    "length": LENGTH,
                    "version": 1,
                    "created_at": now,
                }
            ],
        )
        positions = draw.sample(range(LENGTH), len(part))
        op.bulk_insert(
            entries,
            [
                {
                    "list_id": number,
                    "position": position,
                    "certificate_id": row[0],
                    "revoked": row[1] is not None,
                    "created_at": now,
                }
                for row, position in zip(part, positions, strict=True)
            ],
        )


def downgrade():
    with op.batch_alter_table("credential_status_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credential_status_entry_list_id"))
    op.drop_table("credential_status_entry")
    op.drop_table("credential_status_list")
