"""Every route, every role: allowed or refused, and nothing in between.

``ROUTES`` is the explicit table. A route added to the app without a row here makes
:func:`test_every_route_is_in_the_table` fail, so each new route has to say who may
use it. Allowed means the page's normal answer (a 200, or the redirect that is its
success flow); refused means a redirect to the login page for someone logged out
and 403 for someone logged in without the right (404 where a route hides whether
the thing exists). A refused request never changes anything: the whole database
and the outbox are compared before and after.

Besides the four roles, two people test the boundaries of DESIGN.md: a facilitator
who does not facilitate the run, and a national officer of another region.
Requests that name someone else's run, day, place, attempt, accreditation or
account, CSRF-less requests and ignored extra fields are in
``test_access_matrix_post.py``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accreditation import services as accreditation
from lms.accreditation.models import Accreditation, AccreditationStatus, CertificateFile
from lms.extensions import db
from lms.jobs.models import Job, JobBatch, JobStatus
from lms.learning import services as learning
from lms.learning.models import Attempt
from lms.runs import services as runs
from tests.conftest import PASSWORD, csrf_from, get_csrf, get_user, login, region

ANONYMOUS = "anonymous"
ROLES = [
    ANONYMOUS,
    "trainee",
    "facilitator",
    "other_facilitator",
    "officer",
    "other_officer",
    "admin",
]
LOGGED_IN = frozenset(ROLES) - {ANONYMOUS}
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
FACILITATORS = frozenset({"facilitator", "other_facilitator", "admin"})
THIS_RUN = frozenset({"facilitator", "admin"})  # the run's own facilitator
OFFICERS = frozenset({"officer", "other_officer", "admin"})
THIS_REGION = frozenset({"officer", "admin"})  # the officer for the trainee's region

TARGET_EMAIL = "target@example.org"
# Who each role logs in as. The trainee is the person the other roles act on.
PEOPLE = {
    "trainee": (TARGET_EMAIL, "Tegan Morris", ("trainee",), "North East"),
    "facilitator": ("facilitator@example.org", "Femi Adeyemi", ("facilitator",), "North East"),
    "other_facilitator": ("elsewhere@example.org", "Olwen Price", ("facilitator",), "Wales"),
    "officer": ("officer@example.org", "Tomasz Wronski", ("officer",), "North East"),
    "other_officer": ("officer.wales@example.org", "Gareth Lloyd", ("officer",), "Wales"),
    "admin": ("admin@example.org", "Morwenna Pryce", ("admin",), "London"),
}
CASE = "representing-members-case"
NEW_PASSWORD = "a fresh password for the matrix"
UPLOAD = object()  # in ``data``: the certificate's PDF as an uploaded file

Data = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]

# A VC-JWT naming another issuer (did:web:elsewhere.example): checking it changes nothing.
FOREIGN_JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImRpZDp3ZWI6ZWxzZXdoZXJlLmV4YW1wbGUja2V5LTEifQ."
    "eyJ0eXBlIjpbIlZlcmlmaWFibGVDcmVkZW50aWFsIiwiT3BlbkJhZGdlQ3JlZGVudGlhbCJdLCJpc3N1ZXIiOiJk"
    "aWQ6d2ViOmVsc2V3aGVyZS5leGFtcGxlIiwiaXNzIjoiZGlkOndlYjplbHNld2hlcmUuZXhhbXBsZSIsImNyZWRl"
    "bnRpYWxTdWJqZWN0Ijp7fX0.c2lnbmF0dXJl"
)


@dataclass(frozen=True)
class Route:
    """One (endpoint, method) of the app and who may use it.

    ``url`` and the keys and values of ``data`` are formatted with the test's world
    (see :func:`build_world`). ``ok`` is the allowed answer: a status and, for a
    redirect, its location (ending in ``*`` for a prefix); ``ok_logged_in``
    overrides it for logged-in roles. ``refused`` gives a status other than 403 for
    some logged-in roles. ``changes`` says an allowed POST changes the database, so
    that the refusal check means something. ``needs`` names the parts of the world
    the route acts on.
    """

    endpoint: str
    method: str
    url: str
    allowed: frozenset[str]
    ok: tuple[int, str | None] = (200, None)
    ok_logged_in: tuple[int, str | None] | None = None
    refused: dict[str, int] = field(default_factory=dict)
    data: Data = field(default_factory=dict)
    changes: bool = False
    needs: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.endpoint}-{self.method}"


def review_data(world: dict[str, Any]) -> dict[str, Any]:
    marks = {f"criterion-{key}": "met" for key in world["criteria"]}
    return {"decision": "accepted", "comments": "Well reasoned.", **marks}


def run_data(world: dict[str, Any]) -> dict[str, Any]:
    return {
        "course_slug": "rep",
        "title": "Rep course, York",
        "days-0": world["day1"],
        "days-1": world["day2"],
        "capacity": "8",
        "venue": "York",
        "is_open": "y",
        "facilitator_ids": str(world["facilitator_id"]),
    }


RUN = frozenset({"run"})
JOBS = frozenset({"jobs"})
HIDDEN = dict.fromkeys(LOGGED_IN - {"trainee"}, 404)  # only the trainee has one

ROUTES = [
    # Public pages. Logged-in people are sent on to their dashboard from / and /login.
    Route("catalogue.home", "GET", "/", EVERYONE, ok_logged_in=(302, "/dashboard")),
    Route("accounts.login", "GET", "/login", EVERYONE, ok_logged_in=(302, "/dashboard")),
    Route(
        "accounts.login",
        "POST",
        "/login",
        EVERYONE,
        ok=(302, "/dashboard"),
        data={"email": "{target_email}", "password": PASSWORD},
    ),
    Route("accounts.reset_request", "GET", "/password/reset", EVERYONE),
    Route(
        "accounts.reset_request",
        "POST",
        "/password/reset",
        EVERYONE,
        ok=(302, "/login"),
        data={"email": "{target_email}"},
        changes=True,
    ),
    Route("accounts.set_password", "GET", "/password/set/{token}", EVERYONE),
    Route(
        "accounts.set_password",
        "POST",
        "/password/set/{token}",
        EVERYONE,
        ok=(302, "/dashboard"),
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        changes=True,
    ),
    # Checking a certificate: anyone, logged in or not.
    Route("verify.index", "GET", "/verify", EVERYONE),
    Route(
        "verify.by_number",
        "POST",
        "/verify",
        EVERYONE,
        data={"number": "{number}", "surname": "Morris"},
        needs=frozenset({"certificate"}),
    ),
    Route(
        "verify.by_file",
        "POST",
        "/verify/file",
        EVERYONE,
        data={"certificate": UPLOAD, "surname": "Morris"},
        needs=frozenset({"certificate"}),
    ),
    Route(
        "verify.by_token", "GET", "/verify/{cert_token}", EVERYONE, needs=frozenset({"certificate"})
    ),
    Route(
        "verify.by_token",
        "POST",
        "/verify/{cert_token}",
        EVERYONE,
        data={"surname": "Morris"},
        needs=frozenset({"certificate"}),
    ),
    Route(
        "verify.api_certificate",
        "GET",
        "/api/v1/certificates/{cert_token}",
        EVERYONE,
        needs=frozenset({"certificate"}),
    ),
    Route("verify.openapi", "GET", "/api/v1/openapi.json", EVERYONE),
    # Checking a pasted credential (here one naming another issuer: a 200 with that verdict).
    Route(
        "credential_verify.check",
        "POST",
        "/verify/credential",
        EVERYONE,
        data={"credential": FOREIGN_JWT},
    ),
    Route(
        "credential_verify.api_verify",
        "POST",
        "/api/credentials/verify",
        EVERYONE,
        data={"credential": FOREIGN_JWT},
    ),
    # Anyone logged in, whatever their role.
    Route("accounts.logout", "POST", "/logout", LOGGED_IN, ok=(302, "/login")),
    Route("accounts.account", "GET", "/account", LOGGED_IN),
    Route(
        "accounts.account",
        "POST",
        "/account",
        LOGGED_IN,
        ok=(302, "/account"),
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        changes=True,
    ),
    # The account page's "Active sessions": one's own only (someone else's id is a 404,
    # see test_access_matrix_post.py and test_sessions.py).
    Route(
        "sessions.end",
        "POST",
        "/account/sessions/987654/end",
        LOGGED_IN,
        ok=(404, None),
    ),
    Route(
        "sessions.end_others",
        "POST",
        "/account/sessions/end-others",
        LOGGED_IN,
        ok=(302, "/account#sessions-h"),
    ),
    # A person's notices and their email choices: their own only.
    Route("notifications.index", "GET", "/notifications", LOGGED_IN),
    Route(
        "notifications.mark_all",
        "POST",
        "/notifications/read",
        LOGGED_IN,
        ok=(302, "/notifications"),
    ),
    Route("notifications.settings", "GET", "/notifications/settings", LOGGED_IN),
    Route(
        "notifications.settings",
        "POST",
        "/notifications/settings",
        LOGGED_IN,
        ok=(302, "/notifications/settings"),
        data={"email_review_returned": "1"},
        changes=True,
    ),
    # The login's second step: without a right password first (a pending marker in the
    # session) it sends everyone back to log in; see test_mfa.py.
    Route(
        "mfa.second_step",
        "GET",
        "/login/second-step",
        EVERYONE,
        ok=(302, "/login"),
        ok_logged_in=(302, "/dashboard"),
    ),
    Route(
        "mfa.second_step",
        "POST",
        "/login/second-step",
        EVERYONE,
        ok=(302, "/login"),
        ok_logged_in=(302, "/dashboard"),
        data={"code": "123456"},
    ),
    # Setting up one's own second factor (the secret being set up lives in the session).
    Route(
        "mfa.new_app",
        "POST",
        "/account/two-step/app/new",
        LOGGED_IN,
        ok=(302, "/account/two-step/app"),
    ),
    Route(
        "mfa.app_setup", "GET", "/account/two-step/app", LOGGED_IN, ok=(302, "/account#two-step-h")
    ),
    Route(
        "mfa.app_setup",
        "POST",
        "/account/two-step/app",
        LOGGED_IN,
        ok=(302, "/account#two-step-h"),
        data={"code": "123456"},
    ),
    Route(
        "mfa.app_off",
        "POST",
        "/account/two-step/app/off",
        LOGGED_IN,
        ok=(302, "/account#two-step-h"),
        data={"password": PASSWORD},
    ),
    Route(
        "mfa.new_codes",
        "POST",
        "/account/two-step/recovery-codes",
        LOGGED_IN,
        ok=(302, "/account#two-step-h"),
        data={"password": PASSWORD},
    ),
    Route(
        "mfa.login_key_options",
        "POST",
        "/login/second-step/key-options",
        EVERYONE,
        ok=(400, None),
    ),
    Route("mfa.key_options", "POST", "/account/two-step/keys/options", LOGGED_IN),
    Route(
        "mfa.add_key",
        "POST",
        "/account/two-step/keys",
        LOGGED_IN,
        ok=(302, "/account#two-step-h"),
        data={"credential": "not an answer from a key", "name": "Blue key"},
    ),
    # One's own keys only (someone else's id is a 404, see test_access_matrix_post.py).
    Route(
        "mfa.remove_key",
        "POST",
        "/account/two-step/keys/987654/remove",
        LOGGED_IN,
        ok=(404, None),
        data={"password": PASSWORD},
    ),
    # A person's own copy of their data (someone else's export id is a 404: see
    # test_privacy_pages.py).
    Route("privacy.my_data", "GET", "/account/my-data", LOGGED_IN),
    Route(
        "privacy.request_export",
        "POST",
        "/account/my-data/export",
        LOGGED_IN,
        ok=(303, "/account/my-data"),
        changes=True,
    ),
    Route(
        "privacy.download",
        "GET",
        "/account/my-data/exports/987654/download",
        LOGGED_IN,
        ok=(404, None),
    ),
    Route("learning.dashboard", "GET", "/dashboard", LOGGED_IN),
    Route("catalogue.index", "GET", "/courses", LOGGED_IN),
    Route("catalogue.course", "GET", "/courses/link-member", LOGGED_IN),
    Route(
        "catalogue.enrol",
        "POST",
        "/courses/link-member/enrol",
        LOGGED_IN,
        # Already enrolled (see build_world): joining again goes back to the course.
        ok=(302, "/learn/link-member/promoting-mip-reading"),
    ),
    Route(
        "learning.resume",
        "GET",
        "/learn/link-member",
        LOGGED_IN,
        ok=(302, "/learn/link-member/promoting-mip-reading"),
    ),
    Route("learning.activity", "GET", "/learn/link-member/promoting-mip-reading", LOGGED_IN),
    Route(
        "learning.activity",
        "POST",
        "/learn/link-member/promoting-mip-reading",
        LOGGED_IN,
        ok=(302, "/learn/link-member/promoting-mip-check"),
        data={"action": "complete"},
        changes=True,
    ),
    Route(
        "learning.save_draft",
        "POST",
        f"/learn/rep/{CASE}/draft",
        frozenset({"trainee"}),
        refused=HIDDEN,  # not on the rep course: nothing to save a draft for
        data={"answer": "First thoughts: listen to the member."},
        changes=True,
        needs=RUN,
    ),
    Route(
        "accreditation.mine", "GET", "/certificates", LOGGED_IN, needs=frozenset({"accreditation"})
    ),
    Route(
        "accreditation.privacy",
        "POST",
        "/certificates/privacy",
        LOGGED_IN,
        ok=(302, "/certificates"),
        data={"is_name_public": "yes"},
        changes=True,
    ),
    Route(
        "accreditation.download",
        "GET",
        "/certificates/{number}.pdf",
        frozenset({"trainee"}) | THIS_REGION,
        # Someone else's certificate: the same 404 whether or not the number exists.
        refused=dict.fromkeys(LOGGED_IN, 404),
        needs=frozenset({"certificate"}),
    ),
    # The certificate as an Open Badges 3.0 credential: the holder's own only.
    Route(
        "credentials.download_jwt",
        "GET",
        "/certificates/{number}/credential.jwt",
        frozenset({"trainee"}),
        refused=dict.fromkeys(LOGGED_IN, 404),
        needs=frozenset({"certificate"}),
    ),
    Route(
        "credentials.download_json",
        "GET",
        "/certificates/{number}/credential.json",
        frozenset({"trainee"}),
        refused=dict.fromkeys(LOGGED_IN, 404),
        needs=frozenset({"certificate"}),
    ),
    Route("credentials.did_json", "GET", "/.well-known/did.json", EVERYONE),
    # The revocation status list (made when the first certificate was issued) and the
    # JSON-LD contexts credentials are signed with: public, like the DID document.
    Route(
        "credentials.status_list",
        "GET",
        "/credentials/status/1",
        EVERYONE,
        needs=frozenset({"certificate"}),
    ),
    Route(
        "credentials.context_file",
        "GET",
        "/credentials/contexts/credentials-v2.jsonld",
        EVERYONE,
    ),
    # A PDF's signed link that is not valid here (forged, expired, another browser's)
    # goes to the download address above, which checks access: the same for everyone.
    Route(
        "accreditation.file",
        "GET",
        "/certificates/files/not-a-signed-link/{number}.pdf",
        EVERYONE,
        ok=(303, "/certificates/{number}.pdf"),
        needs=frozenset({"certificate"}),
    ),
    # Course runs: trainees sign up and give up places.
    Route(
        "runs.sign_up",
        "POST",
        "/runs/{run2_id}/sign-up",
        LOGGED_IN,
        # The trainee has a place on another run, the others lack the link member
        # course: the answer is a message on the course page.
        ok=(303, "/courses/rep"),
        needs=RUN,
    ),
    Route(
        "runs.withdraw",
        "POST",
        "/runs/{run_id}/withdraw",
        frozenset({"trainee"}),
        ok=(302, "/courses/rep"),
        refused=HIDDEN,  # no place to give up
        changes=True,
        needs=RUN,
    ),
    # Facilitators: their own runs only.
    Route("runs.my_runs", "GET", "/facilitate", FACILITATORS, needs=RUN),
    Route("runs.run", "GET", "/facilitate/runs/{run_id}", THIS_RUN, needs=RUN),
    Route("cohorts.grid", "GET", "/facilitate/runs/{run_id}/progress", THIS_RUN, needs=RUN),
    Route("cohorts.grid_csv", "GET", "/facilitate/runs/{run_id}/progress.csv", THIS_RUN, needs=RUN),
    Route("runs.attendance", "GET", "/facilitate/runs/{run_id}/days/{day_id}", THIS_RUN, needs=RUN),
    Route(
        "runs.attendance",
        "POST",
        "/facilitate/runs/{run_id}/days/{day_id}",
        THIS_RUN,
        ok=(302, "/facilitate/runs/{run_id}/days/{day_id}"),
        data={"status-{trainee_id}": "present"},
        changes=True,
        needs=RUN,
    ),
    Route("review.queue", "GET", "/facilitate/reviews", FACILITATORS, needs=frozenset({"attempt"})),
    Route(
        "review.review",
        "GET",
        "/facilitate/reviews/{attempt_id}",
        THIS_RUN,
        needs=frozenset({"attempt"}),
    ),
    Route(
        "review.review",
        "POST",
        "/facilitate/reviews/{attempt_id}",
        THIS_RUN,
        ok=(302, "/facilitate/reviews"),
        data=review_data,
        changes=True,
        needs=frozenset({"attempt"}),
    ),
    Route("feedback.run_results", "GET", "/facilitate/runs/{run_id}/feedback", THIS_RUN, needs=RUN),
    Route("feedback.run_csv", "GET", "/facilitate/runs/{run_id}/feedback.csv", THIS_RUN, needs=RUN),
    Route(
        "feedback.course_results", "GET", "/facilitate/courses/rep/feedback", THIS_RUN, needs=RUN
    ),
    Route(
        "feedback.course_csv", "GET", "/facilitate/courses/rep/feedback.csv", THIS_RUN, needs=RUN
    ),
    Route(
        "feedback.comments",
        "GET",
        "/facilitate/courses/rep/feedback/feedback-day-1/best?run={run_id}",
        THIS_RUN,
        needs=RUN,
    ),
    Route("feedback.changes", "GET", "/facilitate/courses/rep/changes", THIS_RUN, needs=RUN),
    Route(
        "feedback.changes",
        "POST",
        "/facilitate/courses/rep/changes",
        THIS_RUN,
        ok=(302, "/facilitate/courses/rep/changes"),
        data={"run_id": "", "you_said": "Day two felt rushed.", "we_did": "Added a break."},
        changes=True,
        needs=RUN,
    ),
    # National officers: their own region only.
    Route(
        "accreditation.register", "GET", "/register", OFFICERS, needs=frozenset({"accreditation"})
    ),
    Route(
        "accreditation.register_csv",
        "GET",
        "/register.csv",
        OFFICERS,
        needs=frozenset({"accreditation"}),
    ),
    Route(
        "accreditation.request_",
        "GET",
        "/register/requests/{accreditation_id}",
        THIS_REGION,
        needs=frozenset({"accreditation"}),
    ),
    Route(
        "accreditation.request_",
        "POST",
        "/register/requests/{accreditation_id}",
        THIS_REGION,
        ok=(302, "/register"),
        data={"decision": "decline", "note": "Finish the case study first, please."},
        changes=True,
        needs=frozenset({"accreditation"}),
    ),
    Route("accreditation.certificates", "GET", "/register/certificates", OFFICERS),
    Route(
        "accreditation.certificate",
        "GET",
        "/register/certificates/{certificate_id}",
        THIS_REGION,
        needs=frozenset({"certificate"}),
    ),
    Route(
        "accreditation.revoke",
        "POST",
        "/register/certificates/{certificate_id}/revoke",
        THIS_REGION,
        ok=(302, "/register/certificates/{certificate_id}"),
        data={"reason": "Issued to the wrong person."},
        changes=True,
        needs=frozenset({"certificate"}),
    ),
    # The training office only.
    Route("admin.users", "GET", "/admin/users", ADMIN),
    Route("admin.new_user", "GET", "/admin/users/new", ADMIN),
    Route(
        "admin.new_user",
        "POST",
        "/admin/users/new",
        ADMIN,
        ok=(302, "/admin/users/*"),
        data={"name": "New Person", "email": "new@example.org", "roles": "trainee", "region": ""},
        changes=True,
    ),
    Route("audit.index", "GET", "/admin/audit", ADMIN),
    Route("admin.import_users", "GET", "/admin/users/import", ADMIN),
    Route(
        "admin.import_users",
        "POST",
        "/admin/users/import",
        ADMIN,
        ok=(302, "/admin/users"),
        data={"text": "email,name,roles,region\nimported@example.org,Ima Porter,trainee,\n"},
        changes=True,
    ),
    Route("admin.user", "GET", "/admin/users/{user_id}", ADMIN),
    Route(
        "admin.user",
        "POST",
        "/admin/users/{user_id}",
        ADMIN,
        ok=(302, "/admin/users/{user_id}"),
        data={"roles": ["trainee", "officer"], "region": "{region_id}"},
        changes=True,
    ),
    Route(
        "admin.send_password_link",
        "POST",
        "/admin/users/{user_id}/password-link",
        ADMIN,
        ok=(302, "/admin/users/{user_id}"),
        changes=True,
    ),
    Route(
        "admin.toggle_active",
        "POST",
        "/admin/users/{user_id}/active",
        ADMIN,
        ok=(302, "/admin/users/{user_id}"),
        changes=True,
    ),
    Route("admin.regions", "GET", "/admin/regions", ADMIN),
    Route(
        "admin.regions",
        "POST",
        "/admin/regions",
        ADMIN,
        ok=(302, "/admin/regions"),
        data={"name": "Isle of Wight"},
        changes=True,
    ),
    Route("course_reviewers.index", "GET", "/admin/courses/reviewers", ADMIN),
    Route("course_reviewers.course", "GET", "/admin/courses/link-member/reviewers", ADMIN),
    Route(
        "course_reviewers.course",
        "POST",
        "/admin/courses/link-member/reviewers",
        ADMIN,
        ok=(302, "/admin/courses/link-member/reviewers"),
        data={"user_id": "{facilitator_id}"},
        changes=True,
    ),
    Route(
        "course_reviewers.remove",
        "POST",
        "/admin/courses/link-member/reviewers/{facilitator_id}/remove",
        ADMIN,
        ok=(302, "/admin/courses/link-member/reviewers"),
        changes=True,
        needs=frozenset({"course_reviewer"}),
    ),
    Route("course_reviewers.unassigned", "GET", "/admin/courses/unassigned-work", ADMIN),
    Route("runs.admin_runs", "GET", "/admin/runs", ADMIN, needs=RUN),
    Route("runs.new_run", "GET", "/admin/runs/new", ADMIN, needs=RUN),
    Route(
        "runs.new_run",
        "POST",
        "/admin/runs/new",
        ADMIN,
        ok=(302, "/admin/runs/*"),
        data=run_data,
        changes=True,
        needs=RUN,
    ),
    Route("runs.admin_run", "GET", "/admin/runs/{run_id}", ADMIN, needs=RUN),
    Route(
        "runs.admin_run",
        "POST",
        "/admin/runs/{run_id}",
        ADMIN,
        ok=(302, "/admin/runs/{run_id}"),
        data=run_data,
        changes=True,
        needs=RUN,
    ),
    Route(
        "runs.add_place",
        "POST",
        "/admin/runs/{run_id}/places",
        ADMIN,
        ok=(302, "/admin/runs/{run_id}"),
        data={"add-email": "officer@example.org"},
        changes=True,
        needs=RUN,
    ),
    Route(
        "runs.remove_place",
        "POST",
        "/admin/runs/{run_id}/places/{place_id}/remove",
        ADMIN,
        ok=(302, "/admin/runs/{run_id}"),
        changes=True,
        needs=RUN,
    ),
    Route(
        "runs.move_place",
        "POST",
        "/admin/runs/{run_id}/places/{place_id}/move",
        ADMIN,
        ok=(302, "/admin/runs/{run_id}"),
        data={"target": "{run2_id}"},
        changes=True,
        needs=RUN,
    ),
    Route("calendars.run_file", "GET", "/runs/{run_id}/calendar.ics", LOGGED_IN, needs=RUN),
    Route(
        "calendars.place_file",
        "GET",
        "/my/places/{place_id}/calendar.ics",
        frozenset({"trainee"}),
        refused=HIDDEN,
        needs=RUN,
    ),
    Route(
        "calendars.feed",
        "GET",
        "/calendar/not-a-feed-token-0123456789abcdef.ics",
        EVERYONE,
        ok=(404, None),
    ),
    Route("calendars.settings", "GET", "/account/calendar", LOGGED_IN),
    Route(
        "calendars.settings",
        "POST",
        "/account/calendar",
        LOGGED_IN,
        data={"action": "create"},
        changes=True,
    ),
    Route("runs.admin_cancel_run", "GET", "/admin/runs/{run_id}/cancel", ADMIN, needs=RUN),
    Route(
        "runs.admin_cancel_run",
        "POST",
        "/admin/runs/{run_id}/cancel",
        ADMIN,
        ok=(302, "/admin/runs/{run_id}"),
        data={"reason": "The venue is closed."},
        changes=True,
        needs=RUN,
    ),
    # Privacy: administrators find a person, export and erase them (lms/privacy/routes.py).
    Route("privacy.admin", "GET", "/admin/privacy", ADMIN),
    Route(
        "privacy.admin_export",
        "POST",
        "/admin/privacy/people/{user_id}/export",
        ADMIN,
        ok=(303, "/admin/privacy?email=target@example.org"),
        changes=True,
    ),
    # An export that does not exist: administrators get 404, others the refusal first.
    Route(
        "privacy.admin_download",
        "GET",
        "/admin/privacy/exports/987654/download",
        ADMIN,
        ok=(404, None),
    ),
    Route("privacy.erase_confirm", "GET", "/admin/privacy/people/{user_id}/erase", ADMIN),
    Route(
        "privacy.erase",
        "POST",
        "/admin/privacy/people/{user_id}/erase",
        ADMIN,
        ok=(303, "/admin/privacy"),
        data={"confirm_email": "{target_email}"},
        changes=True,
    ),
    # Background jobs: administrators only.
    Route("jobs.index", "GET", "/admin/jobs", ADMIN),
    Route("jobs.batches", "GET", "/admin/jobs/batches", ADMIN),
    Route("jobs.batch", "GET", "/admin/jobs/batches/{batch_id}", ADMIN, needs=JOBS),
    Route(
        "jobs.batch_progress", "GET", "/admin/jobs/batches/{batch_id}/progress", ADMIN, needs=JOBS
    ),
    Route(
        "jobs.retry",
        "POST",
        "/admin/jobs/{failed_job_id}/retry",
        ADMIN,
        ok=(303, "/admin/jobs"),
        changes=True,
        needs=JOBS,
    ),
    Route(
        "jobs.reissue",
        "POST",
        "/admin/jobs/reissue",
        ADMIN,
        ok=(302, "/admin/jobs/batches/*"),
        data={"course": "link-member"},
        changes=True,
    ),
]

IGNORED_ENDPOINTS = {"static"}


def app_routes(app: Flask) -> set[tuple[str, str]]:
    """(endpoint, method) for every route of the app, HEAD and OPTIONS aside."""
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in IGNORED_ENDPOINTS
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_route_is_in_the_table(app):
    table = {(r.endpoint, r.method) for r in ROUTES}
    missing = app_routes(app) - table
    assert not missing, f"routes with no row in ROUTES (add who may use them): {sorted(missing)}"
    stale = table - app_routes(app)
    assert not stale, f"rows in ROUTES for routes the app does not have: {sorted(stale)}"
    assert len(table) == len(ROUTES), "a route is in ROUTES twice"


def test_public_pages_are_reachable_logged_out(app, client):
    world = build_world(app)
    for url in ("/", "/login", "/password/reset", f"/password/set/{world['token']}", "/verify"):
        assert client.get(url).status_code == 200, url


# The world the table's URLs point at ------------------------------------------------------


def build_world(app: Flask, needs: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """Everyone in PEOPLE, enrolled on the link member course, plus what ``needs`` asks for.

    ``run``: the trainee has finished the link member course and has a place on a
    rep course run the facilitator runs; there is a second run to move people to.
    ``attempt``: the trainee has sent a case study on that run for review.
    ``accreditation``: the trainee's rep accreditation waits for the officer.
    ``certificate``: the trainee holds a link member certificate (a real PDF).
    ``jobs``: a failed job and a batch.
    ``course_reviewer``: the facilitator reviews the link member course's work.
    """
    needs = set(needs)
    if "attempt" in needs:
        needs.add("run")
    world: dict[str, Any] = {"target_email": TARGET_EMAIL}
    with app.app_context():
        link_member = learning.catalogue().get("link-member")
        rep = learning.catalogue().get("rep")
        for role, (email, name, roles, region_name) in PEOPLE.items():
            user = accounts.create_user(
                email, name, roles, region(region_name), send_link=False
            ).user
            accounts.set_password(user, PASSWORD)
            learning.enrol(user, link_member)
            world[f"{role}_id"] = user.id
        target = get_user(app, world["trainee_id"])
        world["user_id"] = target.id
        world["token"] = accounts.issue_password_link(target, "setup", send=False).rsplit("/")[-1]
        world["region_id"] = region("North East").id

        if "run" in needs:
            enrolment = learning.get_enrolment(target, link_member)
            enrolment.completed_at = enrolment.enrolled_at
            enrolment.completed_version = link_member.version
            start = date.today() + timedelta(days=30)
            world["day1"], world["day2"] = (
                start.isoformat(),
                (start + timedelta(days=1)).isoformat(),
            )
            run = runs.create_run(
                runs.RunInput(
                    course_slug="rep",
                    title="Rep course, Newcastle",
                    days=[start, start + timedelta(days=1)],
                    capacity=8,
                    venue="Civic Centre, Newcastle",
                    facilitator_ids=(world["facilitator_id"],),
                )
            )
            other = runs.create_run(
                runs.RunInput(
                    course_slug="rep",
                    title="Rep course, Leeds",
                    days=[start + timedelta(days=7)],
                    capacity=8,
                    venue="Leeds",
                )
            )
            place = runs.sign_up(target, run)
            world.update(run_id=run.id, run2_id=other.id, day_id=run.days[0].id, place_id=place.id)
        if "accreditation" in needs:
            record = Accreditation(
                user_id=target.id,
                course_slug="rep",
                course_version=rep.version,
                region_id=target.region_id,
                status=AccreditationStatus.PENDING.value,
            )
            db.session.add(record)
            db.session.flush()
            world["accreditation_id"] = record.id
        if "certificate" in needs:
            certificate = accreditation.grant_prior(target, link_member, "Pilot course, 2017")
            # The PDF is rendered by a job after the commit.
            db.session.commit()
            world.update(
                certificate_id=certificate.id,
                number=certificate.number,
                cert_token=certificate.token,
                pdf=db.session.scalar(
                    select(CertificateFile).where(CertificateFile.certificate_id == certificate.id)
                ).pdf,
            )
        if "jobs" in needs:
            batch = JobBatch(kind="certificates.reissue", description="Re-issue", total=0)
            db.session.add(batch)
            failed = Job(
                task="mail.send",
                kwargs={"to": TARGET_EMAIL, "subject": "Hello", "body": "Hello"},
                status=JobStatus.FAILED.value,
                attempts=4,
                max_attempts=4,
                last_error="SMTPServerDisconnected: Connection unexpectedly closed",
            )
            db.session.add(failed)
            db.session.flush()
            world.update(batch_id=batch.id, failed_job_id=failed.id)
        if "course_reviewer" in needs:
            from lms.review import reviewers

            reviewers.assign(link_member, get_user(app, world["facilitator_id"]))
        db.session.commit()

    if "attempt" in needs:
        # Sent through the page, as the trainee would.
        client = app.test_client()
        assert login(client, TARGET_EMAIL).status_code == 302
        page = client.get(f"/learn/rep/{CASE}").get_data(as_text=True)
        answer = " ".join(["I would listen to the member and check the policy."] * 20)
        response = client.post(
            f"/learn/rep/{CASE}", data={"csrf_token": csrf_from(page), "answer": answer}
        )
        assert response.status_code == 302, response.status_code
        with app.app_context():
            world["attempt_id"] = db.session.scalar(
                select(Attempt.id).where(Attempt.activity_key == CASE)
            )
            config = app.extensions["lms.courses"].get("rep").activity(CASE).config
            world["criteria"] = [c.key for c in config.criteria]
    return world


def as_role(app: Flask, role: str) -> FlaskClient:
    """A client logged in as the person in PEOPLE for ``role`` (anonymous: not logged in)."""
    client = app.test_client()
    if role != ANONYMOUS:
        assert login(client, PEOPLE[role][0]).status_code == 302
    return client


#: Bookkeeping of the visitor's own session, which any request may touch: a refused
#: request's message ("Log in to see this page") is session data, and a session's
#: "last seen" time moves. Which sessions exist (login_session's rows) is compared.
SESSION_DATA = {"web_session"}
SESSION_CLOCK = {"login_session": {"seen"}}


def snapshot(app: Flask) -> dict[str, Any]:
    """Every row of every table (but the session bookkeeping above), and the outbox."""
    with app.app_context():
        tables = {
            table.name: sorted(
                (
                    tuple(row)
                    for row in db.session.execute(
                        select(
                            *(
                                c
                                for c in table.columns
                                if c.name not in SESSION_CLOCK.get(table.name, ())
                            )
                        )
                    )
                ),
                key=repr,
            )
            for table in db.metadata.sorted_tables
            if table.name not in SESSION_DATA
        }
        db.session.remove()
    return {"tables": tables, "outbox": list(app.extensions.get("lms.outbox", []))}


def fill(value: Any, world: dict[str, Any]) -> Any:
    if value is UPLOAD:
        return (io.BytesIO(world["pdf"]), "certificate.pdf")
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value.format(**world) if isinstance(value, str) else value


def form_data(route: Route, world: dict[str, Any]) -> dict[str, Any]:
    data = route.data(world) if callable(route.data) else route.data
    return {key.format(**world): fill(value, world) for key, value in data.items()}


def location_matches(location: str | None, expected: str) -> bool:
    if location is None:
        return False
    if expected.endswith("*"):
        return re.fullmatch(re.escape(expected[:-1]) + r"\d+", location) is not None
    return location == expected


CASES = [
    pytest.param(route, role, id=f"{route.id}-{role}{'' if role in route.allowed else '-refused'}")
    for route in ROUTES
    for role in ROLES
]


@pytest.mark.parametrize(("route", "role"), CASES)
def test_access(app, route: Route, role: str):
    world = build_world(app, route.needs)
    client = as_role(app, role)
    url = route.url.format(**world)
    if route.method == "GET":
        before = snapshot(app)
        response = client.get(url)
    else:
        # A real CSRF token, so a refusal comes from the access check, not from CSRF.
        data = form_data(route, world)
        data["csrf_token"] = get_csrf(client, "/password/reset")
        before = snapshot(app)
        response = client.open(url, method=route.method, data=data)
    status, location = response.status_code, response.location
    where = f"{route.method} {url} as {role}"

    if role in route.allowed:
        expected = route.ok_logged_in if role != ANONYMOUS and route.ok_logged_in else route.ok
        want_status, want_location = expected
        assert status == want_status, f"{where}: {status} (wanted {want_status})"
        if want_location is not None:
            want_location = want_location.format(**world)
            assert location_matches(location, want_location), f"{where}: sent to {location}"
        if route.method != "GET" and route.changes:
            assert snapshot(app) != before, f"{where}: allowed, but changed nothing"
        return

    if role == ANONYMOUS:
        assert status == 302, f"{where}: {status} (wanted a redirect to log in)"
        assert location is not None and location.startswith("/login?next="), (
            f"{where}: sent to {location}"
        )
    else:
        wanted = route.refused.get(role, 403)
        assert status == wanted, f"{where}: {status} (wanted {wanted})"
        if wanted == 403:
            assert "Not allowed" in response.get_data(as_text=True)
    assert snapshot(app) == before, f"{where}: refused, but something changed"
