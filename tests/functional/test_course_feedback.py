"""The course-level feedback page: results across runs, chosen by the runs' first days and
by run, never shown below the minimum group; its CSV and comments follow the same choice;
the course's "you said, we did" history beside them; queries that do not grow with runs."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

from sqlalchemy import event

from lms.extensions import db
from lms.feedback import tallies
from lms.feedback.models import CourseChange, FeedbackResponse
from lms.runs import services as runs
from tests.conftest import login

FORM = "feedback-day-1"
PAGE = "/facilitate/courses/rep/feedback"
CSV = "/facilitate/courses/rep/feedback.csv"
COMMENTS = f"/facilitate/courses/rep/feedback/{FORM}/improve"
_NOT_QUERIES = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET ")


def run_on(app, first_day: date, title: str, facilitators=(), course="rep") -> int:
    with app.app_context():
        run = runs.create_run(
            runs.RunInput(
                course_slug=course,
                title=title,
                days=[first_day, first_day + timedelta(days=1)],
                capacity=20,
                venue="Congress House, London",
                facilitator_ids=tuple(facilitators),
            )
        )
        db.session.commit()
        return run.id


def answer(app, run_id: int | None, n: int, overall: int, said: str) -> None:
    """``n`` anonymous responses on one run, stored and counted as a submission would be."""
    with app.app_context():
        rows = []
        for k in range(n):
            values = {
                "overall": overall,
                "case-studies": 5,
                "confidence": 3,
                "pace": "About right",
                "improve": f"{said} {k}",
            }
            db.session.add(
                FeedbackResponse(
                    course_slug="rep",
                    activity_key=FORM,
                    content_version="1",
                    run_id=run_id,
                    is_anonymous=True,
                    answers=values,
                )
            )
            rows.append(
                {
                    "course_slug": "rep",
                    "activity_key": FORM,
                    "run_id": run_id,
                    "is_anonymous": True,
                    "answers": values,
                }
            )
        db.session.flush()
        tallies.add_responses(rows)
        db.session.commit()


def client_for(app, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def results_of(html: str) -> str:
    """The results column of the page (the history beside it left out)."""
    main = main_of(html)
    return main.split('<h2 id="results-h">', 1)[1].split('<section aria-labelledby="changes-h">')[0]


def day_one(html: str) -> str:
    """The section of the day 1 form's results."""
    return results_of(html).split('<section class="card feedback-results"', 2)[1]


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def four_runs(app, make):
    """Leeds (January, 5 answers rating 5), Truro (February, 10 rating 1), Hull (March, 5
    rating 3), Bath (April, 3 rating 4: not released)."""
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    make("admin", email="office@example.org", name="Olu Office")
    ids = {
        "Leeds": run_on(app, date(2027, 1, 10), "Rep course, Leeds", [fac]),
        "Truro": run_on(app, date(2027, 2, 10), "Rep course, Truro", [fac]),
        "Hull": run_on(app, date(2027, 3, 10), "Rep course, Hull", [fac]),
        "Bath": run_on(app, date(2027, 4, 10), "Rep course, Bath", [fac]),
    }
    answer(app, ids["Leeds"], 5, 5, "Leeds said")
    answer(app, ids["Truro"], 10, 1, "Truro said")
    answer(app, ids["Hull"], 5, 3, "Hull said")
    answer(app, ids["Bath"], 3, 4, "Bath said")
    return ids


def test_dates_and_run_choose_which_runs_are_added_up(app, make):
    ids = four_runs(app, make)
    for email in ("fac@example.org", "office@example.org"):
        staff = client_for(app, email)
        whole = staff.get(PAGE).get_data(as_text=True)
        # No choice: the whole course, as before (Bath's three answers wait).
        assert "20 responses" in day_one(whole)
        assert "Average 2.5 out of 5 from 20 answers" in day_one(whole)
        assert "3 answers are waiting for the next group of 5." in day_one(whole)

        chosen = staff.get(f"{PAGE}?from=2027-02-01&to=2027-03-31")
        assert chosen.status_code == 200
        html = chosen.get_data(as_text=True)
        section = day_one(html)
        assert "15 responses" in section  # Truro's ten and Hull's five
        assert "Average 1.7 out of 5 from 15 answers" in section
        assert "These results add up 2 runs" in html
        covered = (
            results_of(html)
            .split('<details class="outcomes covered-runs">')[1]
            .split("</details>")[0]
        )
        assert "Rep course, Truro" in covered and "Rep course, Hull" in covered
        assert "Leeds" not in covered and "Bath" not in covered
        assert "Leeds said" not in section and "Bath said" not in section
        # What was typed stays in the form; links keep the choice.
        assert 'name="from" value="2027-02-01"' in html and 'name="to" value="2027-03-31"' in html
        assert f'href="{CSV}?from=2027-02-01&amp;to=2027-03-31"' in html
        link = re.search(
            r'href="(/facilitate/courses/rep/feedback/feedback-day-1/improve[^"]*)"', section
        )
        assert link and "from=2027-02-01" in link.group(1) and "to=2027-03-31" in link.group(1)
        assert "See all 15 comments" in section
        comments = staff.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
        listed = re.findall(r"<li>(.*?)</li>", main_of(comments).split('<ul class="comments">')[1])
        assert len(listed) == 15
        assert all(c.startswith(("Truro said", "Hull said")) for c in listed)
        assert "starting 1 February 2027 to 31 March 2027" in comments
        assert f"{PAGE}?from=2027-02-01&amp;to=2027-03-31" in comments  # the way back

        # The same days typed the British way.
        uk = day_one(staff.get(f"{PAGE}?from=01/02/2027&to=31/03/2027").get_data(as_text=True))
        assert "15 responses" in uk

        one = staff.get(f"{PAGE}?run={ids['Leeds']}").get_data(as_text=True)
        assert "5 responses" in day_one(one) and "Average 5.0 out of 5 from 5 answers" in day_one(
            one
        )
        assert f'<option value="{ids["Leeds"]}" selected>' in one
        assert "One run: Rep course, Leeds (10 January 2027 to 11 January 2027)." in one
        both = staff.get(f"{PAGE}?run={ids['Leeds']}&from=2027-02-01").get_data(as_text=True)
        assert "No runs you can see match this choice." in both
        assert "feedback-results" not in results_of(both)

        # The run select: the course's runs, newest first, with their dates.
        options = re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', whole)
        assert [int(v) for v, _ in options] == [ids[n] for n in ("Bath", "Hull", "Truro", "Leeds")]
        assert options[-1][1] == "Rep course, Leeds (10 January 2027 to 11 January 2027)"


def test_the_csv_follows_the_same_choice(app, make):
    ids = four_runs(app, make)
    staff = client_for(app, "fac@example.org")
    response = staff.get(f"{CSV}?from=2027-02-01&to=2027-03-31")
    assert (
        "feedback-rep-from-2027-02-01-to-2027-03-31.csv" in response.headers["Content-Disposition"]
    )
    rows = [r for r in csv_rows(response)[1:] if r[2].isdigit()]
    assert {r[1] for r in rows} == {"Rep course, Truro", "Rep course, Hull"}
    assert {int(r[2]) for r in rows} == set(range(1, 16))
    improve = [r[4] for r in rows if r[3] == "What one change would make this day better?"]
    assert sorted(improve) == sorted(
        [f"Truro said {k}" for k in range(10)] + [f"Hull said {k}" for k in range(5)]
    )
    one = [r for r in csv_rows(staff.get(f"{CSV}?run={ids['Leeds']}"))[1:] if r[2].isdigit()]
    assert {r[1] for r in one} == {"Rep course, Leeds"} and len({r[2] for r in one}) == 5
    # Bath alone: below the minimum, nothing but the note.
    bath = csv_rows(staff.get(f"{CSV}?from=2027-04-01"))
    assert all(not r[2].isdigit() for r in bath[1:])
    assert "Fewer than 5 responses: not shown" in {r[4] for r in bath}
    assert not any("Bath said" in cell for r in bath for cell in r)
    whole = [r for r in csv_rows(staff.get(CSV))[1:] if r[2].isdigit()]
    assert len({r[2] for r in whole}) == 20


def test_below_the_minimum_nothing_is_shown_and_the_page_says_how_many_are_needed(app, make):
    ids = four_runs(app, make)
    # Two more runs in May with two answers each: four waiting, none released.
    fac_id = make("facilitator", email="may@example.org")
    for day, title in (
        (date(2027, 5, 3), "Rep course, York"),
        (date(2027, 5, 17), "Rep course, Ely"),
    ):
        answer(app, run_on(app, day, title, [fac_id]), 2, 2, f"{title} said")
    staff = client_for(app, "office@example.org")
    bath = day_one(staff.get(f"{PAGE}?from=2027-04-01&to=2027-04-30").get_data(as_text=True))
    assert "Too few responses to show" in bath
    assert "3 responses" not in bath and "Bath said" not in bath and "<svg" not in bath
    assert "Fewer than 5 responses" in bath
    assert "2 more answers are needed before results appear." in bath
    may = day_one(staff.get(f"{PAGE}?from=2027-05-01").get_data(as_text=True))
    assert "Too few responses to show" in may and "4 responses" not in may
    assert "the run closest to a group needs 3 more answers" in may
    assert "York said" not in may and "Average" not in may
    # The same rule on one run's own page.
    run_page = staff.get(f"/facilitate/runs/{ids['Bath']}/feedback").get_data(as_text=True)
    assert "2 more answers are needed before results appear." in run_page


def test_bad_dates_are_explained_and_what_was_typed_is_kept(app, make):
    four_runs(app, make)
    staff = client_for(app, "fac@example.org")
    html = staff.get(f"{PAGE}?from=2027-13-45&to=soon").get_data(as_text=True)
    assert "There is a problem" in html
    assert html.count("Enter a real date, for example 2027-03-31 or 31/03/2027.") == 4
    assert 'value="2027-13-45"' in html and 'value="soon"' in html
    assert 'aria-invalid="true"' in html and 'href="#filter-from"' in html
    assert "Correct the dates above to see results." in html
    assert "responses" not in results_of(html) and "Download CSV" not in main_of(html)

    backwards = staff.get(f"{PAGE}?from=2027-03-31&to=2027-02-01").get_data(as_text=True)
    assert "The end date must be the same as or after the start date." in backwards
    assert 'value="2027-03-31"' in backwards and 'value="2027-02-01"' in backwards
    assert "responses" not in results_of(backwards)

    # The export and the comments send bad dates back to the page that explains them.
    for url in (
        f"{CSV}?from=2027-03-31&to=2027-02-01",
        f"{COMMENTS}?from=2027-03-31&to=2027-02-01",
    ):
        response = staff.get(url)
        assert response.status_code == 302
        assert response.headers["Location"] == f"{PAGE}?from=2027-03-31&to=2027-02-01"
    for url in (PAGE, CSV, COMMENTS):  # a run that is not a number is not found
        assert staff.get(f"{url}?run=first").status_code == 404


def test_facilitators_choose_among_their_own_runs(app, make):
    ids = four_runs(app, make)
    other = make("facilitator", email="other@example.org", name="Other Facilitator")
    york = run_on(app, date(2027, 2, 20), "Rep course, York", [other])
    answer(app, york, 5, 4, "York said")
    elsewhere = run_on(app, date(2027, 2, 20), "Link course, Leeds", [other], course="link-member")
    staff = client_for(app, "fac@example.org")
    whole = staff.get(PAGE).get_data(as_text=True)
    # The whole course adds up every run, as before ...
    assert "25 responses" in day_one(whole)
    # ... but only their own runs can be picked, and dates pick among them only.
    assert f'<option value="{york}"' not in whole
    assert staff.get(f"{PAGE}?run={york}").status_code == 403
    assert staff.get(f"{CSV}?run={york}").status_code == 403
    assert staff.get(f"{COMMENTS}?run={york}").status_code == 403
    assert staff.get(f"{PAGE}?run={elsewhere}").status_code == 404
    assert staff.get(f"{PAGE}?run=999999").status_code == 404
    february = staff.get(f"{PAGE}?from=2027-02-01&to=2027-02-28").get_data(as_text=True)
    assert "10 responses" in day_one(february) and "York said" not in february
    assert "Chosen runs are always runs you facilitate" in february
    exported = csv_rows(staff.get(f"{CSV}?from=2027-02-01&to=2027-02-28"))
    assert "Rep course, York" not in {r[1] for r in exported}
    # The other facilitator sees York (theirs) in February; an administrator sees both.
    theirs = client_for(app, "other@example.org").get(f"{PAGE}?from=2027-02-01&to=2027-02-28")
    assert "5 responses" in day_one(theirs.get_data(as_text=True))
    office = client_for(app, "office@example.org")
    both = office.get(f"{PAGE}?from=2027-02-01&to=2027-02-28").get_data(as_text=True)
    assert "15 responses" in day_one(both)
    assert f'<option value="{york}"' in both
    # Someone who facilitates no run of the course sees nothing of it.
    make("facilitator", email="none@example.org")
    nobody = client_for(app, "none@example.org")
    for url in (PAGE, f"{PAGE}?from=2027-01-01", f"{CSV}?run={ids['Leeds']}"):
        assert nobody.get(url).status_code == 403


def test_the_history_is_listed_newest_first_a_page_at_a_time(app, make):
    ids = four_runs(app, make)
    with app.app_context():
        from lms.accounts.models import User

        author = db.session.scalar(db.select(User).where(User.email == "fac@example.org"))
        start = datetime(2026, 1, 5, 9, 0)
        for n in range(12):
            db.session.add(
                CourseChange(
                    course_slug="rep",
                    run_id=ids["Truro"] if n == 11 else None,
                    you_said=f"Said number {n}",
                    we_did=f"Did number {n}",
                    recorded_by_id=author.id,
                    created_at=start + timedelta(days=n),
                )
            )
        db.session.add(
            CourseChange(course_slug="link-member", you_said="Other course", we_did="Elsewhere")
        )
        db.session.commit()
    staff = client_for(app, "fac@example.org")
    html = staff.get(f"{PAGE}?from=2027-02-01").get_data(as_text=True)
    history = main_of(html).split('<section aria-labelledby="changes-h">')[1]
    said = re.findall(r"Said number (\d+)", history)
    assert said == [str(n) for n in range(11, 1, -1)]  # newest first, ten a page
    assert "Other course" not in history
    assert "Showing 1–10 of 12" in history
    assert "16 January 2026 · Rep course, Truro · Femi Adeyemi" in history
    assert 'href="/facilitate/courses/rep/changes"' in history  # add one
    nxt = re.search(r'href="([^"]*changes=2[^"]*)" rel="next"', history)
    assert nxt and "from=2027-02-01" in nxt.group(1)
    second = staff.get(nxt.group(1).replace("&amp;", "&")).get_data(as_text=True)
    later = main_of(second).split('<section aria-labelledby="changes-h">')[1]
    assert re.findall(r"Said number (\d+)", later) == ["1", "0"]
    assert 'name="from" value="2027-02-01"' in second
    # The page for recording changes lists them the same way, a page at a time.
    own = main_of(staff.get("/facilitate/courses/rep/changes").get_data(as_text=True))
    assert re.findall(r"Said number (\d+)", own) == [str(n) for n in range(11, 1, -1)]
    assert "Showing 1–10 of 12" in own and "Rep course, Truro · Femi Adeyemi" in own


class Queries:
    def __init__(self, engine):
        self.engine, self.statements = engine, []
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(_NOT_QUERIES):
            self.statements.append(statement)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._count)


def test_queries_do_not_grow_with_runs_or_responses(app, make):
    fac = make("facilitator", email="fac@example.org")
    make("admin", email="office@example.org")

    def add_runs(first: int, last: int) -> list[int]:
        made = []
        for n in range(first, last):
            run_id = run_on(app, date(2027, 1, 4) + timedelta(weeks=n), f"Rep run {n}", [fac])
            answer(app, run_id, 5 + n % 3, 1 + n % 5, f"Run {n}")
            with app.app_context():
                db.session.add(CourseChange(course_slug="rep", you_said=f"S{n}", we_did=f"D{n}"))
                db.session.commit()
            made.append(run_id)
        return made

    def counts(run_id: int) -> dict[str, int]:
        out = {}
        for email in ("fac@example.org", "office@example.org"):
            client = client_for(app, email)
            for name, url in {
                "whole course": PAGE,
                "dates": f"{PAGE}?from=2027-01-01&to=2027-12-31",
                "run": f"{PAGE}?run={run_id}",
                "dates and run": f"{PAGE}?from=2027-01-01&run={run_id}",
                "csv": f"{CSV}?from=2027-01-01",
                "comments": f"{COMMENTS}?from=2027-01-01",
            }.items():
                with app.app_context():
                    counter = Queries(db.engine)
                try:
                    assert client.get(url).status_code == 200, url
                finally:
                    counter.close()
                out[f"{email} {name}"] = len(counter.statements)
                # The results: one aggregate query of the kept tallies, whatever the runs.
                tally = [q for q in counter.statements if "feedback_tally" in q]
                assert len(tally) == (0 if name == "csv" else 1), (url, tally)
                assert name == "csv" or "sum(" in tally[0].lower()
        return out

    first = add_runs(0, 2)
    few = counts(first[0])
    add_runs(2, 12)
    many = counts(first[0])
    assert many == few
