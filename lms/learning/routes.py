"""The trainee's side: dashboard, activity pages, submissions and resume."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    render_template_string,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from lms.caching import kept, quick_url
from lms.catalogue.content import Activity, Course
from lms.csrf import keeps_typed_text, token_lapsed
from lms.db import utcnow
from lms.extensions import db
from lms.i18n import _, locale_text
from lms.learning import services
from lms.learning.models import Enrolment
from lms.plugins import ActivityContext, SubmissionRejected, init_templates

bp = Blueprint("learning", __name__)
# Activity types' own templates (activity/<type>/<file>), from wherever the app shows them.
bp.record_once(lambda state: init_templates(state.app))
# url_for for pages that link many rows (the dashboard, activity pages): the same text.
bp.add_app_template_global(quick_url, "quick_url")


@bp.get("/dashboard")
@login_required
def dashboard():
    """Everyone's start page: the panels of each staff role the person holds first
    (lms.dashboards), then their own courses, course days, written work and certificates."""
    from lms.accreditation.services import accreditations_of, certificates_of
    from lms.dashboards import services as dashboards
    from lms.review.services import outcomes_for

    cat = services.catalogue()
    now = utcnow()
    # The person once, not through current_user's proxy for each of the panels below.
    user = current_user._get_current_object()
    rows = []
    enrolments = services.enrolments_for(user)
    done = services.completed_keys(enrolments)
    for enrolment in enrolments:
        course = cat.get(enrolment.course_slug)
        if course is None:
            continue
        rows.append(
            {
                "enrolment": enrolment,
                "course": course,
                "progress": services.course_progress(enrolment, course, done[enrolment.id]),
                "resume": services.resume_activity(enrolment, course, done[enrolment.id]),
                "next": services.next_activity(course, done[enrolment.id]),
                # What changed that matters since the person completed the course
                # (or, still working through it, since they joined).
                "changed": (
                    course.notes_since(enrolment.completed_at.date(), enrolment.completed_version)
                    if enrolment.completed_at
                    else course.notes_since(
                        enrolment.enrolled_at.date(), enrolment.enrolled_version
                    )
                ),
            }
        )
    enrolled = {r["course"].slug for r in rows}
    suggestions = [c for c in cat if c.slug not in enrolled]
    places = dashboards.places_of(user)
    outcomes = outcomes_for(user, enrolments)
    work = dashboards.case_studies(outcomes, enrolments)
    return render_template(
        "learning/dashboard.html",
        staff=dashboards.staff_panels(user, cat, now),
        rows=rows,
        suggestions=suggestions,
        places=places,
        waiting_positions=dashboards.waiting_positions(places),
        due=dashboards.due_before_course_days(places, enrolments, done, outcomes, cat),
        returned=[o for o in work if o["is_new"]],
        outcomes=[o for o in work if not o["is_new"]],
        catalogue=cat,
        certificates=[(c, dashboards.certificate_state(c, now)) for c in certificates_of(user)],
        accreditations=[a for a in accreditations_of(user) if a.status != "accredited"],
        now=now,
    )


def _course_or_404(slug: str) -> Course:
    course = services.catalogue().get(slug)
    if course is None:
        abort(404)
    return course


def _enrolment_or_redirect(course: Course) -> Enrolment | None:
    return services.get_enrolment(current_user, course)


@bp.get("/learn/<slug>")
@login_required
def resume(slug: str):
    course = _course_or_404(slug)
    enrolment = _enrolment_or_redirect(course)
    if enrolment is None:
        flash(_("Join the course to start learning."), "info")
        return redirect(url_for("catalogue.course", slug=slug))
    activity = services.resume_activity(enrolment, course)
    return redirect(url_for("learning.activity", slug=slug, key=activity.key))


def _context(
    course: Course,
    activity: Activity,
    enrolment: Enrolment,
    rejected: SubmissionRejected | None = None,
    just_submitted: bool = False,
    progress: dict | None = None,
) -> ActivityContext:
    if progress is None:
        progress = services.progress_map(enrolment)
    row = progress.get(activity.key)
    return ActivityContext(
        course=course,
        module=course.module_of(activity),
        activity=activity,
        progress=services.progress_view(row),
        attempts=_Attempts(enrolment, activity),
        form_action=url_for("learning.activity", slug=course.slug, key=activity.key),
        csrf_token=generate_csrf(),
        render_template=render_template,
        render_template_string=render_template_string,
        rejected=rejected,
        just_submitted=just_submitted,
        extra=_extra(course, activity),
    )


class _Attempts(Sequence):
    """The person's attempts at an activity, read when a page first asks for them.

    A reading page never shows attempts; reading them (and their reviews) on every
    view cost two queries. Behaves as the list :func:`services.attempts_for` gives.
    """

    def __init__(self, enrolment: Enrolment, activity: Activity) -> None:
        self._enrolment = enrolment
        self._activity = activity

    @cached_property
    def _items(self) -> list:
        return services.attempts_for(self._enrolment, self._activity)

    def __getitem__(self, index):
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    __hash__ = None  # type: ignore[assignment] - a list is not hashable either

    def __repr__(self) -> str:
        return repr(self._items)


def _extra(course: Course, activity: Activity) -> dict:
    """Facts other domains supply for activity types (see ``lms.activity_context``)."""
    extra: dict = {}
    for provider in current_app.extensions.get("lms.activity_context", []):
        extra.update(provider(course, activity, current_user))
    return extra


def _activity_urls(course: Course) -> dict[str, str]:
    """The address of each of the course's activities, for the contents list.

    One ``url_for`` and string joins rather than one ``url_for`` per activity (a
    course has dozens): keys are validated slugs, so they need no quoting.
    """
    marker = "__activity_key__"
    template = url_for("learning.activity", slug=course.slug, key=marker)
    head, _sep, tail = template.partition(marker)
    return {a.key: f"{head}{a.key}{tail}" for a in course.activities}


def _contents(course: Course, activity: Activity, module, done_keys: set[str]) -> Markup:
    """The page's contents list (every module and activity, what is complete).

    The same for everyone on the same page of the same course version with the same
    activities complete, so it is rendered once for each of those and kept
    (:func:`lms.caching.kept`): the list has a link and a status for each of the
    course's dozens of activities.
    """
    key = (
        course.slug,
        course.version,
        activity.key,
        frozenset(done_keys),
        locale_text(),
        request.script_root,
    )

    def make() -> Markup:
        return Markup(  # noqa: S704 - rendered by an autoescaping template
            render_template(
                "learning/_contents.html",
                course=course,
                module=module,
                activity=activity,
                done_keys=done_keys,
                activity_urls=_activity_urls(course),
            )
        )

    return kept("contents", key, make)


def _render_page(course, activity, enrolment, ctx, status=200, progress=None):
    activity_type = services.registry()[activity.type]
    previous, following = course.neighbours(activity.key)
    if progress is None:
        progress = services.progress_map(enrolment)
    done_keys = {key for key, row in progress.items() if row.is_complete}
    return (
        render_template(
            "learning/activity.html",
            course=course,
            module=ctx.module,
            activity=activity,
            activity_type=activity_type,
            body=activity_type.render(ctx),
            ctx=ctx,
            previous=previous,
            following=following,
            progress=progress,
            course_progress=services.course_progress(enrolment, course, done_keys),
            done_keys=done_keys,
            enrolment=enrolment,
            registry=services.registry(),
            contents=_contents(course, activity, ctx.module, done_keys),
        ),
        status,
    )


@bp.route("/learn/<slug>/<key>", methods=["GET", "POST"])
@keeps_typed_text
@login_required
def activity(slug: str, key: str):
    course = _course_or_404(slug)
    activity = course.activity(key)
    if activity is None:
        abort(404)
    enrolment = _enrolment_or_redirect(course)
    if enrolment is None:
        flash(_("Join the course to start learning."), "info")
        return redirect(url_for("catalogue.course", slug=slug))
    activity_type = services.registry()[activity.type]

    if request.method == "POST":
        # Serialise submissions for this person and activity (two tabs at once).
        services.lock_progress(enrolment, activity)
        # CSRF is checked here rather than globally so a lapsed token keeps the
        # person's answers on the page instead of throwing them away.
        if token_lapsed():
            _keep_draft(enrolment, activity, activity_type)
            rejected = SubmissionRejected(
                _(
                    "Your session timed out before you sent this. Your answers are still here: "
                    "send them again."
                ),
                values={k: _single(request.form.getlist(k)) for k in request.form},
            )
            ctx = _context(course, activity, enrolment, rejected=rejected)
            return _render_page(course, activity, enrolment, ctx, status=400)
        ctx = _context(course, activity, enrolment)
        try:
            submission = activity_type.submit(ctx, request.form)
        except SubmissionRejected as rejected:
            _keep_draft(enrolment, activity, activity_type)
            ctx = _context(course, activity, enrolment, rejected=rejected)
            return _render_page(course, activity, enrolment, ctx, status=422)
        was_complete = enrolment.is_complete
        services.record_submission(enrolment, course, activity, submission)
        if submission.message:
            flash(submission.message, "success" if submission.is_passed is not False else "warning")
        if enrolment.is_complete and not was_complete:
            flash(
                _("You have completed the online part of %(course)s.", course=course.title),
                "success",
            )
        if activity_type.advances:
            following = course.neighbours(activity.key)[1]
            if following is not None:
                return redirect(url_for("learning.activity", slug=slug, key=following.key))
        return redirect(url_for("learning.activity", slug=slug, key=key, result=1))

    if _visit_is_news(enrolment, activity):
        services.record_visit(enrolment, activity)
    progress = services.progress_facts(enrolment)
    ctx = _context(
        course,
        activity,
        enrolment,
        just_submitted=request.args.get("result") == "1",
        progress=progress,
    )
    return _render_page(course, activity, enrolment, ctx, progress=progress)


#: A page seen again within this time is not written down again (where "Continue"
#: goes is the same either way; the time only says roughly when someone was last here).
VISIT_REFRESH = timedelta(minutes=5)


def _visit_is_news(enrolment: Enrolment, activity: Activity) -> bool:
    """Whether this page view changes where the trainee is: another page, or a while ago.

    Reloading the page one is on (or coming back to it within minutes) would
    otherwise cost a write transaction on every view.
    """
    if enrolment.last_activity_key != activity.key or enrolment.last_visited_at is None:
        return True
    return utcnow() - enrolment.last_visited_at >= VISIT_REFRESH


def _single(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _keep_draft(enrolment: Enrolment, activity: Activity, activity_type) -> None:
    """Save what was posted as a draft, even though the submission itself is refused.

    This is the one place a refused request commits: losing someone's writing to
    an expired token or a validation message is worse than a stray draft.
    """
    if not activity_type.supports_drafts:
        return
    draft = activity_type.draft(request.form, activity.config)
    if draft:
        services.save_draft(enrolment, activity, draft)
        db.session.commit()


@bp.post("/learn/<slug>/<key>/draft")
@login_required
def save_draft(slug: str, key: str):
    """Autosave from the page's script: form data in, JSON out. CSRF comes in a header."""
    course = _course_or_404(slug)
    activity = course.activity(key)
    if activity is None:
        abort(404)
    activity_type = services.registry()[activity.type]
    enrolment = _enrolment_or_redirect(course)
    if enrolment is None or not activity_type.supports_drafts:
        abort(404)
    draft = activity_type.draft(request.form, activity.config)
    row = services.save_draft(enrolment, activity, draft)
    return jsonify({"saved": True, "saved_at": row.state.get("draft_saved_at")})
