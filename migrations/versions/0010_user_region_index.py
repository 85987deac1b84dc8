"""people indexed by home region (the register starts from a region's people)

Revision ID: 0010_user_region_index
Revises: 0009_review_items
Create Date: 2026-12-03 09:30:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_user_region_index"
down_revision = "0009_review_items"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_region_id"), ["region_id"], unique=False)


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_region_id"))
