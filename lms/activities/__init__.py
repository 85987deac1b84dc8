"""The built-in activity types (registered through entry points like any plugin).

Their templates are in the project's ``templates/activities/<type name>/``: each
type's own folder (:attr:`lms.plugins.ActivityType.template_folder`), rendered as
``activity/<type name>/<file>``.
"""

from __future__ import annotations

from pathlib import Path

#: The folder holding one template folder per built-in type.
BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "activities"
