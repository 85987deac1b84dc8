"""The register's "expiring soon" box: valid certificates of the viewer's regions that lapse
within their course's reminder window, soonest first (read through the expiry index)."""

from __future__ import annotations

from datetime import timedelta

from lms.accounts.models import User
from lms.accreditation import register
from lms.accreditation import services as accreditation
from lms.db import utcnow
from lms.extensions import db
from tests.functional.accreditation_helpers import write_plain_templates


def test_expiring_box_keeps_to_the_window_the_region_and_valid_certificates(
    app, make, app_with, tmp_path
):
    write_plain_templates(tmp_path / "plain", "<p>{{ number }}</p>")
    plain = app_with(LMS_CERTIFICATES_DIR=str(tmp_path / "plain"))
    officer = make("officer", email="officer.ne@example.org", region_name="North East")
    admin = make("admin", email="office@example.org", region_name=None)
    # (region, days until expiry, revoked?)
    plan = {
        "soon": ("North East", 5, False),
        "later": ("North East", 50, False),
        "far": ("North East", 400, False),
        "lapsed": ("North East", -3, False),
        "revoked": ("North East", 10, True),
        "london": ("London", 7, False),
    }
    ids = {
        key: make("trainee", email=f"{key}@example.org", region_name=r)
        for key, (r, _d, _x) in plan.items()
    }
    with plain.app_context():
        course = plain.extensions["lms.courses"].get("rep")
        window = course.certificate.reminder_days
        assert 50 < window < 400
        actor = db.session.get(User, admin)
        for key, (_region, days, revoked) in plan.items():
            cert = accreditation.grant_prior(db.session.get(User, ids[key]), course, "Pilot")
            cert.expires_at = utcnow() + timedelta(days=days)
            if revoked:
                accreditation.revoke(cert, actor, "Issued by mistake")
        db.session.commit()
    with app.test_request_context("/register"):
        seen = register.expiring(db.session.get(User, officer))
        assert seen.total == 2
        assert [c.user.email for c in seen.items] == ["soon@example.org", "later@example.org"]
        everyone = register.expiring(db.session.get(User, admin))
        assert [c.user.email for c in everyone.items] == [
            "soon@example.org",
            "london@example.org",
            "later@example.org",
        ]
        assert len(register.expiring(db.session.get(User, admin), limit=1).items) == 1
