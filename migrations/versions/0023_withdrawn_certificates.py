"""withdrawn certificates: erasure keeps an anonymous record

Revision ID: 0023_withdrawn_certificates
Revises: 0022_course_reviewers
Create Date: 2026-12-04 18:45:00.000000

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import lms.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0023_withdrawn_certificates"
down_revision = "0022_course_reviewers"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
