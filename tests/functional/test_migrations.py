"""Migrations and models agree, and upgrading an existing database keeps its data."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import select

from lms.accounts.models import User
from lms.extensions import db


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_upgrade_is_repeatable_and_keeps_data(app, make):
    user_id = make("trainee", email="kept@example.org")
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        assert db.session.get(User, user_id).email == "kept@example.org"


def test_downgrade_and_upgrade_round_trip(tmp_path):
    from lms import create_app
    from tests.conftest import base_config

    url = f"sqlite:///{tmp_path / 'round.db'}"
    app = create_app(base_config(url, tmp_path / "instance"))
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory)
        downgrade(directory=directory, revision="base")
        upgrade(directory=directory)
        assert db.session.scalars(select(User)).all() == []
        db.engine.dispose()
