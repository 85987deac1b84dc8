"""Kept feedback counts: equal to a recount after many (and simultaneous) submissions,
filled by the migration from existing responses, and holding counts only. The released
counts (what staff see) likewise equal a recount of the released responses."""

from __future__ import annotations

import random
import threading
import uuid

from flask_migrate import downgrade, upgrade
from sqlalchemy import column, insert, inspect, select, table, text

from lms.extensions import db
from lms.feedback import tallies
from lms.feedback.models import ALL_RUNS, ANONYMOUS, NO_RUN, TOTAL, FeedbackResponse
from tests.conftest import csrf_from, get_csrf
from tests.functional.run_helpers import complete_course, make_run
from tests.functional.test_feedback import URL, client_for

PACE = ["Too slow", "About right", "Too fast"]


def random_answers(rng: random.Random) -> dict[str, str]:
    data = {
        "f-overall": str(rng.randint(1, 5)),
        "f-case-studies": str(rng.randint(1, 5)),
        "f-confidence": str(rng.randint(1, 5)),
    }
    if rng.random() < 0.8:
        data["f-pace"] = rng.choice(PACE)
    if rng.random() < 0.5:
        data["f-improve"] = f"Idea {rng.randint(1, 1000)}"
    data.setdefault("f-best", "Role play")
    return data


def trainees_on_runs(app, make, per_run: int, runs: int):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    run_ids = [
        make_run(app, facilitators=[fac], capacity=per_run, title=f"Rep course {i}")
        for i in range(runs)
    ]
    clients = []
    for r, run_id in enumerate(run_ids):
        for i in range(per_run):
            email = f"t{r}-{i}@example.org"
            uid = make("trainee", email=email, name=f"Trainee Person{r}x{i}")
            complete_course(app, uid)
            client = client_for(app, email)
            client.post(
                f"/runs/{run_id}/sign-up", data={"csrf_token": get_csrf(client, "/courses/rep")}
            )
            clients.append(client)
    return run_ids, clients


def test_kept_counts_equal_a_recount_after_simultaneous_submissions(app, make):
    run_ids, clients = trainees_on_runs(app, make, per_run=6, runs=2)
    rng = random.Random(7)
    forms = []
    for client in clients:
        page = client.get(URL).get_data(as_text=True)
        forms.append((client, {"csrf_token": csrf_from(page), **random_answers(rng)}))
    barrier = threading.Barrier(len(forms))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def go(client, data):
        try:
            barrier.wait(timeout=60)
            statuses.append(client.post(URL, data=data).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=pair) for pair in forms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert statuses == [302] * len(forms)

    with app.app_context():
        kept = tallies.kept("rep")
        assert kept == tallies.recount("rep")
        released = tallies.kept("rep", released=True)
        assert released == tallies.recount("rep", released=True)
        form = "feedback-day-1"
        # Six answers per run, however they interleaved: five released at once, one waiting.
        for run_id in run_ids:
            assert released[("rep", form, run_id, TOTAL, "")] == 5
        assert released[("rep", form, ALL_RUNS, TOTAL, "")] == 10
        shown = db.session.scalars(
            select(FeedbackResponse.answers).where(FeedbackResponse.released.is_(True))
        ).all()
        assert len(shown) == 10
        assert kept[("rep", form, ALL_RUNS, TOTAL, "")] == 12
        assert kept[("rep", form, ALL_RUNS, ANONYMOUS, "")] == 12
        for run_id in run_ids:
            assert kept[("rep", form, run_id, TOTAL, "")] == 6
        sent = [data for _client, data in forms]
        for label in "12345":
            assert kept.get(("rep", form, ALL_RUNS, "overall", label), 0) == sum(
                d["f-overall"] == label for d in sent
            )
        # Text answers are counted, never copied.
        assert kept.get(("rep", form, ALL_RUNS, "improve", ""), 0) == sum(
            "f-improve" in d for d in sent
        )
        assert not any(key[4].startswith("Idea") for key in kept)

    # The results pages read the same (released) counts.
    fac = client_for(app, "fac@example.org")
    page = fac.get(f"/facilitate/runs/{run_ids[0]}/feedback").get_data(as_text=True)
    assert "5 responses" in page and "1 answer is waiting for the next group of 5." in page
    page = fac.get("/facilitate/courses/rep/feedback").get_data(as_text=True)
    assert "10 responses" in page and "2 answers are waiting for the next group of 5." in page
    overall = [int(a["overall"]) for a in shown]
    mean = round(sum(overall) / len(overall), 1)
    assert f"Average {mean} out of 5 from 10 answers" in page


def test_increments_from_many_threads_lose_nothing(app):
    """Separate transactions adding to the same rows at once: every one is counted."""
    threads_n, each = 6, 15
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def go(seed: int):
        try:
            rng = random.Random(seed)
            barrier.wait(timeout=60)
            for _ in range(each):
                with app.app_context():
                    tallies.add_response(
                        "rep",
                        "feedback-end",
                        None,
                        True,
                        {"overall": rng.randint(4, 5)},
                        {"overall": "rating"},
                    )
                    db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        kept = tallies.kept("rep")
    n = threads_n * each
    for run_key in (ALL_RUNS, NO_RUN):
        assert kept[("rep", "feedback-end", run_key, TOTAL, "")] == n
        assert kept[("rep", "feedback-end", run_key, ANONYMOUS, "")] == n
        assert (
            kept[("rep", "feedback-end", run_key, "overall", "4")]
            + kept[("rep", "feedback-end", run_key, "overall", "5")]
            == n
        )
    # Released every fifth answer, whichever thread gave it: all 90, none twice.
    with app.app_context():
        released = tallies.kept("rep", released=True)
    assert n % 5 == 0
    for run_key in (ALL_RUNS, NO_RUN):
        assert released[("rep", "feedback-end", run_key, TOTAL, "")] == n
        overall = (released.get(("rep", "feedback-end", run_key, "overall", v), 0) for v in "45")
        assert sum(overall) == n


def test_the_table_holds_counts_only(app):
    with app.app_context():
        columns = {
            c["name"] for c in inspect(db.session.connection()).get_columns("feedback_tally")
        }
        assert columns == {
            "course_slug",
            "run_key",
            "activity_key",
            "question_key",
            "value",
            "count",
            "released",
        }
        if db.engine.dialect.name == "sqlite":
            sql = db.session.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'feedback_tally'")
            ).scalar()
            assert "WITHOUT ROWID" in sql


def test_migration_fills_the_counts_from_stored_responses(tmp_path):
    from lms import create_app
    from tests.conftest import base_config

    url = f"sqlite:///{tmp_path / 'tallies.db'}"
    app = create_app(base_config(url, tmp_path / "instance"))
    rng = random.Random(3)
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0007_list_indexes")
        rows = []
        for i in range(300):
            answers = {
                "overall": rng.randint(1, 5),
                "pace": rng.choice(PACE),
                "improve": f"Secret words {i}",
            }
            if i % 4:
                answers["confidence"] = rng.randint(1, 5)
            rows.append(
                {
                    "id": uuid.uuid4().hex,
                    "course_slug": "rep",
                    "activity_key": rng.choice(["feedback-day-1", "feedback-end"]),
                    "content_version": "1",
                    "run_id": None,
                    "is_anonymous": True,
                    "user_id": None,
                    "submitted_at": None,
                    "answers": answers,
                }
            )
        # A form the content no longer has: only numbers are counted by value.
        rows.append({**rows[0], "id": uuid.uuid4().hex, "activity_key": "gone"})
        # The table as it was then (before responses had a released flag).
        then = table(
            "feedback_response",
            *(
                column(c.name, c.type)
                for c in FeedbackResponse.__table__.columns
                if c.name != "released"
            ),
        )
        db.session.execute(insert(then), rows)
        db.session.commit()

        upgrade(directory=directory)
        kept = tallies.kept()
        assert kept == tallies.recount()
        assert (
            kept[("rep", "feedback-day-1", ALL_RUNS, TOTAL, "")]
            + kept[("rep", "feedback-end", ALL_RUNS, TOTAL, "")]
            == 300
        )
        assert kept[("rep", "feedback-day-1", NO_RUN, TOTAL, "")] == sum(
            r["activity_key"] == "feedback-day-1" for r in rows
        )
        assert not any("Secret" in key[4] for key in kept)
        assert kept[("rep", "gone", ALL_RUNS, "pace", "")] == 1

        # New responses add to the filled counts; a rebuild changes nothing.
        extra = {**rows[1], "id": uuid.uuid4().hex, "answers": {"overall": 5}}
        db.session.execute(insert(FeedbackResponse.__table__), [extra])
        tallies.add_response("rep", extra["activity_key"], None, True, extra["answers"])
        db.session.commit()
        assert tallies.kept() == tallies.recount()
        assert tallies.kept(released=True) == tallies.recount(released=True)
        before = tallies.kept(), tallies.kept(released=True)
        tallies.rebuild()
        db.session.commit()
        assert (tallies.kept(), tallies.kept(released=True)) == before
        db.session.remove()

        downgrade(directory=directory, revision="0007_list_indexes")
        assert "feedback_tally" not in inspect(db.engine).get_table_names()
        upgrade(directory=directory)
        db.session.remove()
        assert tallies.kept() == tallies.recount()
        db.engine.dispose()
