"""course reviewers: who reviews a course's work when no run applies

Revision ID: 0022_course_reviewers
Revises: 0021_credential_status
Create Date: 2026-12-04 18:45:00.000000

"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import lms.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0022_course_reviewers"
down_revision = "0021_credential_status"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
