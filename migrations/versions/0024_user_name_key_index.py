"""people in name order: an index (name_key, id) so the administrators' list of everyone
reads its first page from the index instead of sorting every person

Revision ID: 0024_user_name_key_index
Revises: 0023_withdrawn_certificates
Create Date: 2026-12-04 19:30:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0024_user_name_key_index"
down_revision = "0023_withdrawn_certificates"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index("ix_user_name_key_id", ["name_key", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index("ix_user_name_key_id")
