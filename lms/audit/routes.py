"""Administrators read the issuance and decisions log (``/admin/audit``)."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request

from lms.accounts.models import Role
from lms.audit import services
from lms.pagination import page_args, paginate, search_arg
from lms.security import roles_required

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("")
@roles_required(Role.ADMIN)
def index():
    subject = search_arg(request.args, "subject", 120)
    page, per_page = page_args(request.args)
    entries = paginate(services.entries_stmt(subject or None), page, per_page, default_per_page=50)
    facts = {e.id: json.loads(e.data) for e in entries.items}
    return render_template(
        "audit/index.html",
        entries=entries,
        facts=facts,
        subject=subject,
        report=services.verify_chain() if request.args.get("check") else None,
    )
