"""Course runs: trainees sign up, facilitators see their runs and mark attendance,
administrators create runs and manage places."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from lms.accounts import services as accounts
from lms.accounts.models import Role, RoleAssignment, User
from lms.csrf import keeps_typed_text
from lms.extensions import db
from lms.i18n import _
from lms.learning import services as learning
from lms.learning.models import Enrolment
from lms.pagination import page_args
from lms.runs import services
from lms.runs.forms import AddPersonForm, CancelRunForm, MoveForm, RunForm, choices
from lms.runs.models import (
    ATTENDANCE_LABELS,
    DEFAULT_END,
    DEFAULT_START,
    AttendanceStatus,
    CourseRun,
    PlaceStatus,
    RunDay,
    RunPlace,
)
from lms.security import roles_required

bp = Blueprint("runs", __name__)


def _run_or_404(run_id: int) -> CourseRun:
    run = db.session.get(CourseRun, run_id)
    if run is None:
        abort(404)
    return run


def _managed_run_or_403(run_id: int) -> CourseRun:
    run = _run_or_404(run_id)
    if not services.can_manage(current_user, run):
        abort(403)
    return run


# --- Trainees ---------------------------------------------------------------------------


@bp.post("/runs/<int:run_id>/sign-up")
@login_required
def sign_up(run_id: int):
    run = _run_or_404(run_id)
    if not FlaskForm().validate_on_submit():
        flash(_("Your session timed out. Press the button again."), "warning")
        return redirect(url_for("catalogue.course", slug=run.course_slug))
    try:
        place = services.sign_up(current_user, run)
    except (services.RunError, learning.EnrolmentRefused) as exc:
        flash(exc.message, "error")
        return redirect(url_for("catalogue.course", slug=run.course_slug)), 303
    if place.status == PlaceStatus.BOOKED:
        flash(_("You have a place on %(run)s.", run=run.title), "success")
    else:
        flash(
            _(
                "%(run)s is full, so you are on the waiting list (number %(n)d). You will move up "
                "in order when a place frees.",
                run=run.title,
                n=place.waiting_position,
            ),
            "info",
        )
    return redirect(url_for("catalogue.course", slug=run.course_slug))


@bp.post("/runs/<int:run_id>/withdraw")
@login_required
def withdraw(run_id: int):
    run = _run_or_404(run_id)
    place = services.place_for(current_user, run)
    if place is None or place.status == PlaceStatus.CANCELLED:
        abort(404)
    if FlaskForm().validate_on_submit():
        services.withdraw(place, current_user)
        flash(_("You have given up your place on %(run)s.", run=run.title), "info")
    return redirect(url_for("catalogue.course", slug=run.course_slug))


# --- Facilitators -----------------------------------------------------------------------


def _course_options() -> list[tuple[str, str]]:
    return [(c.slug, c.title) for c in learning.catalogue()]


@bp.get("/facilitate")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def my_runs():
    filters = services.RunFilters.from_args(request.args)
    page, per_page = page_args()
    runs = services.runs_page(current_user, filters, page, per_page)
    return render_template(
        "runs/my_runs.html",
        runs=runs,
        counts=services.place_counts(r.id for r in runs),
        filters=filters,
        course_options=_course_options(),
        catalogue=learning.catalogue(),
    )


@bp.get("/facilitate/runs/<int:run_id>")
@roles_required(Role.FACILITATOR, Role.ADMIN)
def run(run_id: int):
    run = _managed_run_or_403(run_id)
    course = learning.catalogue().get(run.course_slug)
    q = request.args.get("q", "")
    page, per_page = page_args()
    places = services.roster(run, (PlaceStatus.BOOKED, PlaceStatus.WAITING), q, page, per_page)
    user_ids = [p.user_id for p in places]
    # One query each for the page's enrolments, their complete activities (two columns:
    # not the progress rows, whose kept drafts and answers a roster does not show) and
    # attendance.
    enrolments = {}
    done: dict[int, set[str]] = {}
    if course is not None and user_ids:
        enrolments = {
            e.user_id: e
            for e in db.session.scalars(
                select(Enrolment).where(
                    Enrolment.user_id.in_(user_ids), Enrolment.course_slug == course.slug
                )
            )
        }
        done = learning.completed_keys(list(enrolments.values()))
    attendance = services.attendance_for_users(run, user_ids)
    rows = []
    for place in places:
        enrolment = enrolments.get(place.user_id)
        rows.append(
            {
                "place": place,
                "progress": (
                    learning.course_progress(enrolment, course, done[enrolment.id])
                    if enrolment
                    else None
                ),
                "enrolment": enrolment,
                "attendance": attendance[place.user_id],
            }
        )
    # The waiting list's order (as CourseRun.waiting()), read as ids rather than by
    # loading every place on the run.
    waiting_ids = db.session.scalars(
        select(RunPlace.id)
        .where(RunPlace.run_id == run.id, RunPlace.status == PlaceStatus.WAITING.value)
        .order_by(func.coalesce(RunPlace.waiting_since, RunPlace.created_at), RunPlace.id)
    )
    return render_template(
        "runs/run.html",
        run=run,
        course=course,
        rows=rows,
        places=places,
        q=" ".join(q.split())[:100],
        counts=services.place_counts([run.id])[run.id],
        waiting_positions={place_id: n for n, place_id in enumerate(waiting_ids, start=1)},
        labels=ATTENDANCE_LABELS,
    )


@bp.route("/facilitate/runs/<int:run_id>/days/<int:day_id>", methods=["GET", "POST"])
@keeps_typed_text
@roles_required(Role.FACILITATOR, Role.ADMIN)
def attendance(run_id: int, day_id: int):
    run = _managed_run_or_403(run_id)
    day = db.session.get(RunDay, day_id)
    if day is None or day.run_id != run.id:
        abort(404)
    # The roster is paged (a large page) and searchable; each save stores the marks of the
    # people on this page only, so marks on other pages are never touched.
    q = request.args.get("q", "")
    page, per_page = page_args()
    places = services.roster(run, (PlaceStatus.BOOKED,), q, page, per_page)
    user_ids = [p.user_id for p in places]
    current = services.current_attendance(day, user_ids)
    form = FlaskForm()
    errors: dict[int, str] = {}
    values = {
        p.user_id: (current[p.user_id].status if p.user_id in current else "") for p in places
    }
    notes = {
        p.user_id: (current[p.user_id].note or "" if p.user_id in current else "") for p in places
    }
    status = 200
    if request.method == "POST":
        marks = {}
        for p in places:
            value = request.form.get(f"status-{p.user_id}", "")
            values[p.user_id] = value
            notes[p.user_id] = request.form.get(f"note-{p.user_id}", "")
            if value:
                marks[p.user_id] = value
        if not form.validate_on_submit():
            flash(
                _("Your session timed out. Your marks are still here: save them again."), "warning"
            )
            status = 400
        else:
            try:
                stored = services.record_attendance(day, marks, current_user, notes)
            except services.RunError as exc:
                flash(exc.message, "error")
                status = 422
            else:
                unmarked = services.unmarked_count(day)
                message = _(
                    "Attendance saved for day %(n)d (%(changed)d changed).",
                    n=day.number,
                    changed=stored,
                )
                if unmarked:
                    message += " " + _("%(n)d not marked yet.", n=unmarked)
                flash(message, "success" if not unmarked else "warning")
                return redirect(places.url())
    return render_template(
        "runs/attendance.html",
        run=run,
        day=day,
        places=places,
        q=" ".join(q.split())[:100],
        values=values,
        notes=notes,
        errors=errors,
        statuses=list(AttendanceStatus),
        history=services.attendance_history(day, user_ids),
        form=form,
    ), status


# --- Administrators ---------------------------------------------------------------------


def _facilitator_choices():
    people = db.session.scalars(
        select(User)
        .join(RoleAssignment)
        .where(RoleAssignment.role == Role.FACILITATOR)
        .order_by(User.name)
    ).unique()
    return choices((p.id, p.name) for p in people)


def _prepare(form: RunForm) -> None:
    form.course_slug.choices = choices(
        [("", _("Choose a course"))] + [(c.slug, c.title) for c in learning.catalogue()]
    )
    form.facilitator_ids.choices = _facilitator_choices()


def _entry(entries, index: int):
    """The ``index``-th entry's data of a FieldList, or None (the lists of a day row can
    differ in length when a form is posted by hand)."""
    return entries[index].data if index < len(entries) else None


def _input(form: RunForm) -> services.RunInput:
    times = {}
    for i, entry in enumerate(form.days):
        if entry.data:
            times[entry.data] = (
                _entry(form.starts, i) or DEFAULT_START,
                _entry(form.ends, i) or DEFAULT_END,
            )
    return services.RunInput(
        course_slug=form.course_slug.data or "",
        title=form.title.data or "",
        days=[entry.data for entry in form.days if entry.data],
        times=times,
        online_url=form.online_url.data or "",
        capacity=form.capacity.data or 0,
        venue=form.venue.data or "",
        is_online=bool(form.is_online.data),
        is_open=bool(form.is_open.data),
        facilitator_ids=tuple(form.facilitator_ids.data or ()),
    )


def _field_error(form: RunForm, exc: services.RunError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is None or exc.field == "days":
        form.form_errors.append(exc.message)
        if exc.field == "days":
            form.days.errors = [exc.message]
    else:
        target.errors = [*target.errors, exc.message]


@bp.get("/admin/runs")
@roles_required(Role.ADMIN)
def admin_runs():
    filters = services.RunFilters.from_args(request.args)
    page, per_page = page_args()
    runs = services.runs_page(None, filters, page, per_page)
    return render_template(
        "runs/admin_runs.html",
        runs=runs,
        counts=services.place_counts(r.id for r in runs),
        filters=filters,
        course_options=_course_options(),
        catalogue=learning.catalogue(),
    )


@bp.route("/admin/runs/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_run():
    form = RunForm()
    _prepare(form)
    if form.validate_on_submit():
        try:
            run = services.create_run(_input(form))
        except services.RunError as exc:
            _field_error(form, exc)
        else:
            flash(_("Run created."), "success")
            return redirect(url_for("runs.admin_run", run_id=run.id))
    status = 422 if form.is_submitted() else 200
    return render_template("runs/run_form.html", form=form, run=None), status


@bp.route("/admin/runs/<int:run_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_run(run_id: int):
    run = _run_or_404(run_id)
    form = RunForm(obj=None if request.method == "POST" else run)
    _prepare(form)
    if request.method == "GET":
        for entry, day in zip(form.days, run.days, strict=False):
            entry.data = day.day_date
        while len(form.days) < len(run.days):
            form.days.append_entry(run.days[len(form.days)].day_date)
        for entries, times in (
            (form.starts, [d.starts_at for d in run.days]),
            (form.ends, [d.ends_at for d in run.days]),
        ):
            for entry, value in zip(entries, times, strict=False):
                entry.data = value
            while len(entries) < len(times):
                entries.append_entry(times[len(entries)])
        form.facilitator_ids.data = sorted(run.facilitator_ids())
        form.venue.data = run.venue or ""
        form.online_url.data = run.online_url or ""
    if form.validate_on_submit():
        try:
            services.update_run(run, _input(form))
        except services.RunError as exc:
            _field_error(form, exc)
        else:
            flash(_("Run saved."), "success")
            return redirect(url_for("runs.admin_run", run_id=run.id))
    # Where someone can be moved: the course's other runs that have not finished.
    other_runs = [
        r
        for r in services.runs_page(
            None, services.RunFilters(course=run.course_slug, when="upcoming"), 1, 200
        )
        if r.id != run.id
    ]
    move_form = MoveForm()
    move_form.target.choices = choices((str(r.id), r.title) for r in other_runs)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "runs/run_form.html",
        form=form,
        run=run,
        add_form=AddPersonForm(prefix="add"),
        move_form=move_form,
        booked=services.roster(
            run, (PlaceStatus.BOOKED,), request.args.get("q", ""), *page_args(), default_per_page=50
        ),
        waiting=services.roster(
            run,
            (PlaceStatus.WAITING,),
            "",
            *page_args(param="wpage"),
            default_per_page=50,
            param="wpage",
        ),
        q=" ".join(request.args.get("q", "").split())[:100],
        counts=services.place_counts([run.id])[run.id],
        other_runs=other_runs,
        course=learning.catalogue().get(run.course_slug),
    ), status


@bp.route("/admin/runs/<int:run_id>/cancel", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def admin_cancel_run(run_id: int):
    """Cancel a run, after a page that says what it does and asks why."""
    run = _run_or_404(run_id)
    if run.cancelled_at is not None:
        flash(_("This run has already been cancelled."), "info")
        return redirect(url_for("runs.admin_run", run_id=run.id))
    form = CancelRunForm()
    status = 200
    if form.is_submitted():
        status = 422
        if form.validate():
            try:
                services.cancel_run(run, form.reason.data or "", current_user)
            except services.RunError as exc:
                form.reason.errors = [*form.reason.errors, exc.message]
            else:
                flash(
                    _("%(run)s is cancelled. The people on it are told why.", run=run.title),
                    "success",
                )
                return redirect(url_for("runs.admin_run", run_id=run.id))
        elif form.csrf_token.errors:
            flash(
                _("Your session timed out. Your reason is still here: press the button again."),
                "warning",
            )
            status = 400
    return render_template(
        "runs/cancel.html", run=run, form=form, counts=services.place_counts([run.id])[run.id]
    ), status


@bp.post("/admin/runs/<int:run_id>/places")
@roles_required(Role.ADMIN)
def add_place(run_id: int):
    run = _run_or_404(run_id)
    form = AddPersonForm(prefix="add")
    if form.validate_on_submit():
        person = accounts.find_by_email(form.email.data)
        if person is None:
            flash(_("No account uses %(email)s.", email=form.email.data), "error")
        else:
            try:
                place = services.admin_add(
                    run, person, current_user, force_book=bool(form.force_book.data)
                )
            except services.RunError as exc:
                flash(exc.message, "error")
            else:
                flash(
                    _(
                        "%(name)s added: %(status)s.",
                        name=person.name,
                        status=_("booked")
                        if place.status == PlaceStatus.BOOKED
                        else _("waiting list"),
                    ),
                    "success",
                )
    else:
        flash(_("Enter the person's email address."), "error")
    return redirect(url_for("runs.admin_run", run_id=run.id))


def _place_or_404(run: CourseRun, place_id: int):
    place = next((p for p in run.places if p.id == place_id), None)
    if place is None:
        abort(404)
    return place


@bp.post("/admin/runs/<int:run_id>/places/<int:place_id>/remove")
@roles_required(Role.ADMIN)
def remove_place(run_id: int, place_id: int):
    run = _run_or_404(run_id)
    place = _place_or_404(run, place_id)
    if FlaskForm().validate_on_submit():
        name = place.user.name
        promoted = services.withdraw(place, current_user)
        flash(_("%(name)s removed from the run.", name=name), "success")
        for p in promoted:
            flash(_("%(name)s moved up from the waiting list.", name=p.user.name), "info")
    return redirect(url_for("runs.admin_run", run_id=run.id))


@bp.post("/admin/runs/<int:run_id>/places/<int:place_id>/move")
@roles_required(Role.ADMIN)
def move_place(run_id: int, place_id: int):
    run = _run_or_404(run_id)
    place = _place_or_404(run, place_id)
    form = MoveForm()
    target = (
        db.session.get(CourseRun, int(form.target.data))
        if (form.target.data or "").isdigit()
        else None
    )
    if not FlaskForm().validate_on_submit() or target is None:
        flash(_("Choose the run to move them to."), "error")
        return redirect(url_for("runs.admin_run", run_id=run.id))
    try:
        moved = services.move(place, target, current_user)
    except services.RunError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("runs.admin_run", run_id=run.id))
    flash(
        _(
            "%(name)s moved to %(run)s (%(status)s).",
            name=moved.user.name,
            run=target.title,
            status=_("booked") if moved.status == PlaceStatus.BOOKED else _("waiting list"),
        ),
        "success",
    )
    return redirect(url_for("runs.admin_run", run_id=run.id))
