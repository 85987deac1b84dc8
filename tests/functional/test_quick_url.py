"""lms.caching.quick_url gives the text url_for gives, whatever the values."""

from __future__ import annotations

import pytest
from flask import Flask, url_for

from lms.caching import quick_url

CASES = [
    ("learning.dashboard", {}),
    ("catalogue.index", {}),
    ("catalogue.course", {"slug": "link-member"}),
    ("learning.activity", {"slug": "link-member", "key": "promoting-mip-reading"}),
    ("learning.activity", {"key": "a.b_c~d", "slug": "x-1"}),
    ("credentials.download_json", {"number": "MIP-L26-B5KP-N0X6"}),
    # Values url_for quotes, or that are not text: through url_for itself.
    ("catalogue.course", {"slug": "with space/and?query&é"}),
    ("learning.activity", {"slug": "a", "key": "%2F"}),
    ("catalogue.course", {"slug": ""}),
    ("runs.run", {"run_id": 7}),
]


@pytest.mark.parametrize("script_root", ["", "/mip"])
def test_quick_url_is_url_for(app: Flask, script_root: str):
    with app.test_request_context("/", base_url=f"http://localhost{script_root}/"):
        for _ in range(2):  # the second time from the kept pattern
            for endpoint, values in CASES:
                assert quick_url(endpoint, **values) == url_for(endpoint, **values), (
                    endpoint,
                    values,
                )
