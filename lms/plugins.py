"""The activity type contract and the registry built from entry points.

An activity type is a class registered in the ``lms.activity_types`` entry point
group (the built-in ``reading``, ``quiz``, ``case_study`` and ``feedback`` are
registered the same way, in ``pyproject.toml``). One instance per app is kept in
``app.extensions["lms.activity_types"]``.

A type is responsible for everything that differs between types, so no other part
of the platform tests a type's name (``tests/unit/test_activity_type_contract.py``
checks that):

1. **Parsing its content.** :meth:`ActivityType.parse` gets the activity's inline
   ``settings`` mapping and, when the course file names a ``source``, that file's
   text. It returns any object the type wants to keep (usually a pydantic model)
   or raises :class:`ContentError` / ``pydantic.ValidationError``; the loader turns
   either into an error naming the file and the field.
2. **Rendering.** :meth:`ActivityType.render` returns HTML (``markupsafe.Markup``)
   for the activity's part of the page, given an :class:`ActivityContext`. Its
   templates live in its own folder (:attr:`ActivityType.template_folder`) and are
   named ``activity/<type name>/<file>`` (:meth:`ActivityType.template`), so two
   types never clash and a plugin package ships its templates with its code.
3. **Handling a submission.** :meth:`ActivityType.submit` turns posted form data
   into a :class:`Submission` (stored as an attempt) or raises :class:`SubmissionRejected`
   with a message and per-field errors, keeping what the person entered.
   :attr:`ActivityType.advances` says whether the trainee then goes on to the next
   page (a reading page) or sees the result where they are (a quiz).
4. **Deciding completion.** :meth:`ActivityType.is_complete` says whether the
   progress so far (best score, attempts, state) completes the activity, and
   :attr:`ActivityType.requirement_label` / :attr:`ActivityType.requirement_detail`
   how a course's requirements list names the type's activities.
5. **Review** (types with :attr:`ActivityType.is_reviewed`). Each attempt goes to a
   reviewer's queue. The reviewer's page is the type's ``review.html`` (extending
   ``review/review.html``: blocks ``work`` and ``judging``), given a
   :class:`ReviewContext` and :meth:`ActivityType.review_context`; what the reviewer
   posted is read by :meth:`ActivityType.review_values` and judged by
   :meth:`ActivityType.judge` into a :class:`Judgement` (or :class:`ReviewRejected`).
   Every review ends in one of :data:`REVIEW_DECISIONS` ("accepted": the work meets
   the standard; "needs_work": the trainee revises and sends it again), which a type
   may name in its own words (:attr:`ActivityType.review_outcomes`);
   :meth:`ActivityType.review_state` turns the decision into progress state.
6. **Judging its own content** (optional). :meth:`ActivityType.lint` returns
   :class:`LintFinding` items about content that loads but teaches or assesses
   badly (``flask lms courses check`` prints them; errors fail the check).

Some capabilities are flags other domains read: :attr:`ActivityType.supports_drafts`,
:attr:`ActivityType.precreate_progress`, :attr:`ActivityType.collects_feedback` (the
feedback domain stores and tallies the answers) and
:attr:`ActivityType.after_course_days` (answered on or after the course days, so
never "due before" them).

Types never touch the database or the session themselves: the learning services
store attempts and progress. Their per-activity data lives in JSON (attempt
``data`` and progress ``state``), so a type needs no table of its own.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, TemplateNotFound
from markupsafe import Markup

if TYPE_CHECKING:
    from flask import Flask

    from lms.catalogue.content import Activity, Course, Module

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "lms.activity_types"

#: The decisions a review can end in, whatever the type: the work meets the standard,
#: or the trainee is asked for more work (and sends a new version).
ACCEPTED = "accepted"
NEEDS_WORK = "needs_work"
REVIEW_DECISIONS = (ACCEPTED, NEEDS_WORK)
#: Longest comments a reviewer may write.
MAX_REVIEW_COMMENTS = 10_000
#: Template names of a type start with this, then the type's name: ``activity/quiz/page.html``.
TEMPLATE_PREFIX = "activity"


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


class ReviewRejected(Exception):
    """A reviewer's judgement that cannot be saved as it is: ``message`` is shown at the
    top of the form and ``field`` names the input at fault (the id it links to)."""

    def __init__(self, message: str, field: str = "decision") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Judgement:
    """A reviewer's judgement as a type makes it from what they posted: one of
    :data:`REVIEW_DECISIONS`, marks by the type's own keys (``criteria``, stored as
    JSON), and comments for the trainee."""

    decision: str
    criteria: dict[str, str] = field(default_factory=dict)
    comments: str = ""


@dataclass
class ReviewContext:
    """Everything a reviewed type gets to show a reviewer one attempt."""

    course: Course
    module: Module
    activity: Activity
    trainee_name: str
    #: The version being reviewed.
    attempt: AttemptView
    #: Every version sent, oldest first, each with its reviews.
    history: list[AttemptView]
    is_latest: bool
    #: What the reviewer entered (from :meth:`ActivityType.review_values`).
    values: dict[str, Any]
    error: str | None = None
    error_field: str = ""

    @property
    def config(self) -> Any:
        return self.activity.config


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
    #: After an accepted submission the trainee goes on to the next page (a page they
    #: mark as done) instead of seeing the result on this one.
    advances: ClassVar[bool] = False
    #: Answers are course feedback: the feedback domain stores them (anonymously when
    #: the form says so) and tallies them. Such a type's config has ``anonymous`` and
    #: ``questions`` (each with ``key`` and ``kind``: "rating", "choice" or "text").
    collects_feedback: ClassVar[bool] = False
    #: Answered on or after the course days, so never listed as due before them.
    after_course_days: ClassVar[bool] = False
    #: How a course's requirements list names this type's required activities (the
    #: type's ``label`` when None), and its count: ``{done}`` and ``{total}`` are filled in.
    requirement_label: ClassVar[str | None] = None
    requirement_detail: ClassVar[str] = "{done} of {total} complete"
    #: The type's activities in a sentence, plural and lower case ("case studies"); the
    #: lower-cased ``label`` when None.
    plural_label: ClassVar[str | None] = None
    #: The folder of this type's templates, named ``activity/<name>/<file>`` when
    #: rendered. A relative path is taken from the folder of the type's module; None
    #: means ``templates`` beside the module, if there is one.
    template_folder: ClassVar[str | Path | None] = None
    #: The reviewer's page (types with ``is_reviewed``), in the type's template folder.
    #: Without one, ``review/review.html`` shows each version's data as it is.
    review_template: ClassVar[str] = "review.html"
    #: What each of :data:`REVIEW_DECISIONS` is called for this type (reviewer's form,
    #: the trainee's page). Translated when shown.
    review_outcomes: ClassVar[Mapping[str, str]] = {
        ACCEPTED: "Meets the standard",
        NEEDS_WORK: "Needs more work",
    }

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

    # --- Templates ----------------------------------------------------------------------

    def template(self, file: str) -> str:
        """The name to render one of this type's templates by: ``activity/<name>/<file>``."""
        return f"{TEMPLATE_PREFIX}/{self.name}/{file}"

    def templates_path(self) -> Path | None:
        """The folder holding this type's templates (None: the type has none)."""
        module_file = inspect.getfile(type(self))
        here = Path(module_file).resolve().parent
        if self.template_folder is None:
            folder = here / "templates"
            return folder if folder.is_dir() else None
        folder = Path(self.template_folder)
        return folder if folder.is_absolute() else here / folder

    # --- Requirements -------------------------------------------------------------------

    def requirement(self, done: int, total: int) -> tuple[str, str]:
        """The requirements list's line for this type's required activities: its label
        and how many of them are done (translated)."""
        from lms.i18n import _

        label = self.requirement_label or self.label
        return _(label), _(self.requirement_detail).format(done=done, total=total)

    # --- Review (types with ``is_reviewed``) --------------------------------------------

    def outcome_label(self, decision: str) -> str:
        """What a review's decision is called for this type (translated)."""
        from lms.i18n import _

        label = self.review_outcomes.get(decision)
        return _(label) if label else decision

    def review_values(self, config: Any, form: Mapping[str, Any]) -> dict[str, Any]:
        """What a reviewer posted, as :meth:`judge` reads it and the form shows it again:
        ``decision`` and ``comments`` here; types add their own fields."""
        return {
            "decision": _first(form.get("decision", "")),
            "comments": _first(form.get("comments", "")),
        }

    def review_marks(self, config: Any, values: Mapping[str, Any]) -> dict[str, str]:
        """The type's own marks from :meth:`review_values` (stored as the review's
        ``criteria``). Raises ReviewRejected when one is missing or wrong."""
        return {}

    def judge(self, config: Any, values: Mapping[str, Any]) -> Judgement:
        """Make a reviewer's judgement from :meth:`review_values`. Checks, in order: the
        decision is one of :data:`REVIEW_DECISIONS`, the type's marks
        (:meth:`review_marks`), and comments (required when asking for more work).
        Raises ReviewRejected naming the field at fault."""
        from lms.i18n import _

        decision = str(values.get("decision") or "")
        if decision not in REVIEW_DECISIONS:
            raise ReviewRejected(
                _(
                    "Choose “%(accepted)s” or “%(needs_work)s”.",
                    accepted=self.outcome_label(ACCEPTED),
                    needs_work=self.outcome_label(NEEDS_WORK),
                ),
                "decision",
            )
        marks = self.review_marks(config, values)
        comments = str(values.get("comments") or "").strip()
        if decision == NEEDS_WORK and not comments:
            raise ReviewRejected(_("Tell the trainee what to work on."), "comments")
        if len(comments) > MAX_REVIEW_COMMENTS:
            raise ReviewRejected(_("Keep comments under 10,000 characters."), "comments")
        return Judgement(decision, marks, comments)

    def review_context(self, ctx: ReviewContext) -> dict[str, Any]:
        """Extra variables for the reviewer's page (the template gets ``ctx``, ``config``,
        ``values`` and ``activity_type`` anyway)."""
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


def _first(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value)


# --- Each type's templates ------------------------------------------------------------


class ActivityTemplateLoader(BaseLoader):
    """Finds ``activity/<type>/<file>`` in that type's template folder, and nowhere else.

    The registry is looked up when a template is first asked for (``registry`` is a
    callable), so the loader can be installed before the registry is built. Each
    type's folder is a namespace of its own, as a Flask blueprint's or an Indico
    plugin's templates are: a plugin's ``page.html`` never shadows another's.
    """

    def __init__(self, registry: Callable[[], ActivityTypeRegistry | None]) -> None:
        self._registry = registry
        self._loaders: dict[str, FileSystemLoader] = {}

    def _loader(self, type_name: str) -> FileSystemLoader | None:
        registry = self._registry()
        activity_type = registry.get(type_name) if registry is not None else None
        folder = activity_type.templates_path() if activity_type is not None else None
        if folder is None:
            return None
        key = str(folder)
        if key not in self._loaders:
            self._loaders[key] = FileSystemLoader(key)
        return self._loaders[key]

    def get_source(self, environment: Environment, template: str):
        prefix, _sep, rest = template.partition("/")
        type_name, _sep, file = rest.partition("/")
        if prefix != TEMPLATE_PREFIX or not type_name or not file:
            raise TemplateNotFound(template)
        loader = self._loader(type_name)
        if loader is None:
            raise TemplateNotFound(template)
        try:
            return loader.get_source(environment, file)
        except TemplateNotFound:
            raise TemplateNotFound(template) from None

    def list_templates(self) -> list[str]:
        registry = self._registry()
        out: list[str] = []
        for name in registry.names() if registry is not None else []:
            loader = self._loader(name)
            if loader is not None:
                out.extend(f"{TEMPLATE_PREFIX}/{name}/{file}" for file in loader.list_templates())
        return sorted(out)


def init_templates(app: Flask) -> None:
    """Let the app's templates be found in each activity type's folder as well
    (``activity/<type>/<file>``). Idempotent."""
    current = app.jinja_loader
    if isinstance(current, ChoiceLoader) and any(
        isinstance(loader, ActivityTemplateLoader) for loader in current.loaders
    ):
        return
    loader = ActivityTemplateLoader(lambda: app.extensions.get("lms.activity_types"))
    app.jinja_loader = ChoiceLoader([current, loader] if current is not None else [loader])
