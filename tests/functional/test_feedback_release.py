"""Feedback is released a group at a time, so that no one can link an answer to a person by
looking at the results before and after that person answers (differencing).

A run's answers (or those given outside any run) become visible only once at least
MIN_RESPONSES new ones have arrived since the last release, all together: one to four new
answers change nothing staff can see (results, comments, CSV, course-wide results), while
the roster shows each person's progress as it happens; the fifth shows all five at once.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections import Counter

from flask_migrate import upgrade
from sqlalchemy import column, insert, select, table

from lms.extensions import db
from lms.feedback import services, tallies
from lms.feedback.models import ALL_RUNS, MIN_RESPONSES, NO_RUN, TOTAL, FeedbackResponse
from tests.functional.run_helpers import make_run
from tests.functional.test_anonymity import (
    COMMENTS,
    answers,
    client_for,
    csv_rows,
    listed_comments,
    main_of,
    people_on,
    send,
)

WAITING_RE = re.compile(
    r'<p class="muted">(?:\d+ answers? (?:is|are) waiting for the next group of \d+\.'
    r"|No answers are waiting\.)</p>"
)


def waiting_counts(html: str) -> list[int]:
    """The waiting counts a page shows (0 for "No answers are waiting.")."""
    return [
        int(m.group(1)) if m.group(1) else 0
        for m in re.finditer(
            r'<p class="muted">(?:(\d+) answers? (?:is|are) waiting|No answers are waiting)',
            main_of(html),
        )
    ]


def what_staff_see(staff, run_id: int) -> dict[str, object]:
    """Every feedback view of the course, less the (allowed) count of answers waiting."""
    pages = {
        "run results": f"/facilitate/runs/{run_id}/feedback",
        "course results": "/facilitate/courses/rep/feedback",
        "run comments": f"{COMMENTS}?run={run_id}",
        "course comments": COMMENTS,
    }
    seen: dict[str, object] = {}
    for name, url in pages.items():
        main = main_of(staff.get(url).get_data(as_text=True))
        seen[name] = f'<main id="main"{WAITING_RE.sub("", main)}</main>'
    seen["run csv"] = csv_rows(staff.get(f"/facilitate/runs/{run_id}/feedback.csv"))
    seen["course csv"] = csv_rows(staff.get("/facilitate/courses/rep/feedback.csv"))
    return seen


def test_one_to_four_new_answers_change_nothing_and_the_fifth_shows_all_five(app, make):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make("admin", email="office@example.org")
    run_id = make_run(app, facilitators=[fac], capacity=20)
    people = people_on(app, make, run_id, [f"Person {n}" for n in range(10)], "p")
    first, second = people[:5], people[5:]
    for n, (_uid, client) in enumerate(first):
        send(client, answers(f"First group comment {n}", overall="2"))

    for email in ("fac@example.org", "office@example.org"):
        staff = client_for(app, email)
        before = what_staff_see(staff, run_id)
        assert "5 responses" in before["run results"] and "5 responses" in before["course results"]
        assert listed_comments(before["run comments"]) == [
            f"First group comment {n}" for n in range(5)
        ]
        page = staff.get(f"/facilitate/runs/{run_id}/feedback").get_data(as_text=True)
        assert "Results appear in groups of at least 5 new answers" in page
        assert "so that no answer can be linked to the person who gave it" in page
        assert waiting_counts(page)[0] == 0

    staff = client_for(app, "fac@example.org")
    before = what_staff_see(staff, run_id)
    roster_url = f"/facilitate/runs/{run_id}"
    roster = main_of(staff.get(roster_url).get_data(as_text=True))
    for k, (_uid, client) in enumerate(second[:4], start=1):
        send(client, answers(f"Second group comment {k}", overall="5"))
        # Staff can see who has answered (the roster's progress moves for that person) ...
        now_roster = main_of(staff.get(roster_url).get_data(as_text=True))
        assert now_roster != roster, "the roster shows each person's progress"
        roster = now_roster
        # ... but nothing they can see of the answers changes, whatever they open.
        assert what_staff_see(staff, run_id) == before, f"after {k} new answer(s)"
        for url in (f"/facilitate/runs/{run_id}/feedback", f"{COMMENTS}?run={run_id}"):
            html = staff.get(url).get_data(as_text=True)
            assert waiting_counts(html)[0] == k
            assert "Second group comment" not in html
        course_page = staff.get("/facilitate/courses/rep/feedback").get_data(as_text=True)
        assert waiting_counts(course_page)[0] == k
        with app.app_context():
            hidden = db.session.scalars(
                select(FeedbackResponse.answers).where(FeedbackResponse.released.is_(False))
            ).all()
            assert len(hidden) == k

    # The fifth answer releases all five at once: no single answer ever shows alone.
    send(second[4][1], answers("Second group comment 5", overall="5"))
    after = what_staff_see(staff, run_id)
    for name in ("run results", "course results"):
        assert "10 responses" in after[name]
        assert "Average 3.5 out of 5 from 10 answers" in after[name]
    new = [f"Second group comment {k}" for k in range(1, 6)]
    for name in ("run comments", "course comments"):
        shown = listed_comments(after[name])
        assert sorted(set(shown) - set(listed_comments(before[name]))) == new
    for name in ("run csv", "course csv"):
        added = Counter(r[4] for r in after[name]) - Counter(r[4] for r in before[name])
        assert all(added[text] == 1 for text in new)
        assert {int(r[2]) for r in after[name][1:] if r[2].isdigit()} == set(range(1, 11))
    html = staff.get(f"/facilitate/runs/{run_id}/feedback").get_data(as_text=True)
    assert waiting_counts(html)[0] == 0


def test_the_course_wide_view_changes_only_by_whole_groups(app, make):
    """Two runs: the course's results are the sum of the runs' released groups, so one or
    two answers in a second run, or outside any run, change nothing there either."""
    fac = make("facilitator", email="fac@example.org")
    run_a = make_run(app, facilitators=[fac], capacity=20, title="Rep course, Leeds")
    run_b = make_run(app, facilitators=[fac], capacity=20, title="Rep course, Truro")
    for n, (_uid, client) in enumerate(
        people_on(app, make, run_a, [f"A{n}" for n in range(7)], "a")
    ):
        send(client, answers(f"Leeds {n}", overall="4"))
    staff = client_for(app, "fac@example.org")
    course = "/facilitate/courses/rep/feedback"

    def course_view():
        html = main_of(staff.get(course).get_data(as_text=True))
        exported = csv_rows(staff.get("/facilitate/courses/rep/feedback.csv"))
        return (
            WAITING_RE.sub("", html),
            listed_comments(staff.get(COMMENTS).get_data(as_text=True)),
            exported,
        )

    before = course_view()
    assert "5 responses" in before[0] and len(before[1]) == 5
    assert waiting_counts(staff.get(course).get_data(as_text=True))[0] == 2
    people_b = people_on(app, make, run_b, [f"B{n}" for n in range(5)], "b")
    for n, (_uid, client) in enumerate(people_b[:3]):
        send(client, answers(f"Truro {n}", overall="1"))
        assert course_view() == before
    # Run A's sixth and seventh answers still wait; run B's fifth releases its five at once.
    for n, (_uid, client) in enumerate(people_b[3:], start=3):
        send(client, answers(f"Truro {n}", overall="1"))
    html, comments, exported = course_view()
    assert "10 responses" in html
    assert sorted(c for c in comments if c.startswith("Truro")) == [f"Truro {n}" for n in range(5)]
    assert "Rep course, Truro" in {row[1] for row in exported}
    assert waiting_counts(staff.get(course).get_data(as_text=True))[0] == 2
    run_b_page = staff.get(f"/facilitate/runs/{run_b}/feedback").get_data(as_text=True)
    assert "5 responses" in run_b_page and waiting_counts(run_b_page)[0] == 0


def test_the_migration_releases_what_sites_already_showed(tmp_path):
    """Groups of at least MIN_RESPONSES were shown in full, so they are released in full;
    smaller groups showed nothing, so their answers wait for the next release."""
    from lms import create_app
    from tests.conftest import base_config

    url = f"sqlite:///{tmp_path / 'release.db'}"
    app = create_app(base_config(url, tmp_path / "instance"))
    with app.app_context():
        directory = app.extensions["migrate"].directory
        # Before the kept counts (0008) and the release state (0016): both are filled
        # from the stored responses on upgrade.
        upgrade(directory=directory, revision="0007_list_indexes")
        then = table(
            "feedback_response",
            *(
                column(c.name, c.type)
                for c in FeedbackResponse.__table__.columns
                if c.name != "released"
            ),
        )
        sizes = {"feedback-day-1": 7, "feedback-end": 3}
        rows = [
            {
                "id": uuid.uuid4().hex,
                "course_slug": "rep",
                "activity_key": form,
                "content_version": "1",
                "run_id": None,
                "is_anonymous": True,
                "user_id": None,
                "submitted_at": None,
                "answers": {"overall": 1 + i % 5, "improve": f"Said {form} {i}"},
            }
            for form, n in sizes.items()
            for i in range(n)
        ]
        db.session.execute(insert(then), rows)
        db.session.commit()
        db.session.remove()

        upgrade(directory=directory)
        released = dict(
            db.session.execute(
                select(FeedbackResponse.activity_key, FeedbackResponse.released)
                .where(FeedbackResponse.released.is_(True))
                .distinct()
            ).all()
        )
        assert released == {"feedback-day-1": True}
        assert tallies.kept(released=True) == tallies.recount(released=True)
        kept = tallies.kept(released=True)
        for run_key in (ALL_RUNS, NO_RUN):
            assert kept[("rep", "feedback-day-1", run_key, TOTAL, "")] == 7
            assert kept[("rep", "feedback-end", run_key, TOTAL, "")] == 0
        course = app.extensions["lms.courses"].get("rep")
        forms = {
            r.activity.key: r for r in services.results_for(course, services.feedback_forms(course))
        }
        assert (forms["feedback-day-1"].total, forms["feedback-day-1"].waiting) == (7, 0)
        assert (forms["feedback-end"].total, forms["feedback-end"].waiting) == (0, 3)

        # Two more answers to the small form: its five are released together.
        for i in (3, 4):
            extra = {**rows[-1], "id": uuid.uuid4().hex, "answers": {"overall": 5}}
            db.session.add(FeedbackResponse(**extra))
            tallies.add_response("rep", "feedback-end", None, True, extra["answers"])
            db.session.commit()
            forms = {
                r.activity.key: r
                for r in services.results_for(course, services.feedback_forms(course))
            }
            assert forms["feedback-end"].total == (5 if i == 4 else 0)
        assert tallies.kept(released=True) == tallies.recount(released=True)
        db.session.remove()
        db.engine.dispose()


def test_simultaneous_answers_in_several_groups_release_every_fifth(app):
    """Threads adding answers at once to one form's groups (two runs and none), named and
    anonymous: no deadlock, no count lost, and each group released at each fifth answer."""
    threads_n, each = 6, 20
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    plan = [
        [(random.Random(seed * 100 + i).choice([None, 101, 102]), bool(i % 2)) for i in range(each)]
        for seed in range(threads_n)
    ]

    def go(steps):
        try:
            barrier.wait(timeout=60)
            for run_id, anonymous in steps:
                with app.app_context():
                    tallies.add_response(
                        "rep",
                        "feedback-end",
                        run_id,
                        anonymous,
                        {"overall": 3},
                        {"overall": "rating"},
                    )
                    db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(steps,)) for steps in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    sent = Counter(NO_RUN if run_id is None else run_id for steps in plan for run_id, _ in steps)
    with app.app_context():
        kept = tallies.kept("rep")
        released = tallies.kept("rep", released=True)
    for run_key, n in sent.items():
        assert kept[("rep", "feedback-end", run_key, TOTAL, "")] == n
        due = n - n % MIN_RESPONSES
        assert released.get(("rep", "feedback-end", run_key, TOTAL, ""), 0) == due
    whole = sum(n - n % MIN_RESPONSES for n in sent.values())
    assert released[("rep", "feedback-end", ALL_RUNS, TOTAL, "")] == whole
    assert released[("rep", "feedback-end", ALL_RUNS, "overall", "3")] == whole
