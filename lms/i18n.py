"""The one place user-facing text goes through, so it can be translated later.

Use ``_`` in request code and templates, ``_l`` (lazy) for text defined at import
time such as form labels.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

__all__ = ["_", "_l", "ngettext"]
