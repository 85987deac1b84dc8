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
