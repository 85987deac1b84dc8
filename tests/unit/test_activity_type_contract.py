"""No part of the platform tests an activity type's name: what differs between types
comes from the type (lms.plugins.ActivityType). A built-in type's name compared with
something, used as a key of a mapping or a member of a set outside lms/activities/ and
lms/plugins.py, or compared in a template outside that type's own template folder,
fails here, naming the file and line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lms.plugins import ActivityType, build_registry

ROOT = Path(__file__).resolve().parent.parent.parent
BUILTIN = frozenset({"reading", "quiz", "case_study", "feedback"})
#: Where type names belong: the types themselves and their contract. (The demo site's
#: generator tells what to make up for an activity by what its type says of itself.)
OWN = ("lms/activities/", "lms/plugins.py")


def _names_in(node: ast.AST) -> list[ast.Constant]:
    """Built-in type names a comparison operand holds: itself, or in a tuple/list/set."""
    if isinstance(node, ast.Constant) and node.value in BUILTIN:
        return [node]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [n for elt in node.elts for n in _names_in(elt)]
    return []


def type_name_tests(source: str) -> list[tuple[int, str]]:
    """(line, what) for each built-in type name used as a test in Python source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                found += [(n.lineno, f"compares with {n.value!r}") for n in _names_in(operand)]
        elif isinstance(node, ast.Dict):
            found += [
                (k.lineno, f"a mapping keyed by {k.value!r}")
                for k in node.keys
                if isinstance(k, ast.Constant) and k.value in BUILTIN
            ]
        elif isinstance(node, ast.Set):
            found += [(n.lineno, f"a set holding {n.value!r}") for n in _names_in(node)]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("set", "frozenset"):
            for arg in node.args:
                found += [(n.lineno, f"a set holding {n.value!r}") for n in _names_in(arg)]
        elif isinstance(node, ast.MatchValue):
            found += [(n.lineno, f"matches {n.value!r}") for n in _names_in(node.value)]
    return sorted(set(found))


_NAMES = "|".join(sorted(BUILTIN))
_TEMPLATE_TEST = re.compile(
    rf"""(==|!=)\s*['"]({_NAMES})['"]"""  # x == 'quiz'
    rf"""|['"]({_NAMES})['"]\s*(==|!=)"""  # 'quiz' == x
    rf"""|\bin\s*[\(\[][^\)\]]*['"]({_NAMES})['"]"""  # x in ('quiz', ...)
    rf"""|['"]({_NAMES})['"]\s+(not\s+)?in\b"""  # 'quiz' in x
)


def template_type_tests(text: str) -> list[tuple[int, str]]:
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if _TEMPLATE_TEST.search(line)
    ]


def test_the_checks_find_what_they_look_for():
    python = (
        'if activity.type == "reading":\n    pass\n'
        'LABELS = {"quiz": "Knowledge checks"}\n'
        'AFTER = frozenset({"feedback"})\n'
        'ok = [a for a in acts if a.type in ("case_study", "x")]\n'
        'bp = Blueprint("feedback", __name__)\n'
    )
    assert [line for line, _what in type_name_tests(python)] == [1, 3, 4, 5]
    template = "{% if activity.type == 'case_study' %}\n{{ registry[a.type].label }}\n"
    assert [line for line, _what in template_type_tests(template)] == [1]


def test_no_part_of_the_platform_tests_a_type_name():
    problems = []
    for path in sorted((ROOT / "lms").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(OWN):
            continue
        for line, what in type_name_tests(path.read_text()):
            problems.append(f"{relative}:{line}: {what}")
    assert not problems, "Ask the activity type instead (lms.plugins):\n" + "\n".join(problems)


def test_no_template_tests_a_type_name():
    registry = build_registry()
    own_folders = [
        folder.resolve()
        for folder in (registry[name].templates_path() for name in registry.names())
        if folder is not None
    ]
    problems = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        if any(path.resolve().is_relative_to(folder) for folder in own_folders):
            continue
        for line, text in template_type_tests(path.read_text()):
            problems.append(f"{path.relative_to(ROOT).as_posix()}:{line}: {text}")
    assert not problems, "Ask the activity type instead (lms.plugins):\n" + "\n".join(problems)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_each_builtin_type_has_its_own_template_folder(name):
    activity_type: ActivityType = build_registry()[name]
    folder = activity_type.templates_path()
    assert folder is not None and (folder / "page.html").is_file()
    assert folder.name == name
    if activity_type.is_reviewed:
        assert (folder / activity_type.review_template).is_file()


def test_a_types_templates_are_found_only_under_its_own_name(app):
    from jinja2 import TemplateNotFound

    env = app.jinja_env
    quiz_page = env.get_template("activity/quiz/page.html")
    assert quiz_page.filename.endswith("templates/activities/quiz/page.html")
    assert env.get_template("activity/case_study/review.html").filename.endswith(
        "templates/activities/case_study/review.html"
    )
    for name in (
        "activity/quiz/review.html",  # the quiz has none; the case study's is not the quiz's
        "activity/quiz/../case_study/page.html",
        "activity/no_such_type/page.html",
        "activity/quiz",
    ):
        with pytest.raises(TemplateNotFound):
            env.get_template(name)
