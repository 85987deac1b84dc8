"""Loading and validating course content from ``courses/<slug>/``.

The format is documented in ``docs/course-format.md``. :func:`load_catalogue`
reads every course, validates all of it and either returns a complete
:class:`Catalogue` or raises :class:`CourseContentError` listing every problem
found, each naming the file and the field. A bad course never half-loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lms.plugins import ActivityTypeRegistry, ContentError, load_yaml

KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,79}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ActivitySpec(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    type: str = Field(min_length=1)
    title: str = Field(min_length=1, max_length=200)
    source: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    required: bool = True


class ModuleSpec(_Strict):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    outcomes: list[str] = Field(min_length=1)
    activities: list[ActivitySpec] = Field(min_length=1)
    #: When the module's facts were last checked, and when they must be checked again.
    reviewed_on: date | None = None
    review_by: date | None = None

    @model_validator(mode="after")
    def _review_dates(self) -> ModuleSpec:
        if self.reviewed_on and self.review_by and self.review_by < self.reviewed_on:
            raise ValueError("review_by must not be before reviewed_on")
        return self


class VersionNoteSpec(_Strict):
    """A version whose changes matter to people who completed an earlier one."""

    version: str = Field(min_length=1, max_length=40)
    released_on: date
    note: str = Field(min_length=1, max_length=1000)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class CompletionSpec(_Strict):
    """What a trainee must do. The platform checks each rule (see lms.accreditation)."""

    activities: Literal["all"] | list[str] = "all"
    attendance: Literal["none", "every_day"] = "none"
    excused_absence_counts: bool = False
    confirmation: Literal["none", "officer"] = "none"
    #: "must_pass": the course is complete (and its certificate issued) only once the latest
    #: version of every required reviewed activity (case studies) has a review that meets
    #: the standard, whatever the activity's own ``completion`` says. "none": no such rule.
    review: Literal["none", "must_pass"] = "none"


class ReviewSpec(_Strict):
    """Who reviews the course's written work, and when trainees see the model guidance."""

    #: Work of trainees whom no facilitated run brings to a facilitator goes to the course's
    #: reviewers: "assigned" (the facilitators an administrator names for the course) or
    #: "pool" (every facilitator, as well as any assigned).
    by: Literal["assigned", "pool"] = "assigned"
    #: When a trainee sees a reviewed activity's model guidance: "after_review" (once the
    #: latest version meets the standard) or "after_submission" (as soon as it is sent).
    guidance: Literal["after_review", "after_submission"] = "after_review"


class CertificateSpec(_Strict):
    template: str = Field(pattern=KEY_PATTERN)
    accreditation: str = Field(min_length=1, max_length=200)
    validity_months: int | None = Field(default=None, ge=1, le=240)
    reminder_days: int = Field(default=60, ge=1, le=365)


class CourseSpec(_Strict):
    slug: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=40)
    summary: str = Field(min_length=1)
    prerequisites: list[str] = Field(default_factory=list)
    completion: CompletionSpec = Field(default_factory=CompletionSpec)
    review: ReviewSpec = Field(default_factory=ReviewSpec)
    certificate: CertificateSpec | None = None
    modules: list[ModuleSpec] = Field(min_length=1)
    #: Versions that changed something that matters, with what changed (any order).
    version_notes: list[VersionNoteSpec] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # "2026.1" written without quotes is read by YAML as a float.
        return str(value) if isinstance(value, int | float) else value


@dataclass(frozen=True)
class Activity:
    key: str
    type: str
    title: str
    required: bool
    module_key: str
    config: Any
    source: str | None

    @property
    def anchor(self) -> str:
        return f"activity-{self.key}"


@dataclass(frozen=True)
class Module:
    key: str
    title: str
    outcomes: tuple[str, ...]
    activities: tuple[Activity, ...]
    number: int
    reviewed_on: date | None = None
    review_by: date | None = None
    #: Keys of the dated legal changes its text names (``[[change:KEY]]``).
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Course:
    slug: str
    title: str
    version: str
    summary: str
    prerequisites: tuple[str, ...]
    modules: tuple[Module, ...]
    required_keys: frozenset[str]
    content_hash: str
    path: Path
    completion: CompletionSpec = field(default_factory=CompletionSpec)
    certificate: CertificateSpec | None = None
    version_notes: tuple[VersionNoteSpec, ...] = ()
    review: ReviewSpec = field(default_factory=ReviewSpec)
    _index: dict[str, Activity] = field(default_factory=dict, repr=False, compare=False)

    @property
    def activities(self) -> list[Activity]:
        return [a for m in self.modules for a in m.activities]

    def activity(self, key: str) -> Activity | None:
        return self._index.get(key)

    def notes_since(self, completed_on: date | None, version: str | None) -> list[VersionNoteSpec]:
        """What changed that matters for someone who completed ``version`` on
        ``completed_on``: the notes of later versions, newest first."""
        if completed_on is None or version == self.version:
            return []
        notes = [n for n in self.version_notes if n.released_on > completed_on]
        return sorted(
            (n for n in notes if n.version != version), key=lambda n: n.released_on, reverse=True
        )

    def module_of(self, activity: Activity) -> Module:
        return next(m for m in self.modules if m.key == activity.module_key)

    def neighbours(self, key: str) -> tuple[Activity | None, Activity | None]:
        """The activities before and after ``key`` in course order."""
        items = self.activities
        keys = [a.key for a in items]
        i = keys.index(key)
        return (items[i - 1] if i > 0 else None, items[i + 1] if i + 1 < len(items) else None)


@dataclass
class Catalogue:
    """The loaded courses, in a stable order (by title)."""

    courses: dict[str, Course]
    #: Dated legal changes by key (``courses/changes/``), shared by every course.
    changes: dict[str, Any] = field(default_factory=dict)

    def get(self, slug: str) -> Course | None:
        return self.courses.get(slug)

    def __iter__(self):
        return iter(sorted(self.courses.values(), key=lambda c: c.title))

    def __len__(self) -> int:
        return len(self.courses)


@dataclass(frozen=True)
class ContentProblem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class CourseContentError(Exception):
    """One or more problems in course content. ``problems`` lists them all."""

    def __init__(self, problems: Iterable[ContentProblem]) -> None:
        self.problems = list(problems)
        super().__init__(
            "Course content is not valid:\n" + "\n".join(f"  - {p}" for p in self.problems)
        )


def _loc(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_problems(file: str, exc: ValidationError, prefix: str = "") -> list[ContentProblem]:
    problems = []
    for err in exc.errors():
        loc = _loc(err["loc"])
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        problems.append(ContentProblem(file, loc, err["msg"]))
    return problems


def _read_yaml(path: Path, display: str) -> tuple[Any, list[ContentProblem]]:
    try:
        return load_yaml(path.read_text(encoding="utf-8")), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ContentProblem(display, where, f"not valid YAML: {problem}")]
    except UnicodeDecodeError:
        return None, [ContentProblem(display, "", "not UTF-8 text")]


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def load_course(
    course_dir: Path,
    registry: ActivityTypeRegistry,
    root: Path,
    certificates_dir: Path | None = None,
    changes: dict[str, Any] | None = None,
) -> tuple[Course | None, list[ContentProblem]]:
    """Load one course folder. Returns the course (None on any problem) and the problems.

    ``changes`` are the known dated legal changes; text naming another is a problem.
    """
    from lms.markdown import change_keys

    course_file = course_dir / "course.yaml"
    display = _display(course_file, root)
    raw, problems = _read_yaml(course_file, display)
    if problems:
        return None, problems
    if not isinstance(raw, dict):
        return None, [ContentProblem(display, "", "must be a mapping of course fields")]
    try:
        spec = CourseSpec.model_validate(raw)
    except ValidationError as exc:
        return None, _pydantic_problems(display, exc)

    digest = hashlib.sha256(course_file.read_bytes())
    if spec.slug != course_dir.name:
        problems.append(
            ContentProblem(
                display, "slug", f"is {spec.slug!r} but the folder is {course_dir.name!r}"
            )
        )
    seen_modules: set[str] = set()
    seen_activities: dict[str, str] = {}
    modules: list[Module] = []
    index: dict[str, Activity] = {}
    base = course_dir.resolve()
    for mi, mspec in enumerate(spec.modules):
        mloc = f"modules[{mi}]"
        if mspec.key in seen_modules:
            problems.append(ContentProblem(display, f"{mloc}.key", f"{mspec.key!r} is used twice"))
        seen_modules.add(mspec.key)
        activities: list[Activity] = []
        named: list[str] = []
        for ai, aspec in enumerate(mspec.activities):
            aloc = f"{mloc}.activities[{ai}]"
            if aspec.key in seen_activities:
                problems.append(
                    ContentProblem(
                        display,
                        f"{aloc}.key",
                        f"{aspec.key!r} is already used at {seen_activities[aspec.key]}",
                    )
                )
            seen_activities[aspec.key] = aloc
            activity_type = registry.get(aspec.type)
            if activity_type is None:
                problems.append(
                    ContentProblem(
                        display,
                        f"{aloc}.type",
                        f"unknown activity type {aspec.type!r} "
                        f"(known: {', '.join(registry.names())})",
                    )
                )
                continue
            source_text = None
            source_display = display
            source_prefix = f"{aloc}.settings"
            if aspec.source is not None:
                source_path = (course_dir / aspec.source).resolve()
                if not source_path.is_relative_to(base):
                    problems.append(
                        ContentProblem(
                            display, f"{aloc}.source", "must stay inside the course folder"
                        )
                    )
                    continue
                if not source_path.is_file():
                    problems.append(
                        ContentProblem(
                            display, f"{aloc}.source", f"file {aspec.source!r} not found"
                        )
                    )
                    continue
                try:
                    source_bytes = source_path.read_bytes()
                    source_text = source_bytes.decode("utf-8")
                except UnicodeDecodeError:
                    problems.append(
                        ContentProblem(_display(source_path, root), "", "not UTF-8 text")
                    )
                    continue
                digest.update(aspec.source.encode() + b"\0" + source_bytes)
                source_display = _display(source_path, root)
                source_prefix = ""
            elif activity_type.source_format is not None and not aspec.settings:
                problems.append(
                    ContentProblem(
                        display, f"{aloc}.source", f"a {aspec.type} activity needs a source file"
                    )
                )
                continue
            texts = [source_text or "", *_strings(aspec.settings)]
            missing = False
            for text in texts:
                for key in change_keys(text):
                    if changes is not None and key not in changes:
                        problems.append(
                            ContentProblem(
                                source_display,
                                source_prefix,
                                f"[[change:{key}]] names no file courses/changes/{key}.yaml",
                            )
                        )
                        missing = True
                    elif key not in named:
                        named.append(key)
            if missing:
                continue
            try:
                config = activity_type.parse(aspec.settings, source_text)
            except ValidationError as exc:
                problems.extend(_pydantic_problems(source_display, exc, source_prefix))
                continue
            except ContentError as exc:
                fld = exc.field
                if source_prefix:
                    fld = f"{source_prefix}.{fld}" if fld else source_prefix
                problems.append(ContentProblem(source_display, fld, exc.message))
                continue
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
                problems.append(
                    ContentProblem(
                        source_display, where, f"not valid YAML: {getattr(exc, 'problem', exc)}"
                    )
                )
                continue
            activity = Activity(
                key=aspec.key,
                type=aspec.type,
                title=aspec.title,
                required=aspec.required,
                module_key=mspec.key,
                config=config,
                source=aspec.source,
            )
            activities.append(activity)
            index[aspec.key] = activity
        modules.append(
            Module(
                key=mspec.key,
                title=mspec.title,
                outcomes=tuple(mspec.outcomes),
                activities=tuple(activities),
                number=mi + 1,
                reviewed_on=mspec.reviewed_on,
                review_by=mspec.review_by,
                changes=tuple(named),
            )
        )

    if spec.completion.activities == "all":
        required = frozenset(k for k, a in index.items() if a.required)
    else:
        required = frozenset(spec.completion.activities)
        for i, key in enumerate(spec.completion.activities):
            if key not in seen_activities:
                problems.append(
                    ContentProblem(display, f"completion.activities[{i}]", f"no activity {key!r}")
                )
    if spec.certificate is not None:
        template_dir = (certificates_dir or root.parent / "certificates") / (
            spec.certificate.template
        )
        if not (template_dir / "template.html").is_file():
            problems.append(
                ContentProblem(
                    display,
                    "certificate.template",
                    f"no template.html in certificates/{spec.certificate.template}/",
                )
            )
    if problems:
        return None, problems
    course = Course(
        slug=spec.slug,
        title=spec.title,
        version=spec.version,
        summary=spec.summary,
        prerequisites=tuple(spec.prerequisites),
        modules=tuple(modules),
        required_keys=required,
        content_hash=digest.hexdigest(),
        path=course_dir,
        completion=spec.completion,
        certificate=spec.certificate,
        version_notes=tuple(spec.version_notes),
        review=spec.review,
        _index=index,
    )
    return course, []


def load_catalogue(
    courses_dir: str | Path,
    registry: ActivityTypeRegistry,
    certificates_dir: str | Path | None = None,
) -> Catalogue:
    """Load every ``<dir>/*/course.yaml``. Raises CourseContentError listing all problems.

    Certificate templates named by courses are looked for in ``certificates_dir``
    (by default ``certificates/`` beside the courses folder).
    """
    root = Path(courses_dir)
    certs = Path(certificates_dir) if certificates_dir else None
    problems: list[ContentProblem] = []
    courses: dict[str, Course] = {}
    if not root.is_dir():
        raise CourseContentError([ContentProblem(str(root), "", "courses folder not found")])
    from lms.catalogue.changes import load_changes

    changes, found_in_changes = load_changes(root / "changes", root.parent)
    problems.extend(found_in_changes)
    for course_dir in sorted(p for p in root.iterdir() if (p / "course.yaml").is_file()):
        course, found = load_course(course_dir, registry, root, certs, changes)
        problems.extend(found)
        if course is not None:
            courses[course.slug] = course
    # Prerequisites are checked across courses once all are read.
    for course_dir in sorted(p for p in root.iterdir() if (p / "course.yaml").is_file()):
        course = courses.get(course_dir.name)
        if course is None:
            continue
        display = _display(course_dir / "course.yaml", root)
        for i, slug in enumerate(course.prerequisites):
            if slug == course.slug:
                problems.append(
                    ContentProblem(display, f"prerequisites[{i}]", "a course cannot require itself")
                )
            elif slug not in courses and not (root / slug / "course.yaml").is_file():
                problems.append(
                    ContentProblem(display, f"prerequisites[{i}]", f"no course {slug!r}")
                )
    problems.extend(_cycles(courses, root))
    if problems:
        raise CourseContentError(problems)
    return Catalogue(courses, changes)


def _strings(value: Any) -> list[str]:
    """Every string inside inline settings (where change lines may appear too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _cycles(courses: dict[str, Course], root: Path) -> list[ContentProblem]:
    problems = []
    for slug in courses:
        stack = [(slug, (slug,))]
        while stack:
            current, path = stack.pop()
            for nxt in courses[current].prerequisites if current in courses else ():
                if nxt == slug and len(path) > 1:
                    problems.append(
                        ContentProblem(
                            _display(courses[slug].path / "course.yaml", root),
                            "prerequisites",
                            "prerequisites go round in a circle: " + " -> ".join((*path, slug)),
                        )
                    )
                    stack.clear()
                    break
                if nxt not in path and nxt in courses:
                    stack.append((nxt, (*path, nxt)))
    return problems
