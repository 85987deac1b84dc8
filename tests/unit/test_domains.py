"""The app assembles itself from its domains, and pages that keep typed text on a
lapsed form token say so on the view (one mechanism), not in a list of endpoints."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import lms
from lms.csrf import OWN_CHECK

ROOT = Path(lms.__file__).parent


def test_every_domain_adds_itself_through_its_init_app(app):
    for name in lms.DOMAINS:
        module = importlib.import_module(f"lms.{name}")
        assert callable(getattr(module, "init_app", None)), name
    # Every blueprint of the app comes from a domain (none is registered by create_app).
    source = inspect.getsource(lms.create_app)
    assert "register_blueprint" not in source
    assert {bp.import_name.split(".")[1] for bp in app.blueprints.values()} <= set(lms.DOMAINS)


def test_every_package_with_pages_is_a_domain():
    for package in sorted(p.parent.name for p in ROOT.glob("*/routes.py")):
        assert package in lms.DOMAINS, f"lms/{package} has routes but is not in lms.DOMAINS"


def test_no_list_of_csrf_exempt_endpoints():
    tree = ast.parse((ROOT / "__init__.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "exempt"
    ]
    assert calls == []


def test_views_that_skip_the_global_check_check_the_token_themselves(app):
    exempt = app.extensions["csrf"]._exempt_views
    # Two answers need no token at all, each saying why on its view: the QR code's page
    # (checking a surname changes nothing and only its sender reads the answer) and the
    # JSON API that checks a pasted credential (no session, changes nothing). Every other
    # exempt view is marked keeps_typed_text and checks the token itself.
    assert exempt - OWN_CHECK == {
        "lms.accreditation.verify.by_token",
        "lms.credentials.verify_routes.api_verify",
    }
    for location in OWN_CHECK:
        module_name, _, view_name = location.rpartition(".")
        view = getattr(importlib.import_module(module_name), view_name)
        body = inspect.getsource(inspect.unwrap(view))
        assert "token_lapsed(" in body or "validate" in body, location
