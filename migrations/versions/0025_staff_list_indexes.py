"""staff lists at scale: indexes for the officer's certificates list and other staff pages

Revision ID: 0025_staff_list_indexes
Revises: 0024_user_name_key_index
Create Date: 2026-12-04 19:35:00.000000

"""

import sqlalchemy as sa
from alembic import op

import lms.db  # noqa: F401

# revision identifiers, used by Alembic.
revision = "0025_staff_list_indexes"
down_revision = "0024_user_name_key_index"
branch_labels = None
depends_on = None


def upgrade():
    # The officer's certificates list pages newest first (issued_at DESC, id): its first
    # pages are read along this index instead of sorting all of a region's certificates.
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(
            "ix_certificate_issued_at", [sa.text("issued_at DESC"), "id"], unique=False
        )
    # A course reviewer's part of the review queue (a course's work from trainees whom no
    # run brings to a facilitator) is a range of this index instead of every row.
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_item_course",
            ["course_slug", "is_waiting", "user_id", "activity_key", "submitted_at"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_index("ix_review_item_course")
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_index("ix_certificate_issued_at")
