"""people's name key (normalised, case-folded name) for the register's sort and search,
indexed with the region

Revision ID: 0013_user_name_key
Revises: 0012_user_region_partial
Create Date: 2026-12-03 12:00:00.000000

"""

import unicodedata

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_user_name_key"
down_revision = "0012_user_region_partial"
branch_labels = None
depends_on = None


def name_key(name):
    # lms.accounts.models.name_key as of this revision (copied: a migration must not
    # change meaning when the application's function does).
    folded = unicodedata.normalize("NFKC", " ".join((name or "").split())).casefold()
    return folded[:200]


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    user = sa.table("user", sa.column("id", sa.Integer), sa.column("name"), sa.column("name_key"))
    rows = bind.execute(sa.select(user.c.id, user.c.name)).all()
    # Computed here, as the application computes it (Unicode-aware, the same on SQLite
    # and PostgreSQL), in batches.
    for start in range(0, len(rows), 5000):
        bind.execute(
            user.update()
            .where(user.c.id == sa.bindparam("uid"))
            .values(name_key=sa.bindparam("key")),
            [{"uid": i, "key": name_key(n)} for i, n in rows[start : start + 5000]],
        )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=200), nullable=False)
        batch_op.create_index(
            "ix_user_region_name_key",
            ["region_id", "name_key"],
            unique=False,
            sqlite_where=sa.text("region_id IS NOT NULL"),
            postgresql_where=sa.text("region_id IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index("ix_user_region_name_key")
        batch_op.drop_column("name_key")
