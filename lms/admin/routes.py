"""The training office: accounts and regions."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from wtforms import SelectChoice

from lms.accounts import services as accounts
from lms.accounts.models import Region, Role, RoleAssignment, User
from lms.admin.forms import AccountForm, ImportForm, RegionForm, RolesForm
from lms.db import escape_like
from lms.extensions import db
from lms.i18n import _
from lms.pagination import page_args, paginate
from lms.security import roles_required
from lms.sessions import services as sessions

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE_SIZE = 50


def _regions() -> list[Region]:
    return list(db.session.scalars(select(Region).order_by(Region.name)))


def _region_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("No region"))] + [
        SelectChoice(str(r.id), r.name) for r in _regions()
    ]


def _region(value: str | None) -> Region | None:
    return db.session.get(Region, int(value)) if value and value.isdigit() else None


@bp.get("/users")
@roles_required(Role.ADMIN)
def users():
    q = " ".join((request.args.get("q") or "").split())[:100]
    role = request.args.get("role") or ""
    region = request.args.get("region") or ""
    regions = _regions()
    stmt = (
        select(User)
        .options(selectinload(User.roles), joinedload(User.region))
        # The register's name order (case-folded, Unicode-aware), on its own index.
        .order_by(User.name_key, User.id)
    )
    if q:
        like = f"%{escape_like(q.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(User.name).like(like, escape="\\"),
                func.lower(User.email).like(like, escape="\\"),
            )
        )
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.roles.any(RoleAssignment.role == role))
    else:
        role = ""
    if region == "none":
        stmt = stmt.where(User.region_id.is_(None))
    elif region.isdigit() and int(region) in {r.id for r in regions}:
        stmt = stmt.where(User.region_id == int(region))
    else:
        region = ""
    page, per_page = page_args()
    return render_template(
        "admin/users.html",
        people=paginate(stmt, page, per_page, default_per_page=PAGE_SIZE),
        q=q,
        role=role,
        region=region,
        regions=regions,
        roles=list(Role),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user():
    form = AccountForm()
    form.region.choices = _region_choices()
    if form.validate_on_submit():
        try:
            created = accounts.create_user(
                form.email.data, form.name.data, form.roles.data or [], _region(form.region.data)
            )
        except accounts.AccountError as exc:
            getattr(form, exc.field, form.email).errors.append(exc.message)
        else:
            flash(
                _(
                    "Account created for %(name)s. "
                    "They have been sent a link to set their password.",
                    name=created.user.name,
                ),
                "success",
            )
            return redirect(url_for("admin.user", user_id=created.user.id))
    status = 422 if form.is_submitted() else 200
    return render_template("admin/user_new.html", form=form), status


@bp.route("/users/import", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def import_users():
    """Accounts from a CSV: every row checked first, the same checks and report as
    ``flask lms users import``. Refused rows keep the text on the page to fix."""
    form = ImportForm()
    report = None
    problem = None
    if form.validate_on_submit():
        upload = form.file.data
        text = form.text.data or ""
        if upload and getattr(upload, "filename", ""):
            raw = upload.read(2_000_001)
            if len(raw) > 2_000_000:
                problem = _("The file is larger than 2 MB: import it in parts.")
            else:
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    problem = _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
                else:
                    form.text.data = text  # shown again to fix, whatever happens
        if problem is None and not text.strip():
            problem = _("Choose a CSV file or paste the rows.")
        if problem is None:
            try:
                report = accounts.import_accounts(text, skip_bad=form.skip_bad.data)
            except accounts.AccountError as exc:
                problem = exc.message
        if problem is not None:
            form.text.errors = [*form.text.errors, problem]
        elif report.imported:
            flash(
                _(
                    "Imported %(n)d accounts; each has been sent a link to set their password.",
                    n=len(report.good),
                )
                + (" " + _("%(n)d rows were refused.", n=len(report.bad)) if report.bad else ""),
                "success",
            )
            if not report.bad:
                return redirect(url_for("admin.users"))
    # 422 only when nothing was created (a failed request is rolled back).
    refused = problem is not None or (report is not None and not report.imported)
    status = 422 if form.is_submitted() and refused else 200
    return render_template("admin/users_import.html", form=form, report=report), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    form = RolesForm()
    form.region.choices = _region_choices()
    if request.method == "GET":
        form.roles.data = sorted(person.role_names)
        form.region.data = str(person.region_id or "")
    if form.validate_on_submit():
        try:
            roles = form.roles.data or []
            if person.id == current_user.id and Role.ADMIN.value not in roles:
                # Nobody locks themselves out of the training office by accident.
                raise accounts.AccountError(
                    _("You cannot remove your own administrator role."), "roles"
                )
            accounts.set_roles(person, roles, _region(form.region.data))
        except accounts.AccountError as exc:
            getattr(form, exc.field, form.roles).errors.append(exc.message)
        else:
            flash(_("Roles saved."), "success")
            return redirect(url_for("admin.user", user_id=person.id))
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/user.html", person=person, form=form, action_form=FlaskForm()
    ), status


@bp.post("/users/<int:user_id>/password-link")
@roles_required(Role.ADMIN)
def send_password_link(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    if FlaskForm().validate_on_submit():
        accounts.issue_password_link(person, "setup" if not person.password_hash else "reset")
        flash(_("A new one-time link has been sent to %(email)s.", email=person.email), "success")
    return redirect(url_for("admin.user", user_id=person.id))


@bp.post("/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def toggle_active(user_id: int):
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    if FlaskForm().validate_on_submit():
        if person.id == current_user.id:
            # The page offers no button for this; refuse it here too, so that an
            # administrator cannot lock themselves (or the last administrator) out.
            flash(_("You cannot deactivate your own account."), "error")
            return redirect(url_for("admin.user", user_id=person.id))
        person.is_active_account = not person.is_active_account
        if not person.is_active_account:
            # Deactivated: logged out everywhere, now (lms.sessions), and no link of
            # before comes back to life if the account is reactivated.
            sessions.end_all(person.id)
            accounts.invalidate_password_links(person)
        flash(
            _("Account reactivated.") if person.is_active_account else _("Account deactivated."),
            "success",
        )
    return redirect(url_for("admin.user", user_id=person.id))


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


@bp.route("/regions", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def regions():
    form = RegionForm()
    if form.validate_on_submit():
        name = " ".join(form.name.data.split())
        slug = slugify(name)
        if not slug:
            form.name.errors.append(_("Use letters or numbers in the name."))
        elif db.session.scalar(
            select(Region).where(or_(func.lower(Region.name) == name.lower(), Region.slug == slug))
        ):
            form.name.errors.append(_("There is already a region with this name."))
        else:
            db.session.add(Region(name=name, slug=slug))
            flash(_("Region %(name)s added.", name=name), "success")
            return redirect(url_for("admin.regions"))
    counts = dict(
        db.session.execute(
            select(RoleAssignment.region_id, func.count())
            .where(RoleAssignment.role == Role.OFFICER)
            .group_by(RoleAssignment.region_id)
        ).all()
    )
    status = 422 if form.is_submitted() else 200
    return render_template(
        "admin/regions.html", regions=_regions(), form=form, officer_counts=counts
    ), status
