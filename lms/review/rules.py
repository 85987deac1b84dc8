"""A course's review rules as activity code sees them: when the model guidance shows.

Imports nothing but the content classes, so activity types can use it without import
cycles. The course settings are ``review.guidance`` (``after_review``, the default, or
``after_submission``) in ``course.yaml``; see docs/course-format.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The decision that meets the standard (lms.review.services.DECISIONS[0]).
ACCEPTED = "accepted"


def guidance_visible(course: Any, attempts: Sequence[Any]) -> bool:
    """Whether the trainee whose ``attempts`` these are (oldest first, each with its
    ``reviews`` in order, as :class:`lms.plugins.AttemptView`) sees the model guidance.

    ``after_submission``: once any version has been sent. ``after_review``: once the
    latest version's latest review meets the standard; while it waits, or after "needs
    more work", the guidance stays hidden, so a revision is the trainee's own work.
    No query: it reads what the page has already loaded.
    """
    if not attempts:
        return False
    when = getattr(getattr(course, "review", None), "guidance", "after_review")
    if when == "after_submission":
        return True
    reviews = attempts[-1].reviews
    return bool(reviews) and reviews[-1].decision == ACCEPTED
