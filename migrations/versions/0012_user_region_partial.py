"""people's region index made partial (people with a region), so SQLite does not read
every person through it

Revision ID: 0012_user_region_partial
Revises: 0011_register_indexes
Create Date: 2026-12-03 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_user_region_partial"
down_revision = "0011_register_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index("ix_user_region_id")
        batch_op.create_index(
            "ix_user_region_id",
            ["region_id"],
            unique=False,
            sqlite_where=sa.text("region_id IS NOT NULL"),
            postgresql_where=sa.text("region_id IS NOT NULL"),
        )


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index("ix_user_region_id")
        batch_op.create_index("ix_user_region_id", ["region_id"], unique=False)
