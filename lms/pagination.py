"""One way to page through long lists: a COUNT and one page of rows, whatever the list.

``paginate(stmt, page, per_page)`` runs two queries (the count, then the page) and
returns a :class:`Page`. Bad page numbers and sizes from the address bar are clamped
(a page past the end shows the last page), never errors. The order is always stable:
the primary key of the first selected entity is added as the last sort key, so rows
with equal sort values never swap places between pages. A page's links keep the
current query arguments (search and filters) and change only ``page``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import has_request_context, request, url_for
from sqlalchemy import Select, func, inspect, select
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


def clamp_int(value: Any, default: int, low: int, high: int | None = None) -> int:
    """``value`` as an int within [low, high]; ``default`` when it is not a whole number."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    number = max(low, number)
    return min(number, high) if high is not None else number


def search_arg(args: Mapping[str, Any], name: str = "q", limit: int = 100) -> str:
    """A search box's text from the query string: spaces collapsed, at most ``limit`` long."""
    return " ".join((args.get(name) or "").split())[:limit]


def choice_arg(args: Mapping[str, Any], name: str, limit: int = 80) -> str:
    """A filter's chosen value (a slug, a key) from the query string, trimmed."""
    return (args.get(name) or "").strip()[:limit]


@dataclass
class Page(Generic[T]):
    """One page of a list: its rows and what is needed to link to the others."""

    items: list[T]
    page: int
    per_page: int
    total: int
    endpoint: str | None = None
    view_args: dict[str, Any] = field(default_factory=dict)
    args: list[tuple[str, str]] = field(default_factory=list)
    default_per_page: int = DEFAULT_PER_PAGE
    #: The query argument holding the page number (several lists on one page differ).
    param: str = "page"

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    @property
    def first_index(self) -> int:
        """1-based position of the first row on this page (0 when the list is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def query_args(self, **changes: Any) -> list[tuple[str, str]]:
        """The current query arguments with ``changes`` applied (None removes an argument).

        ``page`` is left out for page 1 and ``per_page`` when it is the default, so
        addresses stay short. With another ``param``, ``page`` in ``changes`` means it.
        """
        if "page" in changes and self.param != "page":
            changes[self.param] = changes.pop("page")
        size = "per_page" if self.param == "page" else f"{self.param}_size"
        changes = {self.param: self.page, size: self.per_page, **changes}
        if changes.get(self.param) == 1:
            changes[self.param] = None
        if changes.get(size) == self.default_per_page:
            changes[size] = None
        kept = [(k, v) for k, v in self.args if k not in changes and v != ""]
        for key, value in changes.items():
            if value is not None:
                kept.append((key, str(value)))
        return kept

    def url(self, page: int | None = None, **changes: Any) -> str:
        """The address of ``page`` (default: this one) of the same list, filters kept."""
        if self.endpoint is None:
            raise RuntimeError("This page was built outside a request: pass endpoint=.")
        if page is not None:
            changes["page"] = page
        args: dict[str, list[str]] = {}
        for key, value in self.query_args(**changes):
            args.setdefault(key, []).append(value)
        return url_for(
            self.endpoint,
            **self.view_args,
            **{k: v[0] if len(v) == 1 else v for k, v in args.items()},
        )

    def iter_pages(self, edge: int = 1, around: int = 2) -> Iterator[int | None]:
        """Page numbers to show: the first and last ``edge`` pages and ``around`` each side of
        this one, with None where numbers are skipped."""
        last_shown = 0
        for number in range(1, self.pages + 1):
            if number <= edge or number > self.pages - edge or abs(number - self.page) <= around:
                if number != last_shown + 1:
                    yield None
                yield number
                last_shown = number


def _primary_key(stmt: Select) -> list[ColumnElement]:
    """The primary key columns of the first entity the statement selects, if any."""
    for description in stmt.column_descriptions:
        entity = description.get("entity")
        if entity is None:
            continue
        mapper = inspect(entity, raiseerr=False)
        if mapper is not None and getattr(mapper, "primary_key", None):
            # The entity as selected (it may be an alias).
            target = description.get("expr") if description.get("aliased") else entity
            return [
                getattr(target, mapper.get_property_by_column(c).key) for c in mapper.primary_key
            ]
        break
    return []


def stable(stmt: Select, tiebreak: Sequence[ColumnElement] | None = None) -> Select:
    """``stmt`` with the tie-breaking keys (default: the primary key) added last to its order."""
    keys = list(tiebreak) if tiebreak is not None else _primary_key(stmt)
    present = list(getattr(stmt, "_order_by_clauses", ()))
    missing = [k for k in keys if not any(k.compare(p) for p in present)]
    return stmt.order_by(*missing) if missing else stmt


def count(stmt: Select, session=None) -> int:
    """How many rows ``stmt`` returns, in one COUNT query."""
    from lms.extensions import db

    session = session or db.session
    inner = stmt.order_by(None)
    inner._with_options = ()  # loader options mean nothing inside COUNT(*)
    return session.scalar(select(func.count()).select_from(inner.subquery())) or 0


def request_args() -> list[tuple[str, str]]:
    return list(request.args.items(multi=True)) if has_request_context() else []


def paginate(
    stmt: Select,
    page: Any = 1,
    per_page: Any = None,
    *,
    default_per_page: int = DEFAULT_PER_PAGE,
    max_per_page: int = MAX_PER_PAGE,
    scalars: bool | None = None,
    tiebreak: Sequence[ColumnElement] | None = None,
    total: int | None = None,
    endpoint: str | None = None,
    view_args: Mapping[str, Any] | None = None,
    args: Sequence[tuple[str, str]] | None = None,
    param: str = "page",
    session=None,
) -> Page:
    """Run ``stmt`` for one page and count all its rows.

    ``page`` and ``per_page`` may be anything from a query string: they are clamped
    to 1..pages and 1..``max_per_page`` (``default_per_page`` when missing or not a
    number). ``scalars`` (default: true when one entity or column is selected) gives
    items as objects rather than rows. ``tiebreak`` replaces the primary key as the
    last sort key. ``total`` skips the COUNT when the caller knows it. Links are built
    for ``endpoint``/``view_args``/``args``, by default the current request's; ``param``
    names the page argument when a page has several lists.
    Raises nothing for bad input; database errors propagate.
    """
    from lms.extensions import db

    session = session or db.session
    per_page = clamp_int(per_page, default_per_page, 1, max_per_page)
    if total is None:
        total = count(stmt, session)
    pages = max(1, -(-total // per_page))
    page = clamp_int(page, 1, 1, pages)
    if scalars is None:
        scalars = len(stmt.column_descriptions) == 1
    items: list[Any] = []
    if total:
        query = stable(stmt, tiebreak).limit(per_page).offset((page - 1) * per_page)
        result = session.execute(query)
        # unique(): joined eager loading of collections repeats rows; entities are hashable.
        items = list(result.scalars().unique() if scalars else result.all())
    if has_request_context():
        endpoint = endpoint or request.endpoint
        view_args = dict(view_args if view_args is not None else (request.view_args or {}))
        args = list(args if args is not None else request_args())
    return Page(
        items=items,
        page=page,
        per_page=per_page,
        total=total,
        endpoint=endpoint,
        view_args=dict(view_args or {}),
        args=list(args or []),
        default_per_page=default_per_page,
        param=param,
    )


def page_args(args: Mapping[str, Any] | None = None, param: str = "page") -> tuple[Any, Any]:
    """The raw page number and size from ``args`` (default: the query string): ``page`` and
    ``per_page``, or ``<param>`` and ``<param>_size`` for another list on the page."""
    args = args if args is not None else (request.args if has_request_context() else {})
    size = "per_page" if param == "page" else f"{param}_size"
    return args.get(param, 1), args.get(size)
