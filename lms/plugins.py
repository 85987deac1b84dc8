"""The activity type contract and the registry built from entry points.

An activity type is a class registered in the ``lms.activity_types`` entry point
group (the built-in ``reading`` and ``quiz`` are registered the same way, in
``pyproject.toml``). One instance per app is kept in
``app.extensions["lms.activity_types"]``.

A type is responsible for four things:

1. **Parsing its content.** :meth:`ActivityType.parse` gets the activity's inline
   ``settings`` mapping and, when the course file names a ``source``, that file's
   text. It returns any object the type wants to keep (usually a pydantic model)
   or raises :class:`ContentError` / ``pydantic.ValidationError``; the loader turns
   either into an error naming the file and the field.
2. **Rendering.** :meth:`ActivityType.render` returns HTML (``markupsafe.Markup``)
   for the activity's part of the page, given an :class:`ActivityContext`.
3. **Handling a submission.** :meth:`ActivityType.submit` turns posted form data
   into a :class:`Submission` (stored as an attempt) or raises :class:`SubmissionRejected`
   with a message and per-field errors, keeping what the person entered.
4. **Deciding completion.** :meth:`ActivityType.is_complete` says whether the
   progress so far (best score, attempts, state) completes the activity.
5. **Judging its own content** (optional). :meth:`ActivityType.lint` returns
   :class:`LintFinding` items about content that loads but teaches or assesses
   badly (``flask lms courses check`` prints them; errors fail the check).

Types never touch the database or the session themselves: the learning services
store attempts and progress. Their per-activity data lives in JSON (attempt
``data`` and progress ``state``), so a type needs no table of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

from markupsafe import Markup

if TYPE_CHECKING:
    from lms.catalogue.content import Activity, Course, Module

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "lms.activity_types"


def load_yaml(text: str) -> Any:
    """Parse YAML the way every course file and activity is parsed: safe (plain data
    only), with libyaml's parser when PyYAML has it, which is about ten times faster
    than the pure-Python one (course loading is most of a web process's start-up).
    Raises ``yaml.YAMLError`` with the line and column of the problem either way."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506


class ContentError(ValueError):
    """A problem in an activity's content. ``field`` is a dotted path inside the settings."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class LintFinding:
    """Something :meth:`ActivityType.lint` found in valid content. ``level`` is
    "error" (the check fails) or "warning"; ``field`` a dotted path in the content."""

    level: str
    field: str
    message: str


class SubmissionRejected(Exception):
    """A submission that cannot be accepted as it is.

    ``message`` is shown at the top of the activity, ``errors`` maps form field
    names to messages shown next to those fields, and ``values`` is what the
    person entered, so the page can show it again.
    """

    def __init__(
        self,
        message: str,
        errors: Mapping[str, str] | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})
        self.values = dict(values or {})


@dataclass(frozen=True)
class Submission:
    """What a type makes of an accepted submission.

    ``data`` is stored with the attempt (JSON). ``score`` is a percentage or None
    for ungraded types. ``is_passed`` is None when passing does not apply.
    ``state`` replaces the progress state when not None.
    """

    data: dict[str, Any]
    score: float | None = None
    is_passed: bool | None = None
    state: dict[str, Any] | None = None
    message: str = ""
    #: Anonymous submissions are not stored as attempts and leave no timestamp on
    #: the person's progress; listeners of ``submission_recorded`` store them unlinked.
    is_anonymous: bool = False


@dataclass(frozen=True)
class ReviewView:
    """A reviewer's judgement of an attempt (for reviewed types such as case studies)."""

    decision: str
    criteria: dict[str, str]
    comments: str
    reviewer_name: str
    created_at: Any


@dataclass(frozen=True)
class AttemptView:
    """A stored attempt as a type sees it, with its reviews in order."""

    number: int
    data: dict[str, Any]
    score: float | None
    is_passed: bool | None
    submitted_at: Any
    reviews: tuple[ReviewView, ...] = ()


@dataclass(frozen=True)
class ProgressView:
    """A trainee's progress on one activity as a type sees it."""

    is_complete: bool = False
    best_score: float | None = None
    attempt_count: int = 0
    state: dict[str, Any] = field(default_factory=dict)


@dataclass
class ActivityContext:
    """Everything a type gets to render or judge one activity for one person."""

    course: Course
    module: Module
    activity: Activity
    progress: ProgressView
    attempts: list[AttemptView]
    form_action: str
    csrf_token: str
    render_template: Callable[..., str]
    render_template_string: Callable[..., str]
    rejected: SubmissionRejected | None = None
    just_submitted: bool = False
    #: Facts other domains supply for a type (e.g. ``feedback_anonymous``).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Any:
        return self.activity.config

    @property
    def latest_attempt(self) -> AttemptView | None:
        return self.attempts[-1] if self.attempts else None


class ActivityType:
    """Base class of every activity type. Subclasses set ``name`` and ``label``."""

    name: ClassVar[str]
    label: ClassVar[str]
    #: What a ``source`` file holds for this type: "markdown", "yaml" or None (no source).
    source_format: ClassVar[str | None] = None
    #: Types that save drafts get a draft endpoint; see :meth:`draft`.
    supports_drafts: ClassVar[bool] = False
    #: Attempts of reviewed types go to facilitators' review queues.
    is_reviewed: ClassVar[bool] = False
    #: Create this type's progress rows at enrolment (anonymous forms: row ids and
    #: times then reveal nothing about when someone answered).
    precreate_progress: ClassVar[bool] = False

    def parse(self, settings: Mapping[str, Any], source_text: str | None) -> Any:
        """Validate the activity's content and return its parsed config.

        Raises ContentError or pydantic.ValidationError.
        """
        raise NotImplementedError

    def render(self, ctx: ActivityContext) -> Markup:
        """Return the HTML of the activity for the person in ``ctx``."""
        raise NotImplementedError

    def submit(self, ctx: ActivityContext, form: Mapping[str, Any]) -> Submission:
        """Judge posted form data. Raises SubmissionRejected for input to correct."""
        raise NotImplementedError

    def is_complete(self, progress: ProgressView, config: Any) -> bool:
        """Whether ``progress`` completes the activity."""
        raise NotImplementedError

    def summary(self, progress: ProgressView, config: Any) -> str:
        """A short status line for progress lists (e.g. "Best score 80%")."""
        return ""

    def draft(self, form: Mapping[str, Any], config: Any) -> dict[str, Any]:
        """The draft to keep from posted form data (types with ``supports_drafts``)."""
        return {}

    def review_state(self, decision: str) -> dict[str, Any]:
        """Progress state to merge in when a reviewer decides (types with ``is_reviewed``)."""
        return {}

    def lint(self, config: Any) -> list[LintFinding]:
        """Findings about the quality of this activity's content (none by default)."""
        return []


class RegistryError(RuntimeError):
    """Raised when the activity type registry cannot be built (duplicates, bad classes)."""


class ActivityTypeRegistry:
    """Activity types by name. Built once per app by :func:`build_registry`."""

    def __init__(self) -> None:
        self._types: dict[str, ActivityType] = {}

    def register(self, activity_type: ActivityType, origin: str = "") -> None:
        """Add a type. Raises RegistryError if its name is already taken or missing."""
        name = getattr(activity_type, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"Activity type from {origin or activity_type!r} has no name")
        if name in self._types:
            raise RegistryError(
                f"Two activity types are called {name!r} ({type(self._types[name]).__module__} "
                f"and {origin or type(activity_type).__module__})"
            )
        self._types[name] = activity_type

    def get(self, name: str) -> ActivityType | None:
        return self._types.get(name)

    def __getitem__(self, name: str) -> ActivityType:
        return self._types[name]

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)


def build_registry() -> ActivityTypeRegistry:
    """Instantiate every class in the ``lms.activity_types`` entry point group.

    Raises RegistryError when two entry points give the same type name or an entry
    point does not load to an ActivityType subclass.
    """
    registry = ActivityTypeRegistry()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, ActivityType)):
            raise RegistryError(f"Entry point {ep.name} = {ep.value} is not an ActivityType")
        instance = cls()
        if instance.name != ep.name:
            raise RegistryError(
                f"Entry point {ep.name!r} loads a type that calls itself {instance.name!r}"
            )
        registry.register(instance, origin=ep.value)
        log.debug("Registered activity type %s from %s", ep.name, ep.value)
    return registry
