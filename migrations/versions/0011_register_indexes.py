"""register indexes: accreditation records by status, certificates by expiry

Revision ID: 0011_register_indexes
Revises: 0010_user_region_index
Create Date: 2026-12-03 09:45:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_register_indexes"
down_revision = "0010_user_region_index"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("accreditation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accreditation_status"), ["status"], unique=False)
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_expires_at"), ["expires_at"], unique=False)


def downgrade():
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_expires_at"))
    with op.batch_alter_table("accreditation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accreditation_status"))
