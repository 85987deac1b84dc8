"""The review queue's run filter stays short for a facilitator of hundreds of runs: it lists
at most ``RUN_CHOICES`` runs by title (the chosen one always among them) and then offers
a search by run title; with few runs it is the plain list it always was."""

from __future__ import annotations

import re

from lms.review import services as review
from tests.functional.run_helpers import make_run
from tests.functional.test_case_studies import client_for


def run_options(html: str) -> list[tuple[str, str]]:
    select = re.search(r'<select id="filter-run" name="run">(.*?)</select>', html, re.S)
    assert select is not None
    return re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select.group(1))


def test_few_runs_are_all_listed_without_a_search(app, make):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    ids = [make_run(app, facilitators=[fac], title=f"rep run {n}") for n in (2, 1)]
    make_run(app, title="someone else's run")
    html = client_for(app, "fac@example.org").get("/facilitate/reviews").get_data(as_text=True)
    assert run_options(html) == [(str(ids[1]), "rep run 1"), (str(ids[0]), "rep run 2")]
    assert 'name="run_q"' not in html


def test_many_runs_are_bounded_and_found_by_title(app, make):
    fac = make("facilitator", email="fac@example.org", name="Femi Adeyemi")
    count = review.RUN_CHOICES + 5
    ids = {
        f"rep run {n:02d}, {'Leeds' if n % 10 == 0 else 'London'}": make_run(
            app,
            facilitators=[fac],
            days=1,
            title=f"rep run {n:02d}, {'Leeds' if n % 10 == 0 else 'London'}",
        )
        for n in range(count)
    }
    titles = sorted(ids)
    client = client_for(app, "fac@example.org")

    html = client.get("/facilitate/reviews").get_data(as_text=True)
    assert [t for _, t in run_options(html)] == titles[: review.RUN_CHOICES]
    assert 'name="run_q"' in html
    assert f"first {review.RUN_CHOICES} runs" in html

    # The search lists the matching runs only (the queue itself is not narrowed by it).
    html = client.get("/facilitate/reviews?run_q=LEEDS").get_data(as_text=True)
    assert [t for _, t in run_options(html)] == [t for t in titles if "Leeds" in t]
    assert f"first {review.RUN_CHOICES} runs" not in html

    # The chosen run stays in the list, selected, even past the first ones or the search.
    last = titles[-1]
    for query in (f"?run={ids[last]}", f"?run={ids[last]}&run_q=Leeds"):
        html = client.get(f"/facilitate/reviews{query}").get_data(as_text=True)
        options = [t for _, t in run_options(html)]
        assert last in options
        assert len(options) <= review.RUN_CHOICES
        assert options == sorted(options)
        assert f'<option value="{ids[last]}" selected>' in html
