"""The cohort progress grid: each trainee's state on each activity, attendance, filters, the
CSV, and who may see it."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from sqlalchemy import select

from lms.accounts.models import User
from lms.cohorts import services as cohorts
from lms.extensions import db
from lms.learning import services as learning
from lms.learning.models import Attempt
from lms.plugins import Submission
from lms.review import services as review
from lms.runs import services as runs
from lms.runs.models import RunFacilitator
from tests.conftest import login
from tests.functional.run_helpers import get_run, make_run

READING = "role-of-reps-reading"
QUIZ = "role-of-reps-check"
CASE = "role-of-reps-case"
CASE_2 = "representing-members-case"


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def book(app, run_id: int, user_id: int) -> None:
    with app.app_context():
        run = get_run(run_id)
        user = db.session.get(User, user_id)
        runs.admin_add(run, user, user, force_book=True)
        db.session.commit()


def _enrolment(user_id: int):
    user = db.session.get(User, user_id)
    return learning.get_enrolment(user, learning.catalogue().get("rep"))


def read(app, user_id: int, key: str = READING) -> None:
    with app.app_context():
        course = learning.catalogue().get("rep")
        learning.record_submission(
            _enrolment(user_id),
            course,
            course.activity(key),
            Submission(data={"action": "complete"}, state={"done": True}),
        )
        db.session.commit()


def draft(app, user_id: int, key: str = CASE) -> None:
    with app.app_context():
        course = learning.catalogue().get("rep")
        learning.save_draft(_enrolment(user_id), course.activity(key), {"answer": "First thoughts"})
        db.session.commit()


def send(app, user_id: int, key: str = CASE) -> int:
    """Send a case-study answer; returns the attempt's id."""
    with app.app_context():
        course = learning.catalogue().get("rep")
        enrolment = _enrolment(user_id)
        learning.record_submission(
            enrolment,
            course,
            course.activity(key),
            Submission(
                data={"answer": "I would listen first.", "words": 200},
                state={"status": "submitted", "draft": None},
            ),
        )
        db.session.commit()
        return db.session.scalar(
            select(Attempt.id)
            .where(Attempt.enrolment_id == enrolment.id, Attempt.activity_key == key)
            .order_by(Attempt.number.desc())
        )


def decide(app, attempt_id: int, reviewer_id: int, decision: str) -> None:
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        course = learning.catalogue().get("rep")
        activity = course.activity(attempt.activity_key)
        review.record_review(
            attempt,
            db.session.get(User, reviewer_id),
            decision,
            {c.key: "met" for c in activity.config.criteria},
            "Say more about the next step.",
        )
        db.session.commit()


def mark(app, run_id: int, marks: dict[int, str], by: int, day: int = 0) -> None:
    with app.app_context():
        run = get_run(run_id)
        runs.record_attendance(run.days[day], marks, db.session.get(User, by))
        db.session.commit()


@dataclass
class World:
    run_id: int
    other_run_id: int
    fac: int
    nobody: int
    midway: int
    waiting: int
    reviewed: int
    waiting_attempt: int


def build(app, make) -> World:
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    other_fac = make("facilitator", email="other@example.org", name="Olu Other")
    make("admin", email="office@example.org", name="Office Admin")
    make("trainee", email="trainee@example.org", name="Tom Trainee")
    run_id = make_run(app, facilitators=[fac])
    other_run_id = make_run(app, facilitators=[other_fac], title="Rep course, Leeds")
    nobody = make("trainee", email="a@example.org", name="Alys Nobody")
    midway = make("trainee", email="b@example.org", name="Bryn Midway")
    waiting = make("trainee", email="c@example.org", name="Cerys Waiting")
    reviewed = make("trainee", email="d@example.org", name="Dafydd Reviewed")
    for user_id in (nobody, midway, waiting, reviewed):
        book(app, run_id, user_id)
    # Someone on the other run with work waiting: never in this grid.
    elsewhere = make("trainee", email="e@example.org", name="Eira Elsewhere")
    book(app, other_run_id, elsewhere)
    send(app, elsewhere)

    read(app, midway)
    draft(app, midway)
    read(app, waiting)
    waiting_attempt = send(app, waiting)
    read(app, reviewed)
    decide(app, send(app, reviewed), fac, "accepted")
    decide(app, send(app, reviewed, CASE_2), fac, "needs_work")
    mark(app, run_id, {waiting: "present", reviewed: "absent"}, fac)
    return World(run_id, other_run_id, fac, nobody, midway, waiting, reviewed, waiting_attempt)


def url(world: World, query: str = "") -> str:
    return f"/facilitate/runs/{world.run_id}/progress{query}"


def rows_of(html: str) -> dict[str, str]:
    """Trainee name -> the HTML of their row in the grid's body."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S).group(1).strip()
        out[name] = row
    return out


def states_of(app, row: str) -> dict[str, str]:
    """activity key -> the state the row's cell shows (its class and its hidden text agree)."""
    with app.app_context():
        keys = [c.activity.key for c in cohorts.columns_for(learning.catalogue().get("rep"))]
    cells = re.findall(r'<td class="cohort-cell cohort-cell--([a-z-]+)">(.*?)</td>', row, re.S)
    assert len(cells) == len(keys)
    out = {}
    for key, (state, inner) in zip(keys, cells, strict=True):
        label = cohorts.CellState(state).label
        assert f'<span class="visually-hidden">{label}' in inner, (key, inner)
        out[key] = state
    return out


def test_each_trainee_shows_their_state_on_each_activity(app, make):
    world = build(app, make)
    client = client_for(app, "fac@example.org")
    response = client.get(url(world))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = rows_of(html)
    # One row per booked trainee, by name; nobody from the other run.
    assert list(rows) == ["Alys Nobody", "Bryn Midway", "Cerys Waiting", "Dafydd Reviewed"]

    nobody = states_of(app, rows["Alys Nobody"])
    assert set(nobody.values()) == {"not-started"}
    assert "Not\xa0marked" in rows["Alys Nobody"]
    assert re.search(r'<td class="cohort-online">No <span', rows["Alys Nobody"])

    midway = states_of(app, rows["Bryn Midway"])
    assert midway[READING] == "done"
    assert midway[CASE] == "in-progress"
    assert midway[QUIZ] == "not-started"

    waiting = states_of(app, rows["Cerys Waiting"])
    assert waiting[CASE] == "waiting"
    # The waiting cell links to the review page of that answer.
    assert f'href="/facilitate/reviews/{world.waiting_attempt}"' in rows["Cerys Waiting"]
    assert "attendance-mark--present" in rows["Cerys Waiting"]

    reviewed = states_of(app, rows["Dafydd Reviewed"])
    assert reviewed[CASE] == "accepted"
    assert reviewed[CASE_2] == "needs-work"
    assert "/facilitate/reviews/" not in rows["Dafydd Reviewed"]
    assert "attendance-mark--absent" in rows["Dafydd Reviewed"]

    # Grouped by module, with a key, the run's days and per-activity totals.
    assert '<th scope="colgroup" colspan="3">1. The role of MiP reps</th>' in html
    assert 'scope="colgroup" colspan="2">Attendance</th>' in html
    assert "Sent, waiting for review" in html.split("<table>", 1)[0]  # in the key
    footer = html.split("<tfoot>", 1)[1]
    totals = re.findall(r"<td>(\d*)</td>", footer)
    with app.app_context():
        columns = cohorts.columns_for(learning.catalogue().get("rep"))
    reading_index = [c.activity.key for c in columns].index(READING)
    assert totals[3 + reading_index] == "3"  # after the online part and the two days
    assert 'tabindex="0"' in html and "<caption" in html


def test_online_part_complete_says_yes(app, make):
    world = build(app, make)
    with app.app_context():
        enrolment = _enrolment(world.midway)
        enrolment.completed_at = enrolment.enrolled_at
        db.session.commit()
    html = client_for(app, "fac@example.org").get(url(world)).get_data(as_text=True)
    assert '<span class="badge badge--done">Yes</span>' in rows_of(html)["Bryn Midway"]


def test_filters_not_started_and_waiting_for_me(app, make):
    world = build(app, make)
    client = client_for(app, "fac@example.org")
    html = client.get(url(world, "?show=not-started")).get_data(as_text=True)
    assert list(rows_of(html)) == ["Alys Nobody"]
    assert "Everyone (4)" in html and "Not started (1)" in html and "Waiting for me (1)" in html
    html = client.get(url(world, "?show=waiting")).get_data(as_text=True)
    assert list(rows_of(html)) == ["Cerys Waiting"]
    # Administrators may review anyone's work: the same trainee waits for them.
    admin = client_for(app, "office@example.org")
    html = admin.get(url(world, "?show=waiting")).get_data(as_text=True)
    assert list(rows_of(html)) == ["Cerys Waiting"]
    # Unknown filters show everyone; the filter links keep the other arguments.
    html = client.get(url(world, "?show=nonsense&per_page=2")).get_data(as_text=True)
    assert len(rows_of(html)) == 2
    assert f'href="/facilitate/runs/{world.run_id}/progress?per_page=2&amp;show=waiting"' in html
    assert f'href="/facilitate/runs/{world.run_id}/progress?page=2&amp;per_page=2"' in html
    # Once reviewed, nothing waits.
    decide(app, world.waiting_attempt, world.fac, "accepted")
    html = client.get(url(world, "?show=waiting")).get_data(as_text=True)
    assert rows_of_or_none(html) is None
    assert "Nothing is waiting for your review on this run." in html


def rows_of_or_none(html: str):
    return rows_of(html) if "<tbody>" in html else None


def test_a_facilitator_never_waits_for_their_own_work(app, make):
    world = build(app, make)
    # A facilitator of the run who also has a place on it and has sent work.
    both = make("trainee", "facilitator", email="g@example.org", name="Gwen Both")
    book(app, world.run_id, both)
    own = send(app, both)
    with app.app_context():
        db.session.add(RunFacilitator(run_id=world.run_id, user_id=both))
        db.session.commit()
    page = client_for(app, "g@example.org").get(url(world, "?show=waiting"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Waiting for me (1)" in html
    assert list(rows_of(html)) == ["Cerys Waiting"]
    html = client_for(app, "g@example.org").get(url(world)).get_data(as_text=True)
    assert states_of(app, rows_of(html)["Gwen Both"])[CASE] == "waiting"
    assert f"/facilitate/reviews/{own}" not in html
    # The other facilitator sees both waiting.
    html = client_for(app, "fac@example.org").get(url(world)).get_data(as_text=True)
    assert "Waiting for me (2)" in html and f"/facilitate/reviews/{own}" in html


def test_csv_has_a_row_per_trainee_with_states_and_days(app, make):
    world = build(app, make)
    sneaky = make("trainee", email="f@example.org", name='=HYPERLINK("http://x")')
    book(app, world.run_id, sneaky)
    client = client_for(app, "fac@example.org")
    response = client.get(f"/facilitate/runs/{world.run_id}/progress.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    table = list(csv.reader(io.StringIO(text)))
    heading, body = table[0], table[1:]
    assert heading[:3] == ["Name", "Online part complete", "Required activities done"]
    assert heading[3].startswith("Day 1 (") and heading[4].startswith("Day 2 (")
    case_col = heading.index(
        "The role of MiP reps: Case study: A team going through years of change"
    )
    by_name = {row[0]: row for row in body}
    assert set(by_name) == {
        '\'=HYPERLINK("http://x")',  # made safe for spreadsheets
        "Alys Nobody",
        "Bryn Midway",
        "Cerys Waiting",
        "Dafydd Reviewed",
    }
    assert by_name["Cerys Waiting"][case_col] == "Sent, waiting for review"
    assert by_name["Cerys Waiting"][3] == "Present"
    assert by_name["Dafydd Reviewed"][case_col] == "Meets the standard"
    assert by_name["Dafydd Reviewed"][3] == "Absent"
    assert by_name["Bryn Midway"][case_col] == "In progress"
    assert by_name["Alys Nobody"][case_col] == "Not started"
    with app.app_context():
        required = len(learning.catalogue().get("rep").required_keys)
    assert by_name["Alys Nobody"][1:5] == ["No", f"0 of {required}", "Not marked", "Not marked"]
    assert by_name["Cerys Waiting"][2] == f"1 of {required}"
    assert all(len(row) == len(heading) for row in body)
    # The same filters as the page.
    response = client.get(f"/facilitate/runs/{world.run_id}/progress.csv?show=waiting")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["Cerys Waiting"]


def test_only_the_runs_facilitators_and_administrators_see_it(app, make):
    world = build(app, make)
    for path in ("progress", "progress.csv"):
        address = f"/facilitate/runs/{world.run_id}/{path}"
        assert client_for(app, "trainee@example.org").get(address).status_code == 403
        assert client_for(app, "other@example.org").get(address).status_code == 403
        assert client_for(app, "office@example.org").get(address).status_code == 200
        assert client_for(app, "fac@example.org").get(address).status_code == 200
        anonymous = app.test_client().get(address)
        assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
        missing = f"/facilitate/runs/{world.run_id + 1000}/{path}"
        assert client_for(app, "fac@example.org").get(missing).status_code == 404
    # The other run's facilitator sees their own run, without this run's trainees.
    html = client_for(app, "other@example.org").get(
        f"/facilitate/runs/{world.other_run_id}/progress"
    )
    assert html.status_code == 200
    assert list(rows_of(html.get_data(as_text=True))) == ["Eira Elsewhere"]


def test_an_empty_run_says_so(app, make):
    fac = make("facilitator", email="fac@example.org")
    run_id = make_run(app, facilitators=[fac])
    html = client_for(app, "fac@example.org").get(f"/facilitate/runs/{run_id}/progress")
    assert html.status_code == 200
    assert "Nobody has a booked place on this run yet." in html.get_data(as_text=True)
