"""credential status: Bitstring Status List positions for issued credentials

Revision ID: 0021_credential_status
Revises: 0020_audit_log
Create Date: 2026-12-04 18:45:00.000000

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import lms.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0021_credential_status"
down_revision = "0020_audit_log"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
