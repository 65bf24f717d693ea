"""Pages of the market area: ``GET /market``, public (rate limit ``public`` per address, as the API's market
routes; a search also counts against ``search``, as ``GET /api/v1/professions/search``).

- Without a profession: the search box (``q``: the candidates of
  :func:`ty_web.services.professions.search_professions` as links ``/market?profession=<berufenet_id>``) and the
  open and new postings of all professions per day.
- ``?profession=<berufenet_id>``: the profession's facts (:func:`ty_web.queries.market.profession`), its open and
  new postings per day (its KldB 5-digit code; :func:`ty_web.queries.market.demand`, over the days that
  :func:`ty_web.services.market.date_range` chooses, as ``GET /api/v1/market/demand``) and its similar
  professions (:func:`ty_web.queries.market.similar_professions`) as links to their market views.
- ``state`` (a Land or ``Ausland``) and ``days`` (30, 90 or 365) narrow the series.

The series is drawn as an SVG line chart in the template (no JavaScript) and repeated as a table. Invalid
parameters re-render the page with status 422 and the field's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, get_args

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from ty_resources.germany import ABROAD, Land
from ty_web.deps import ClassifierDep, ClientAddress, Db, Limiter, address_limit
from ty_web.errors import ApiError, not_found
from ty_web.market_schemas import DemandPoint, ProfessionSearch
from ty_web.pages.render import gettext, render
from ty_web.pages.session import page_router
from ty_web.queries import market
from ty_web.schemas import BERUFENET_ID_PATTERN
from ty_web.services.market import date_range
from ty_web.services.professions import QUERY_MAX_CHARS, search_professions

router = page_router()

STATES: tuple[str, ...] = (*get_args(Land), ABROAD)
PERIODS = (30, 90, 365)
DEFAULT_PERIOD = 90

# The chart's drawing area in SVG user units (the SVG scales to its container: class `chart`).
WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
X_TICKS = 6
Y_TICKS = 4


@dataclass(frozen=True)
class Tick:
    position: float
    value: Any


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    open_points: str
    new_points: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def _tick_step(value: int) -> int:
    """A round step (1, 2 or 5 × 10ⁿ) such that ``Y_TICKS`` steps reach ``value``: the y axis's grid."""
    needed = max(-(-value // Y_TICKS), 1)
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= needed:
                return step * magnitude
        magnitude *= 10


def chart(series: list[DemandPoint], first: date, last: date) -> Chart:
    """Where the series' points, grid lines and labels go: x is the day within ``first``..``last``, y the count
    from 0 to a round maximum."""
    bottom_y = HEIGHT - BOTTOM
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max((last - first).days, 1)
    step = _tick_step(max((max(p.active_postings, p.new_postings) for p in series), default=0))
    top_value = step * Y_TICKS

    def x(day: date) -> float:
        return round(LEFT + plot_w * (day - first).days / span, 1)

    def y(value: int) -> float:
        return round(bottom_y - plot_h * value / top_value, 1)

    open_points = " ".join(f"{x(p.day)},{y(p.active_postings)}" for p in series)
    new_points = " ".join(f"{x(p.day)},{y(p.new_postings)}" for p in series)
    days = (last - first).days
    x_ticks = [Tick(x(first + (last - first) * i / X_TICKS), first + (last - first) * i / X_TICKS)
               for i in range(X_TICKS + 1)] if days >= X_TICKS else \
        [Tick(x(first), first)] + ([Tick(x(last), last)] if days else [])
    y_ticks = [Tick(y(step * i), step * i) for i in range(Y_TICKS + 1)]
    return Chart(WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, open_points, new_points, x_ticks, y_ticks)


def _search_message(request: Request, exc: ApiError) -> str:
    if exc.status_code == 429:
        return gettext(request, "Too many searches right now: try again in a second.")
    return gettext(request, "Enter a job title to search for, such as “Köchin” or “Lagerist”.")


@router.get("/market", response_class=HTMLResponse, dependencies=[address_limit("public")])
def market_page(
    request: Request,
    db: Db,
    classifier: ClassifierDep,
    limiter: Limiter,
    address: ClientAddress,
    q: Annotated[str | None, Query(max_length=QUERY_MAX_CHARS)] = None,
    profession: Annotated[str | None, Query(max_length=40)] = None,
    state: Annotated[str | None, Query(max_length=40)] = None,
    days: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    """The market for a profession (or all) and a Land (or all): facts, chart, table, similar professions."""
    errors: dict[str, str] = {}
    profession = profession or None
    if profession is not None and not re.fullmatch(BERUFENET_ID_PATTERN, profession):
        errors["profession"] = gettext(request, "Choose a profession from the search results.")
        profession = None
    chosen_state = state or None
    if chosen_state is not None and chosen_state not in STATES:
        errors["state"] = gettext(request, "Choose a Land from the list.")
        chosen_state = None
    period = DEFAULT_PERIOD
    if days:
        if days.isdigit() and int(days) in PERIODS:
            period = int(days)
        else:
            errors["days"] = gettext(request, "Choose a period from the list.")

    search: ProfessionSearch | None = None
    status = 422 if errors else 200
    headers: dict[str, str] | None = None
    if q is not None and q.strip():
        limiter.check("search", f"addr:{address}", "searches")
        try:  # no pooled connection held: the classifier may take a moment
            search = search_professions(db, classifier, q)
        except ApiError as exc:
            errors["q"] = _search_message(request, exc)
            status = exc.status_code if exc.status_code in (422, 429) else 422
            headers = dict(exc.headers) if exc.headers else None

    with db.connection() as conn:
        detail = market.profession(conn, profession) if profession else None
        if profession and detail is None:
            raise not_found("profession")
        latest = market.latest_demand_day(conn)
        first, last = date_range(conn, None, None, days=period)
        series = market.demand(conn, first, last, kldb=detail.kldb_code if detail else None,
                               state=chosen_state) if latest else []
        similar = market.similar_professions(conn, profession) if detail and profession else None

    context = {
        "q": q or "", "search": search, "errors": errors, "profession": detail, "similar": similar,
        "state": chosen_state, "states": STATES, "period": period, "periods": PERIODS,
        "latest": latest, "first": first, "last": last, "series": series,
        "chart": chart(series, first, last) if series else None,
    }
    return render(request, "market/index.html", context, status=status, headers=headers)
