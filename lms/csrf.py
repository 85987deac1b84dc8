"""Pages that keep what people typed when their form's token has lapsed.

Every form is checked for its CSRF token by the app's ``CSRFProtect``; a failure
shows ``errors/csrf.html`` with the text that was sent. Pages where people type
at length (an activity's answers, a review, attendance, a decision, a verification
form) do better: they check the token themselves and show the same page again with
everything still in its fields and a fresh token. Such a view says so with
:func:`keeps_typed_text`, the one mechanism for it: there is no list of exempt
endpoints to keep in step. The view then calls :func:`token_lapsed` (or validates a
``FlaskForm``, whose token check is on) before it changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import request
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from lms.extensions import csrf

View = TypeVar("View", bound=Callable)

#: The views that check their own token, by "module.name" (what CSRFProtect keys on).
OWN_CHECK: set[str] = set()


def keeps_typed_text(view: View) -> View:
    """Mark ``view`` as checking the CSRF token itself, so a lapsed token can show the
    page again with what was typed instead of the generic refusal.

    Put it under the route decorator. The view must check the token on every request
    that changes something (:func:`token_lapsed`, or a ``FlaskForm``'s ``validate``).
    """
    OWN_CHECK.add(f"{view.__module__}.{view.__name__}")
    return csrf.exempt(view)


def token_lapsed(field: str = "csrf_token") -> bool:
    """Whether this request's form token is missing, wrong or expired."""
    try:
        validate_csrf(request.form.get(field))
    except ValidationError:
        return True
    return False
