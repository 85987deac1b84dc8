"""State-changing routes against other people's things.

:mod:`tests.functional.test_access_matrix` puts every route in front of every role.
This file adds what a role check alone does not show: a request that names
*someone else's* run, day, place, attempt, accreditation or account, sent by a
person who holds the right role for their own. For each such request the answer is
a refusal (403, 404, or the form's own error) and the whole database and the outbox
are the same afterwards.

It also checks that each state-changing route refuses a request without a CSRF token
and changes nothing, and that fields a form does not show (roles, someone else's
id) are ignored.

A state-changing route added to the app must appear in ``CROSS`` (requests with
other people's ids) or in ``NO_FOREIGN_ID`` (with the reason it names nobody else),
or :func:`test_every_state_changing_route_is_checked_for_foreign_ids` fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.accreditation.models import Accreditation, AccreditationStatus
from lms.extensions import db
from lms.learning import services as learning
from lms.learning.models import Attempt, Enrolment
from lms.mfa.models import SecurityKey
from lms.runs import services as runs
from lms.runs.models import AttendanceMark, CourseRun, RunDay, RunFacilitator
from lms.sessions.models import LoginSession
from tests.conftest import PASSWORD, get_csrf, get_user, login, region
from tests.functional.test_access_matrix import (
    ANONYMOUS,
    CASE,
    NEW_PASSWORD,
    PEOPLE,
    ROUTES,
    Route,
    app_routes,
    as_role,
    build_world,
    form_data,
    snapshot,
)

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
OTHER_TRAINEE = "other_trainee"
# A second trainee of the same region, enrolled on the link member course only: no
# place on a run, no attempt, no accreditation, no certificate.
OTHER_TRAINEE_PERSON = ("neighbour@example.org", "Nia Harrington", ("trainee",), "North East")
MISSING_ID = 987_654


def state_changing_routes(app: Flask) -> set[tuple[str, str]]:
    return {(e, m) for e, m in app_routes(app) if m in STATE_CHANGING}


@dataclass(frozen=True)
class Cross:
    """A request naming someone else's thing, and the refusal it must get.

    ``url`` and ``data`` are formatted with the world of :func:`cross_world`.
    ``status`` is the refusal: 403 or 404 for an access check, or the form's own
    error (422, or a redirect back with a message) where the foreign id is simply
    not one of the choices. Nothing may change either way.
    """

    endpoint: str
    method: str
    role: str
    url: str
    status: int
    why: str
    data: dict[str, Any] = field(default_factory=dict)
    location: str | None = None
    needs: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.endpoint}-{self.role}-{self.why.split(':')[0]}"


RUN = frozenset({"run"})
ATTEMPT = frozenset({"attempt"})
ACCREDITATION = frozenset({"accreditation"})
CERTIFICATE = frozenset({"certificate"})

CROSS = [
    Cross(
        "sessions.end",
        "POST",
        OTHER_TRAINEE,
        "/account/sessions/{trainee_session_id}/end",
        404,
        "neighbour: ends another person's logged-in session",
        needs=frozenset({"session"}),
    ),
    Cross(
        "mfa.remove_key",
        "POST",
        OTHER_TRAINEE,
        "/account/two-step/keys/{trainee_key_id}/remove",
        404,
        "neighbour: removes another person's security key",
        data={"password": PASSWORD},
        needs=frozenset({"security_key"}),
    ),
    # A trainee acting on another trainee's place, draft, work and certificate.
    Cross(
        "runs.withdraw",
        "POST",
        OTHER_TRAINEE,
        "/runs/{run_id}/withdraw",
        404,
        "neighbour: gives up the target's place on a run she is not on",
        needs=RUN,
    ),
    Cross(
        "learning.save_draft",
        "POST",
        OTHER_TRAINEE,
        f"/learn/rep/{CASE}/draft",
        404,
        "neighbour: saves a draft on a course she is not enrolled on",
        data={"answer": "Written into someone else's case study."},
        needs=RUN,
    ),
    Cross(
        "learning.activity",
        "POST",
        OTHER_TRAINEE,
        f"/learn/rep/{CASE}",
        302,
        "neighbour: sends a case study on a course she is not enrolled on",
        data={"answer": " ".join(["I would listen to the member."] * 30)},
        location="/courses/rep",
        needs=RUN,
    ),
    Cross(
        "catalogue.enrol",
        "POST",
        OTHER_TRAINEE,
        "/courses/rep/enrol",
        303,
        "prerequisite: joins the rep course without the link member course",
        location="/courses/rep",
    ),
    Cross(
        "review.review",
        "POST",
        OTHER_TRAINEE,
        "/facilitate/reviews/{attempt_id}",
        403,
        "neighbour: marks the target's case study",
        data={"decision": "accepted", "comments": "Looks fine to me."},
        needs=ATTEMPT,
    ),
    Cross(
        "accreditation.revoke",
        "POST",
        OTHER_TRAINEE,
        "/register/certificates/{certificate_id}/revoke",
        403,
        "neighbour: revokes the target's certificate",
        data={"reason": "Out of spite."},
        needs=CERTIFICATE,
    ),
    Cross(
        "accreditation.download",
        "GET",
        OTHER_TRAINEE,
        "/certificates/{number}.pdf",
        404,
        "neighbour: downloads the target's certificate by its number",
        needs=CERTIFICATE,
    ),
    Cross(
        "accreditation.request_",
        "POST",
        OTHER_TRAINEE,
        "/register/requests/{accreditation_id}",
        403,
        "neighbour: decides the target's accreditation",
        data={"decision": "confirm", "note": ""},
        needs=ACCREDITATION,
    ),
    # A facilitator with a run of her own, acting on another facilitator's run.
    Cross(
        "runs.attendance",
        "POST",
        "other_facilitator",
        "/facilitate/runs/{run_id}/days/{day_id}",
        403,
        "other run: marks attendance on a run she does not facilitate",
        data={"status-{trainee_id}": "absent"},
        needs=RUN,
    ),
    Cross(
        "runs.attendance",
        "POST",
        "other_facilitator",
        "/facilitate/runs/{run2_id}/days/{day_id}",
        404,
        "mixed ids: her own run with a day of another run",
        data={"status-{trainee_id}": "absent"},
        needs=RUN,
    ),
    Cross(
        "runs.attendance",
        "POST",
        "facilitator",
        "/facilitate/runs/{run_id}/days/{day_id}",
        302,
        "not on the run: marks someone with no place on it (the mark is not read)",
        data={"status-{other_trainee_id}": "present"},
        needs=RUN,
    ),
    Cross(
        "review.review",
        "POST",
        "other_facilitator",
        "/facilitate/reviews/{attempt_id}",
        403,
        "other run: marks work of a trainee on another facilitator's run",
        data={"decision": "accepted", "comments": "Fine."},
        needs=ATTEMPT,
    ),
    Cross(
        "review.review",
        "POST",
        "facilitator",
        "/facilitate/reviews/{own_attempt_id}",
        403,
        "own: a facilitator with a place on her own run marks her own case study",
        data={"decision": "accepted", "comments": "Excellent work, if I say so myself."},
        needs=frozenset({"attempt", "own_attempt"}),
    ),
    Cross(
        "review.review",
        "POST",
        "facilitator",
        "/facilitate/reviews/{missing_id}",
        404,
        "missing: marks an attempt that does not exist",
        data={"decision": "accepted", "comments": "Fine."},
        needs=ATTEMPT,
    ),
    Cross(
        "feedback.changes",
        "POST",
        "other_facilitator",
        "/facilitate/courses/rep/changes",
        422,
        "other run: ties a 'you said, we did' to a run she does not facilitate",
        data={"run_id": "{run_id}", "you_said": "Too long.", "we_did": "Shortened it."},
        needs=RUN,
    ),
    Cross(
        "feedback.changes",
        "POST",
        "facilitator",
        "/facilitate/courses/link-member/changes",
        403,
        "other course: writes a change for a course she runs no run of",
        data={"run_id": "", "you_said": "Too long.", "we_did": "Shortened it."},
        needs=RUN,
    ),
    # National officers: another region's accreditation and certificate, and their own.
    Cross(
        "accreditation.request_",
        "POST",
        "other_officer",
        "/register/requests/{accreditation_id}",
        403,
        "other region: confirms a North East accreditation from Wales",
        data={"decision": "confirm", "note": ""},
        needs=ACCREDITATION,
    ),
    Cross(
        "accreditation.request_",
        "POST",
        "officer",
        "/register/requests/{own_accreditation_id}",
        403,
        "own: the region's officer confirms her own accreditation",
        data={"decision": "confirm", "note": ""},
        needs=ACCREDITATION,
    ),
    Cross(
        "accreditation.revoke",
        "POST",
        "other_officer",
        "/register/certificates/{certificate_id}/revoke",
        403,
        "other region: revokes a North East certificate from Wales",
        data={"reason": "Wrong region."},
        needs=CERTIFICATE,
    ),
    # Staff trying to raise their own roles or switch off someone else.
    Cross(
        "admin.user",
        "POST",
        "officer",
        "/admin/users/{officer_id}",
        403,
        "own: an officer makes herself an administrator",
        data={"roles": ["officer", "admin"], "region": "{region_id}"},
    ),
    Cross(
        "admin.user",
        "POST",
        "facilitator",
        "/admin/users/{trainee_id}",
        403,
        "someone else: a facilitator changes a trainee's roles",
        data={"roles": ["trainee", "facilitator"], "region": "{region_id}"},
    ),
    Cross(
        "admin.toggle_active",
        "POST",
        "facilitator",
        "/admin/users/{trainee_id}/active",
        403,
        "someone else: a facilitator deactivates a trainee",
    ),
    Cross(
        "admin.send_password_link",
        "POST",
        "officer",
        "/admin/users/{trainee_id}/password-link",
        403,
        "someone else: an officer sends herself a trainee's password link",
    ),
    # The training office with ids that do not belong together.
    Cross(
        "runs.remove_place",
        "POST",
        "admin",
        "/admin/runs/{run2_id}/places/{place_id}/remove",
        404,
        "mixed ids: removes a place through a run it is not on",
        needs=RUN,
    ),
    Cross(
        "runs.move_place",
        "POST",
        "admin",
        "/admin/runs/{run2_id}/places/{place_id}/move",
        404,
        "mixed ids: moves a place through a run it is not on",
        data={"target": "{run2_id}"},
        needs=RUN,
    ),
    Cross(
        "runs.move_place",
        "POST",
        "admin",
        "/admin/runs/{run_id}/places/{place_id}/move",
        302,
        "missing: moves a place to a run that does not exist",
        data={"target": "{missing_id}"},
        location="/admin/runs/{run_id}",
        needs=RUN,
    ),
    Cross(
        "runs.admin_run",
        "POST",
        "admin",
        "/admin/runs/{missing_id}",
        404,
        "missing: edits a run that does not exist",
        needs=RUN,
    ),
    Cross(
        "runs.admin_cancel_run",
        "POST",
        "admin",
        "/admin/runs/{missing_id}/cancel",
        404,
        "missing: cancels a run that does not exist",
        data={"reason": "The venue is closed."},
        needs=RUN,
    ),
    Cross(
        "runs.add_place",
        "POST",
        "admin",
        "/admin/runs/{missing_id}/places",
        404,
        "missing: adds a place to a run that does not exist",
        data={"add-email": "{target_email}"},
        needs=RUN,
    ),
    Cross(
        "runs.sign_up",
        "POST",
        OTHER_TRAINEE,
        "/runs/{missing_id}/sign-up",
        404,
        "missing: signs up for a run that does not exist",
    ),
    Cross(
        "jobs.retry",
        "POST",
        "admin",
        "/admin/jobs/{missing_id}/retry",
        404,
        "missing: retries a job that does not exist",
        needs=frozenset({"jobs"}),
    ),
    Cross(
        "admin.toggle_active",
        "POST",
        "admin",
        "/admin/users/{missing_id}/active",
        404,
        "missing: deactivates an account that does not exist",
    ),
    Cross(
        "admin.send_password_link",
        "POST",
        "admin",
        "/admin/users/{missing_id}/password-link",
        404,
        "missing: sends a link for an account that does not exist",
    ),
    Cross(
        "admin.user",
        "POST",
        "admin",
        "/admin/users/{missing_id}",
        404,
        "missing: edits an account that does not exist",
        data={"roles": ["trainee"], "region": ""},
    ),
    Cross(
        "privacy.admin_export",
        "POST",
        "admin",
        "/admin/privacy/people/{missing_id}/export",
        404,
        "missing: exports an account that does not exist",
    ),
    Cross(
        "course_reviewers.course",
        "POST",
        "admin",
        "/admin/courses/link-member/reviewers",
        422,
        "neighbour: names a trainee, not a facilitator, as a course reviewer",
        data={"user_id": "{other_trainee_id}"},
    ),
    Cross(
        "course_reviewers.remove",
        "POST",
        "admin",
        "/admin/courses/link-member/reviewers/{missing_id}/remove",
        404,
        "missing: removes a reviewer that does not exist",
    ),
    Cross(
        "privacy.erase",
        "POST",
        "admin",
        "/admin/privacy/people/{other_trainee_id}/erase",
        422,
        "neighbour: erases one person with another person's email typed",
        data={"confirm_email": "{target_email}"},
    ),
]

# State-changing routes whose request names no one else's thing, and why.
NO_FOREIGN_ID = {
    ("accounts.login", "POST"): "the email and password are the credential",
    ("accounts.logout", "POST"): "ends the sender's own session",
    ("notifications.mark_all", "POST"): "marks the sender's own notices read",
    ("calendars.settings", "POST"): "makes or revokes the sender's own feed address",
    ("notifications.settings", "POST"): "the sender's own email choices",
    ("sessions.end_others", "POST"): "ends the sender's own other sessions",
    ("accounts.account", "POST"): "changes the sender's own password (extra fields: see below)",
    ("accounts.reset_request", "POST"): "anyone may ask; the answer is the same for every email",
    ("accounts.set_password", "POST"): "the secret token in the URL is the credential",
    ("accreditation.privacy", "POST"): "the sender's own setting (extra fields: see below)",
    ("admin.new_user", "POST"): "creates a new account; administrators only",
    ("admin.import_users", "POST"): "creates new accounts from a file; administrators only",
    ("admin.regions", "POST"): "creates a new region; administrators only",
    ("runs.new_run", "POST"): "creates a new run; administrators only",
    ("jobs.reissue", "POST"): "names a course, not a person; administrators only",
    ("privacy.request_export", "POST"): "asks for the sender's own copy of their data",
    ("mfa.second_step", "POST"): "the pending marker in the sender's own session and the code",
    ("mfa.new_app", "POST"): "sets up the sender's own authenticator app",
    ("mfa.app_setup", "POST"): "confirms the sender's own authenticator app",
    ("mfa.app_off", "POST"): "turns off the sender's own authenticator app",
    ("mfa.new_codes", "POST"): "replaces the sender's own recovery codes",
    ("mfa.login_key_options", "POST"): "the pending marker in the sender's own session",
    ("mfa.key_options", "POST"): "a challenge for the sender's own new key",
    ("mfa.add_key", "POST"): "adds a key to the sender's own account",
    ("verify.by_number", "POST"): "public look-up, changes nothing",
    ("verify.by_file", "POST"): "public look-up, changes nothing",
    ("verify.by_token", "POST"): "public look-up, changes nothing",
    ("credential_verify.check", "POST"): "public credential check, changes nothing",
    ("credential_verify.api_verify", "POST"): "public credential check, changes nothing",
}


def cross_world(app: Flask, needs: frozenset[str]) -> dict[str, Any]:
    """The world of the access matrix, plus what the foreign-id requests need.

    Always: a second trainee (``other_trainee``) and an id no row has (``missing_id``).
    With ``run``: the other facilitator runs the second run, so she is a facilitator
    with a run of her own, acting on another's. With ``accreditation``: the region's
    officer also waits for an accreditation of her own. With ``own_attempt``: the
    facilitator has a place on her own run and has sent its case study for review.
    """
    world = build_world(app, needs - {"own_attempt"})
    world["missing_id"] = MISSING_ID
    with app.app_context():
        email, name, roles, region_name = OTHER_TRAINEE_PERSON
        user = accounts.create_user(email, name, roles, region(region_name), send_link=False).user
        accounts.set_password(user, PASSWORD)
        learning.enrol(user, learning.catalogue().get("link-member"))
        world["other_trainee_id"] = user.id
        if "run_id" in world:
            db.session.add(
                RunFacilitator(run_id=world["run2_id"], user_id=world["other_facilitator_id"])
            )
        if "accreditation" in needs:
            officer = get_user(app, world["officer_id"])
            own = Accreditation(
                user_id=officer.id,
                course_slug="rep",
                course_version=learning.catalogue().get("rep").version,
                region_id=officer.region_id,
                status=AccreditationStatus.PENDING.value,
            )
            db.session.add(own)
            db.session.flush()
            world["own_accreditation_id"] = own.id
        if "own_attempt" in needs:
            facilitator = get_user(app, world["facilitator_id"])
            link_member = learning.catalogue().get("link-member")
            enrolment = learning.get_enrolment(facilitator, link_member)
            enrolment.completed_at = enrolment.enrolled_at
            enrolment.completed_version = link_member.version
            runs.sign_up(facilitator, db.session.get(CourseRun, world["run_id"]))
        if "security_key" in needs:
            key = SecurityKey(
                user_id=world["trainee_id"],
                credential_id="a-credential-of-the-target",
                public_key=b"not checked here",
                sign_count=0,
                name="Target's key",
                created_at=0,
            )
            db.session.add(key)
            db.session.flush()
            world["trainee_key_id"] = key.id
        db.session.commit()
    if "session" in needs:
        # The target trainee is logged in somewhere: her login_session row.
        as_role(app, "trainee")
        with app.app_context():
            world["trainee_session_id"] = db.session.scalar(
                select(LoginSession.id).where(LoginSession.user_id == world["trainee_id"])
            )
        assert world["trainee_session_id"] is not None
    if "own_attempt" in needs:
        client = as_role(app, "facilitator")
        answer = " ".join(["I would ask the member what outcome they want."] * 20)
        response = client.post(
            f"/learn/rep/{CASE}",
            data={"csrf_token": get_csrf(client, f"/learn/rep/{CASE}"), "answer": answer},
        )
        assert response.status_code == 302, response.status_code
        with app.app_context():
            world["own_attempt_id"] = db.session.scalar(
                select(Attempt.id)
                .join(Enrolment, Enrolment.id == Attempt.enrolment_id)
                .where(Attempt.activity_key == CASE, Enrolment.user_id == world["facilitator_id"])
            )
        assert world["own_attempt_id"] is not None
    return world


def client_for(app: Flask, role: str):
    if role == OTHER_TRAINEE:
        client = app.test_client()
        assert login(client, OTHER_TRAINEE_PERSON[0]).status_code == 302
        return client
    return as_role(app, role)


def test_every_state_changing_route_is_checked_for_foreign_ids(app):
    routes = state_changing_routes(app)
    crossed = {(c.endpoint, c.method) for c in CROSS if c.method in STATE_CHANGING}
    listed = crossed | set(NO_FOREIGN_ID)
    missing = routes - listed
    assert not missing, (
        "state-changing routes with no foreign-id request in CROSS and no reason in "
        f"NO_FOREIGN_ID: {sorted(missing)}"
    )
    stale = listed - routes
    assert not stale, f"rows for state-changing routes the app does not have: {sorted(stale)}"
    both = crossed & set(NO_FOREIGN_ID)
    assert not both, f"in CROSS and also said to name no one else: {sorted(both)}"


def test_every_state_changing_route_has_a_matrix_row_refusing_someone(app):
    """Each state-changing route is in the role matrix, and the matrix refuses someone there
    (or the route is one anyone may use)."""
    rows = {(r.endpoint, r.method): r for r in ROUTES}
    for key in sorted(state_changing_routes(app)):
        assert key in rows, f"{key}: no row in test_access_matrix.ROUTES"
        row = rows[key]
        if ANONYMOUS not in row.allowed:
            continue
        assert key in NO_FOREIGN_ID, f"{key}: open to everyone, say why in NO_FOREIGN_ID"


@pytest.mark.parametrize("case", CROSS, ids=[c.id for c in CROSS])
def test_foreign_ids_are_refused_and_change_nothing(app, case: Cross):
    world = cross_world(app, case.needs)
    client = client_for(app, case.role)
    url = case.url.format(**world)
    data = {
        key.format(**world): [v.format(**world) for v in value]
        if isinstance(value, list)
        else value.format(**world)
        for key, value in case.data.items()
    }
    data["csrf_token"] = get_csrf(client, "/password/reset")
    before = snapshot(app)
    response = client.open(url, method=case.method, data=data)
    where = f"{case.method} {url} as {case.role} ({case.why})"
    assert response.status_code == case.status, f"{where}: {response.status_code}"
    if case.location is not None:
        assert response.location == case.location.format(**world), (
            f"{where}: sent to {response.location}"
        )
    assert snapshot(app) == before, f"{where}: refused, but something changed"


# Without a CSRF token --------------------------------------------------------------------


def _allowed_role(route: Route) -> str:
    for role in ("admin", "facilitator", "officer", "trainee"):
        if role in route.allowed:
            return role
    return ANONYMOUS


CSRF_CASES = [
    pytest.param(route, id=route.id)
    for route in ROUTES
    if route.method in STATE_CHANGING and route.changes
]


@pytest.mark.parametrize("route", CSRF_CASES)
def test_state_changing_requests_without_a_csrf_token_change_nothing(app, route: Route):
    """Someone allowed to use the route, a request that would change something, but no
    token (as from a form on another site): nothing changes."""
    world = build_world(app, route.needs)
    role = _allowed_role(route)
    client = as_role(app, role)
    url = route.url.format(**world)
    data = form_data(route, world)
    before = snapshot(app)
    response = client.open(url, method=route.method, data=data)
    where = f"{route.method} {url} as {role} without a token"
    assert response.status_code < 500, f"{where}: {response.status_code}"
    assert snapshot(app) == before, f"{where}: something changed"


# State-changing routes the matrix does not mark as changing anything, and why they are
# not tried without a token here.
CSRF_NOT_TRIED = {
    ("accounts.login", "POST"): "test_accounts.py::test_login_without_csrf_token_is_refused",
    ("accounts.logout", "POST"): "tried below: the session outlives a logout without a token",
    ("notifications.mark_all", "POST"): (
        "test_notifications.py::test_marking_all_read_needs_the_form_token"
    ),
    ("sessions.end", "POST"): "test_sessions.py::test_ending_a_session_needs_the_form_token",
    ("sessions.end_others", "POST"): "test_sessions.py::test_ending_a_session_needs_the_form_token",
    ("catalogue.enrol", "POST"): "the matrix's people are already enrolled: nothing to change",
    ("runs.sign_up", "POST"): "the matrix's people cannot sign up: nothing to change",
    ("mfa.second_step", "POST"): "test_mfa.py::test_setting_up_and_turning_off_need_the_form_token",
    ("mfa.new_app", "POST"): "test_mfa.py::test_setting_up_and_turning_off_need_the_form_token",
    ("mfa.app_setup", "POST"): "test_mfa.py::test_confirming_an_app_needs_the_form_token",
    ("mfa.app_off", "POST"): "test_mfa.py::test_setting_up_and_turning_off_need_the_form_token",
    ("mfa.new_codes", "POST"): "test_mfa.py::test_setting_up_and_turning_off_need_the_form_token",
    ("mfa.login_key_options", "POST"): "test_mfa.py::test_key_routes_need_the_form_token",
    ("mfa.key_options", "POST"): "test_mfa.py::test_key_routes_need_the_form_token",
    ("mfa.add_key", "POST"): "test_mfa.py::test_key_routes_need_the_form_token",
    ("mfa.remove_key", "POST"): "test_mfa.py::test_key_routes_need_the_form_token",
    ("verify.by_number", "POST"): "public look-up, changes nothing",
    ("verify.by_file", "POST"): "public look-up, changes nothing",
    ("verify.by_token", "POST"): "public look-up, changes nothing",
    ("credential_verify.check", "POST"): "public credential check, changes nothing",
    ("credential_verify.api_verify", "POST"): "public credential check, changes nothing",
}


def test_every_state_changing_route_is_tried_without_a_csrf_token(app):
    tried = {(r.endpoint, r.method) for r in ROUTES if r.method in STATE_CHANGING and r.changes}
    missing = state_changing_routes(app) - tried - set(CSRF_NOT_TRIED)
    assert not missing, (
        f"mark changes=True in test_access_matrix.ROUTES or say why in CSRF_NOT_TRIED: "
        f"{sorted(missing)}"
    )
    assert not tried & set(CSRF_NOT_TRIED), "in CSRF_NOT_TRIED but tried all the same"


def test_logout_without_a_csrf_token_keeps_the_session(app):
    build_world(app)
    client = as_role(app, "trainee")
    response = client.post("/logout")
    assert response.status_code in (302, 400), response.status_code
    assert client.get("/dashboard").status_code == 200


# Fields the form does not show --------------------------------------------------------


def test_password_change_ignores_role_email_and_region_fields(app):
    world = cross_world(app, frozenset())
    client = as_role(app, "trainee")
    response = client.post(
        "/account",
        data={
            "csrf_token": get_csrf(client, "/account"),
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "roles": "admin",
            "email": "taken.over@example.org",
            "region": str(region_id_of(app, "Wales")),
            "is_active": "",
            "id": str(world["other_trainee_id"]),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        me = get_user(app, world["trainee_id"])
        assert me.email == PEOPLE["trainee"][0]
        assert [r.role for r in me.roles] == ["trainee"]
        assert me.region_id == region("North East").id
        assert me.is_active
        neighbour = get_user(app, world["other_trainee_id"])
        assert accounts.authenticate(neighbour.email, PASSWORD) is not None


def test_privacy_setting_changes_only_the_senders_own(app):
    world = cross_world(app, frozenset())
    client = client_for(app, OTHER_TRAINEE)
    response = client.post(
        "/certificates/privacy",
        data={
            "csrf_token": get_csrf(client, "/certificates"),
            "is_name_public": "yes",
            "user_id": str(world["trainee_id"]),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        flags = dict(db.session.execute(select(User.id, User.is_name_public)).all())
    assert flags[world["other_trainee_id"]] is True
    assert flags[world["trainee_id"]] is False


def test_attendance_ignores_marks_for_people_not_on_the_page(app):
    """A mark for someone without a place sits outside the roster the form reads: it is
    refused (see CROSS), and a run-day id from the form body is never used."""
    world = cross_world(app, RUN)
    client = as_role(app, "facilitator")
    with app.app_context():
        other_day = db.session.scalar(select(RunDay.id).where(RunDay.run_id == world["run2_id"]))
    response = client.post(
        "/facilitate/runs/{run_id}/days/{day_id}".format(**world),
        data={
            "csrf_token": get_csrf(client, "/password/reset"),
            f"status-{world['trainee_id']}": "present",
            "run_day_id": str(other_day),
            "day_id": str(other_day),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        marks = db.session.execute(select(AttendanceMark.run_day_id, AttendanceMark.user_id)).all()
    assert marks == [(world["day_id"], world["trainee_id"])]


def region_id_of(app: Flask, name: str) -> int:
    with app.app_context():
        return region(name).id


# No directory listings, no files outside static/ ----------------------------------------

HIDDEN_PATHS = [
    "/static/",
    "/static/css/",
    "/static/../instance/secret_key",
    "/static/%2e%2e/instance/secret_key",
    "/static/..%2finstance/secret_key",
    "/instance/secret_key",
    "/.git/config",
    "/.env",
    "/static/.DS_Store",
    "/certificates/",
    "/migrations/env.py",
]


@pytest.mark.parametrize("path", HIDDEN_PATHS)
def test_no_directory_listing_and_nothing_outside_static(app, path):
    build_world(app)
    for role in (ANONYMOUS, "admin"):
        response = as_role(app, role).get(path)
        body = response.get_data()
        assert response.status_code in (302, 404), f"{path} as {role}: {response.status_code}"
        assert app.config["SECRET_KEY"].encode() not in body, path
        assert b"Index of" not in body and b"[core]" not in body, path
