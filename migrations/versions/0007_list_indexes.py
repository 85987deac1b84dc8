"""indexes for staff lists on large sites: feedback of one run

Revision ID: 0007_list_indexes
Revises: 0006_jobs
Create Date: 2026-12-03 07:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_list_indexes"
down_revision = "0006_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("feedback_response", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_response_run", ["run_id", "activity_key"], unique=False)


def downgrade():
    with op.batch_alter_table("feedback_response", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_response_run")
