"""certificate PDFs move from the database to files named by their SHA-256

Revision ID: 0005_certificate_files
Revises: 0004_accreditation
Create Date: 2026-12-02 19:10:00.000000

Each stored blob is written to the certificate storage folder
(LMS_CERTIFICATE_STORAGE_DIR, default instance/certificates/) and checked before
the column is dropped; the downgrade reads the files back into the column.
"""

import hashlib
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0005_certificate_files"
down_revision = "0004_accreditation"
branch_labels = None
depends_on = None


def _storage_root() -> Path:
    from flask import current_app

    from lms.accreditation import storage

    return storage.storage_dir(current_app.config)


def upgrade():
    from lms.accreditation import storage

    conn = op.get_bind()
    table = sa.table(
        "certificate_file",
        sa.column("id", sa.Integer),
        sa.column("pdf", sa.LargeBinary),
        sa.column("sha256", sa.String),
    )
    root = _storage_root()
    last_id = 0
    while True:
        # In small batches: a register of thousands of PDFs must not be held in memory.
        rows = conn.execute(
            sa.select(table.c.id, table.c.pdf, table.c.sha256)
            .where(table.c.id > last_id)
            .order_by(table.c.id)
            .limit(200)
        ).all()
        if not rows:
            break
        for row in rows:
            digest, _path = storage.write(bytes(row.pdf), root)
            if digest != row.sha256:
                raise RuntimeError(
                    f"certificate file {row.id}: stored bytes do not match the recorded hash"
                )
            storage.read_verified(digest, root)
            last_id = row.id
    with op.batch_alter_table("certificate_file", schema=None) as batch_op:
        batch_op.drop_column("pdf")


def downgrade():
    from lms.accreditation import storage

    with op.batch_alter_table("certificate_file", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    table = sa.table(
        "certificate_file",
        sa.column("id", sa.Integer),
        sa.column("pdf", sa.LargeBinary),
        sa.column("sha256", sa.String),
    )
    root = _storage_root()
    for row in conn.execute(sa.select(table.c.id, table.c.sha256)).all():
        data = storage.read_verified(row.sha256, root)
        assert hashlib.sha256(data).hexdigest() == row.sha256
        conn.execute(table.update().where(table.c.id == row.id).values(pdf=data))
    with op.batch_alter_table("certificate_file", schema=None) as batch_op:
        batch_op.alter_column("pdf", existing_type=sa.LargeBinary(), nullable=False)
