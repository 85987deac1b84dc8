"""Signals between domains. Domains listen to each other here instead of importing both ways."""

from blinker import Namespace

_signals = Namespace()

activity_completed = _signals.signal("activity-completed")
"""Sent by learning when an activity becomes complete for the first time.

Sender: the Flask app. Keyword arguments: ``enrolment`` (learning.models.Enrolment),
``activity`` (catalogue.content.Activity).
"""

course_requirements_met = _signals.signal("course-requirements-met")
"""Sent by learning when an enrolment first meets its course's completion rules.

Sender: the Flask app. Keyword arguments: ``enrolment``, ``course`` (catalogue.content.Course).
Accreditation listens to open a request or issue a certificate.
"""

submission_recorded = _signals.signal("submission-recorded")
"""Sent by learning after storing an accepted submission (before completion is re-checked).

Keyword arguments: ``enrolment``, ``activity``, ``submission`` (lms.plugins.Submission) and
``attempt`` (the stored Attempt, or None for anonymous submissions). Feedback listens to
store responses; for anonymous forms it must not keep anything that names the person.
"""

attendance_recorded = _signals.signal("attendance-recorded")
"""Sent by runs after attendance marks are stored. Keyword arguments: ``run`` and
``user_ids`` (the people whose marks changed). Accreditation re-checks their rules."""

certificate_issued = _signals.signal("certificate-issued")
"""Sent by accreditation after a certificate is issued and its PDF stored.
Keyword argument: ``certificate``."""

account_created = _signals.signal("account-created")
"""Sent by accounts when an account is created.

Keyword arguments: ``user``, ``set_password_url``.
"""

review_recorded = _signals.signal("review-recorded")
"""Sent by review after a facilitator records a decision on a case study.

Keyword arguments: ``review`` (review.models.AttemptReview), ``enrolment``, ``activity``
(catalogue.content.Activity). Notifications tell the trainee.
"""

place_booked = _signals.signal("place-booked")
"""Sent by runs when a place becomes booked: at sign-up, added by an administrator, or
moved up from the waiting list. Keyword arguments: ``place`` (runs.models.RunPlace) and
``promoted`` (True when it came from the waiting list)."""

run_changed = _signals.signal("run-changed")
"""Sent by runs after a run's days, times, venue or online link change (its calendar
SEQUENCE is bumped first). Keyword arguments: ``run`` and ``changes`` (a list of short
phrases saying what changed, for the people booked on it)."""

run_cancelled = _signals.signal("run-cancelled")
"""Sent by runs after a run is cancelled. Keyword arguments: ``run`` and ``reason``."""

accreditation_requested = _signals.signal("accreditation-requested")
"""Sent by accreditation when a completed course waits for an officer to confirm it.
Keyword arguments: ``record`` (accreditation.models.Accreditation) and ``course``."""

accreditation_decided = _signals.signal("accreditation-decided")
"""Sent by accreditation after an officer confirms or declines. Keyword arguments:
``record`` and ``decision`` ("confirmed" or "declined")."""

certificate_expiring = _signals.signal("certificate-expiring")
"""Sent by accreditation's daily reminder job, once per certificate entering its
reminder window. Keyword arguments: ``certificate`` and ``officers`` (the region's
national officers, to tell as well)."""

certificate_revoked = _signals.signal("certificate-revoked")
"""Sent by accreditation after a certificate is revoked. Keyword arguments:
``certificate`` and ``actor`` (who revoked it). Credentials flip its status bit; the
audit log records it."""

certificate_reissued = _signals.signal("certificate-reissued")
"""Sent by accreditation after a certificate's PDF is rendered again (a new file, the
same number). Keyword arguments: ``certificate`` and ``file`` (the new CertificateFile)."""
