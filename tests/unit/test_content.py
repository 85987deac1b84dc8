"""Course content: the real courses are complete, and every kind of mistake is reported clearly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from lms import create_app
from lms.catalogue.content import CourseContentError, load_catalogue
from lms.markdown import render_markdown
from lms.plugins import build_registry
from tests.conftest import base_config

COURSES = Path(__file__).resolve().parents[2] / "courses"
SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(COURSES, build_registry())


LINK_MEMBER_MODULES = [
    "Promoting MiP and its campaigns",
    "Giving information and advice",
    "Supporting members informally with problems at work",
    "Contributing to policy and campaigns",
    "Recruiting and involving members",
    "Signposting members to support in the union",
    "Liaising with employers, the national officer and local UNISON branches",
    "Keeping in touch with members",
]
REP_MODULES = [
    "The role of MiP reps",
    "Representing members",
    "Negotiating with employers",
    "Chairing meetings",
    "Working in partnership forums",
    "Employment rights",
    "Unfair dismissal",
    "Trade union law after the Employment Rights Act 2025",
    "The NHS in change",
]


def teaching_modules(course):
    """Modules that teach (the last module of each course holds only feedback forms)."""
    return [m for m in course.modules if any(a.type == "reading" for a in m.activities)]


def test_both_courses_have_the_modules_of_each_role(catalogue):
    assert [m.title for m in teaching_modules(catalogue.get("link-member"))] == (
        LINK_MEMBER_MODULES
    )
    assert [m.title for m in teaching_modules(catalogue.get("rep"))] == REP_MODULES
    assert catalogue.get("rep").prerequisites == ("link-member",)
    assert catalogue.get("link-member").prerequisites == ()


def _teaching_words(markdown: str) -> int:
    body = markdown.split("## Sources and further reading")[0]
    body = re.sub(r"\]\([^)]*\)", "]", body)  # link targets are not teaching
    return len(re.findall(r"[A-Za-z0-9’'-]+", body))


@pytest.mark.parametrize("slug", ["link-member", "rep"])
def test_every_module_teaches_and_checks_knowledge(catalogue, slug):
    course = catalogue.get(slug)
    for module in teaching_modules(course):
        assert len(module.outcomes) >= 3, module.key
        types = [a.type for a in module.activities]
        assert types in (["reading", "quiz"], ["reading", "quiz", "case_study"]), module.key
        reading, quiz = module.activities[:2]
        text = (course.path / reading.source).read_text()
        assert _teaching_words(text) >= 600, (module.key, _teaching_words(text))
        assert "## Sources and further reading" in text, module.key
        assert not re.search(r"^# ", text, re.M), "pages start at ## (title comes from course.yaml)"
        config = quiz.config
        assert len(config.questions) >= 5, module.key
        assert all(len(q.explanation.split()) >= 10 for q in config.questions), module.key
        assert {q.kind for q in config.questions} == {"single", "multiple"}, module.key
        # The right answer is not always in the same place.
        firsts = {sorted(q.correct_keys)[0] for q in config.questions}
        assert len(firsts) > 1, module.key
        # Each attempt draws from a larger bank, and every wrong answer is explained.
        assert config.draw is not None and len(config.questions) > config.draw, module.key
        assert all(o.why for q in config.questions for o in q.options if not o.correct)


LAW = re.compile(
    r"Employment Rights Act|Equality Act|Acas Code|right to be accompanied|Agenda for Change",
    re.I,
)


@pytest.mark.parametrize("slug", ["link-member", "rep"])
def test_law_is_cited_and_flagged_as_not_legal_advice(catalogue, slug):
    course = catalogue.get(slug)
    for module in teaching_modules(course):
        text = (course.path / module.activities[0].source).read_text()
        if LAW.search(text):
            assert "## This is not legal advice" in text, module.key
            assert re.search(
                r"https://www\.(gov\.uk|acas\.org\.uk|legislation\.gov\.uk|nhsemployers\.org)/",
                text,
            ), module.key
        # Stated as at a date, and rules that change on a date are dated changes.
        assert "as at 1 January 2027" in text, module.key
    rep = catalogue.get("rep")
    for key in ("representing-members", "employment-rights", "unfair-dismissal"):
        module = rep.module_of(rep.activity(f"{key}-reading"))
        assert module.changes, key
    assert (
        "unfair-dismissal-qualifying-period"
        in rep.module_of(rep.activity("unfair-dismissal-reading")).changes
    )
    assert catalogue.changes["unfair-dismissal-qualifying-period"].effective_on.isoformat() == (
        "2027-01-01"
    )


def test_no_real_names_from_the_seed_pages_appear_in_content():
    names = [
        "Jon Restell",
        "Billy Turner",
        "Jim Lewis",
        "Corrado Valle",
        "Claire Pullar",
        "Gail Bannister",
        "Steve Smith",
        "Stephen Smith",
        "Rhys McKenzie",
        "Craig Ryan",
    ]
    for path in COURSES.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for name in names:
                assert name not in text, (path, name)


def test_markdown_pages_render_without_raw_html(catalogue):
    for course in catalogue:
        for activity in course.activities:
            if activity.type == "reading":
                html = str(activity.config.html)
                assert "<script" not in html and "<iframe" not in html
    html = str(render_markdown("<b>bold</b> and <script>alert(1)</script>"))
    assert "<b>" not in html and "<script>" not in html
    assert "&lt;script&gt;" in html


# --- Bad content: each kind of mistake is reported with its file and field. ---

GOOD_COURSE = {
    "slug": "alpha",
    "title": "Alpha course",
    "version": "1.0",
    "summary": "A small course for tests.",
    "prerequisites": [],
    "completion": {"activities": "all"},
    "modules": [
        {
            "key": "m1",
            "title": "Module one",
            "outcomes": ["Do a thing."],
            "activities": [
                {"key": "m1-read", "type": "reading", "title": "Read", "source": "modules/m1.md"},
                {
                    "key": "m1-quiz",
                    "type": "quiz",
                    "title": "Check",
                    "source": "modules/m1.quiz.yaml",
                },
            ],
        }
    ],
}
GOOD_QUIZ = {
    "pass_mark": 80,
    "questions": [
        {
            "key": "q1",
            "kind": "single",
            "prompt": "Pick b",
            "options": [{"key": "a", "text": "A"}, {"key": "b", "text": "B", "correct": True}],
            "explanation": "Because b.",
        }
    ],
}


def write_course(
    root: Path,
    course: dict | str,
    quiz: dict | str = GOOD_QUIZ,
    page: str = "## Hello\n\nText.",
    folder: str | None = None,
) -> Path:
    slug = folder or (course["slug"] if isinstance(course, dict) else "alpha")
    root = root if root.name == "courses" else root / "courses"
    path = root / slug
    (path / "modules").mkdir(parents=True, exist_ok=True)
    (path / "course.yaml").write_text(course if isinstance(course, str) else yaml.safe_dump(course))
    (path / "modules" / "m1.quiz.yaml").write_text(
        quiz if isinstance(quiz, str) else yaml.safe_dump(quiz)
    )
    (path / "modules" / "m1.md").write_text(page)
    return path


def problems_for(root: Path) -> list[str]:
    root = root if root.name == "courses" else root / "courses"
    with pytest.raises(CourseContentError) as info:
        load_catalogue(root, build_registry())
    return [str(p) for p in info.value.problems]


def mutated(**changes) -> dict:
    course = yaml.safe_load(yaml.safe_dump(GOOD_COURSE))
    for path, value in changes.items():
        target = course
        parts = path.split("__")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        last = parts[-1]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value
    return course


_DELETE = object()


def test_good_course_loads(tmp_path):
    write_course(tmp_path, GOOD_COURSE)
    catalogue = load_catalogue(tmp_path / "courses", build_registry())
    assert catalogue.get("alpha").required_keys == {"m1-read", "m1-quiz"}


MISTAKES = [
    ("missing title", mutated(title=_DELETE), "courses/alpha/course.yaml: title: Field required"),
    (
        "misspelt field",
        {**GOOD_COURSE, "titel": "x"},
        "courses/alpha/course.yaml: titel: Extra inputs",
    ),
    (
        "slug differs from folder",
        mutated(slug="beta"),
        "courses/alpha/course.yaml: slug: is 'beta'",
    ),
    ("bad key", mutated(modules__0__key="Module One"), "courses/alpha/course.yaml: modules[0].key"),
    (
        "no modules",
        mutated(modules=[]),
        "courses/alpha/course.yaml: modules: List should have at least 1",
    ),
    (
        "unknown type",
        mutated(modules__0__activities__0__type="video"),
        "courses/alpha/course.yaml: modules[0].activities[0].type: unknown activity type 'video'",
    ),
    (
        "duplicate activity key",
        mutated(modules__0__activities__1__key="m1-read"),
        "courses/alpha/course.yaml: modules[0].activities[1].key: 'm1-read' is already used",
    ),
    (
        "missing source file",
        mutated(modules__0__activities__0__source="modules/nope.md"),
        "courses/alpha/course.yaml: modules[0].activities[0].source: file 'modules/nope.md' not found",
    ),
    (
        "source outside the course",
        mutated(modules__0__activities__0__source="../../etc/passwd"),
        "courses/alpha/course.yaml: modules[0].activities[0].source: must stay inside the course folder",
    ),
    (
        "unknown prerequisite",
        mutated(prerequisites=["omega"]),
        "courses/alpha/course.yaml: prerequisites[0]: no course 'omega'",
    ),
    (
        "unknown completion key",
        mutated(completion={"activities": ["m1-read", "m9"]}),
        "courses/alpha/course.yaml: completion.activities[1]: no activity 'm9'",
    ),
    (
        "bad inline settings",
        mutated(
            modules__0__activities__0={
                "key": "m1-read",
                "type": "reading",
                "title": "R",
                "settings": {"bodyy": "x"},
            }
        ),
        "courses/alpha/course.yaml: modules[0].activities[0].settings.bodyy: unknown setting 'bodyy'",
    ),
]


@pytest.mark.parametrize(("label", "course", "expected"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_course_mistakes_name_file_and_field(tmp_path, label, course, expected):
    write_course(tmp_path, course, folder="alpha")
    problems = problems_for(tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


def test_invalid_yaml_names_the_line(tmp_path):
    write_course(tmp_path, "slug: alpha\ntitle: [unclosed\n", folder="alpha")
    (problem,) = problems_for(tmp_path)
    assert problem.startswith("courses/alpha/course.yaml: line 3, column 1: not valid YAML")


QUIZ_MISTAKES = [
    (
        "two correct answers to a single-choice question",
        {
            **GOOD_QUIZ,
            "questions": [
                {
                    **GOOD_QUIZ["questions"][0],
                    "options": [
                        {"key": "a", "text": "A", "correct": True},
                        {"key": "b", "text": "B", "correct": True},
                    ],
                }
            ],
        },
        "courses/alpha/modules/m1.quiz.yaml: questions[0]: Value error, a single-choice question needs "
        "exactly one correct option, not 2",
    ),
    (
        "pass mark above 100",
        {**GOOD_QUIZ, "pass_mark": 150},
        "courses/alpha/modules/m1.quiz.yaml: pass_mark: Input should be less than or equal to 100",
    ),
    (
        "missing explanation",
        {
            **GOOD_QUIZ,
            "questions": [
                {k: v for k, v in GOOD_QUIZ["questions"][0].items() if k != "explanation"}
            ],
        },
        "courses/alpha/modules/m1.quiz.yaml: questions[0].explanation: Field required",
    ),
    (
        "no questions",
        {"pass_mark": 50, "questions": []},
        "courses/alpha/modules/m1.quiz.yaml: questions: List should have at least 1",
    ),
    (
        "not a mapping",
        "- just\n- a list\n",
        "courses/alpha/modules/m1.quiz.yaml: must be a mapping",
    ),
    (
        "broken YAML",
        "questions: [\n",
        "courses/alpha/modules/m1.quiz.yaml: line 2, column 1: not valid",
    ),
]


@pytest.mark.parametrize(
    ("label", "quiz", "expected"), QUIZ_MISTAKES, ids=[m[0] for m in QUIZ_MISTAKES]
)
def test_quiz_mistakes_name_the_quiz_file_and_field(tmp_path, label, quiz, expected):
    write_course(tmp_path, GOOD_COURSE, quiz=quiz)
    problems = problems_for(tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


def test_empty_page_is_an_error(tmp_path):
    write_course(tmp_path, GOOD_COURSE, page="   \n")
    assert problems_for(tmp_path) == ["courses/alpha/modules/m1.md: the page is empty"]


def test_prerequisite_cycle_is_reported(tmp_path):
    write_course(tmp_path, mutated(prerequisites=["beta"]))
    write_course(tmp_path, {**mutated(prerequisites=["alpha"]), "slug": "beta"})
    problems = problems_for(tmp_path)
    assert any("prerequisites go round in a circle: alpha -> beta -> alpha" in p for p in problems)


def test_all_problems_across_courses_are_reported_at_once(tmp_path):
    write_course(tmp_path, mutated(title=_DELETE))
    write_course(tmp_path, {**mutated(modules__0__activities__0__type="video"), "slug": "beta"})
    write_course(tmp_path, {**GOOD_COURSE, "slug": "gamma"}, quiz={**GOOD_QUIZ, "pass_mark": 0})
    problems = problems_for(tmp_path)
    assert len(problems) == 3
    assert {p.split("/")[1] for p in problems} == {"alpha", "beta", "gamma"}


def test_app_refuses_to_start_with_a_broken_course(tmp_path):
    write_course(tmp_path / "courses", mutated(title=_DELETE))
    config = base_config(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "instance")
    with pytest.raises(
        CourseContentError, match="courses/alpha/course.yaml: title: Field required"
    ):
        create_app({**config, "LMS_COURSES_DIR": str(tmp_path / "courses")})


def test_courses_check_command_lists_every_problem(app, tmp_path):
    broken = tmp_path / "courses"
    write_course(broken, mutated(title=_DELETE))
    write_course(broken, {**GOOD_COURSE, "slug": "beta"}, quiz={**GOOD_QUIZ, "pass_mark": 0})
    result = app.test_cli_runner().invoke(args=["lms", "courses", "check", "--dir", str(broken)])
    assert result.exit_code == 1
    assert "error: courses/alpha/course.yaml: title: Field required" in result.output
    assert "error: courses/beta/modules/m1.quiz.yaml: pass_mark" in result.output
    assert "2 problem(s) in course content" in result.output

    good = app.test_cli_runner().invoke(args=["lms", "courses", "check"])
    # The real courses load and pass the quality and date checks (CI fails on errors).
    assert good.exit_code == 0, good.output
    assert "ok: link-member 2027.1: 9 modules, 19 activities" in good.output
    assert "ok: rep 2027.1: 10 modules, 30 activities" in good.output
    assert " 0 error(s)" in good.output


def test_seeds_are_where_the_content_says(catalogue):
    # The union's facts come from ../shared/seeds; the rep course's two days and
    # the pilot in May are both there.
    if SEEDS.exists():
        text = " ".join(p.read_text() for p in SEEDS.iterdir())
        assert "two day" in text.lower()
    assert "two days" in catalogue.get("rep").summary


def test_copy_of_real_courses_loads(tmp_path):
    shutil.copytree(COURSES, tmp_path / "courses")
    shutil.copytree(COURSES.parent / "certificates", tmp_path / "certificates")
    assert len(load_catalogue(tmp_path / "courses", build_registry())) == 2


def test_case_studies_cover_every_rep_module_and_two_link_member_modules(catalogue):
    rep = catalogue.get("rep")
    for module in teaching_modules(rep):
        assert any(a.type == "case_study" for a in module.activities), module.key
    link = catalogue.get("link-member")
    assert sum(a.type == "case_study" for a in link.activities) >= 2
    for course in (rep, link):
        for activity in course.activities:
            if activity.type != "case_study":
                continue
            config = activity.config
            assert 150 <= len(config.scenario.split()) <= 600, activity.key
            assert len(config.guidance.split()) >= 250, activity.key
            assert len(config.questions) >= 3 and len(config.criteria) >= 3, activity.key
            expected = "accepted" if course.slug == "rep" else "submitted"
            assert config.completion == expected, activity.key


def test_feedback_forms_for_each_day_and_each_course(catalogue):
    rep = catalogue.get("rep")
    forms = {a.key: a.config for a in rep.activities if a.type == "feedback"}
    assert set(forms) == {"feedback-day-1", "feedback-day-2", "feedback-end"}
    assert forms["feedback-day-1"].day == 1 and forms["feedback-day-2"].day == 2
    link = catalogue.get("link-member")
    assert [a.key for a in link.activities if a.type == "feedback"] == ["feedback-end"]
    for config in [*forms.values(), link.activity("feedback-end").config]:
        kinds = {q.kind for q in config.questions}
        assert kinds == {"rating", "choice", "text"}
        assert config.anonymous
        assert any(q.required for q in config.questions)
        assert any(not q.required for q in config.questions)
        for q in config.questions:
            if q.kind == "rating":
                assert q.low and q.high


def test_course_naming_a_missing_certificate_template_is_an_error(tmp_path):
    write_course(
        tmp_path, {**GOOD_COURSE, "certificate": {"template": "nope", "accreditation": "X"}}
    )
    problems = problems_for(tmp_path)
    assert any(
        p.startswith("courses/alpha/course.yaml: certificate.template: no template.html")
        for p in problems
    ), problems
