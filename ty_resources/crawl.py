"""A day's crawl of the BA job search under its 10,000-result cap: the query plan and the run that follows it.

The API pages a query at most 10,000 results deep (``page × size`` ≤ 10,000, ``size`` ≤ 100) while
``maxErgebnisse`` reports the full count. A day therefore starts from one query per offer type (no ``wo``:
the whole market, Germany and abroad), and any query above the cap is *split* by a filter the API offers,
recursively, until every leaf can be paged to its end. The split values and their counts come from the
answer's ``facetten``, so splitting a node costs the one request that also brings its first page.

Splits are tried in the order of :data:`SPLITS`. A split is *complete* when its parts add up to the
parent's count: ``wo`` (Land or country), ``berufsfeld`` and ``befristung`` are disjoint, so their parts
must add up exactly; ``arbeitszeit`` overlaps (a posting may be full- and part-time), so its parts must add
up to at least the parent. An incomplete split is used only when nothing else gets under the cap, and what
it cannot reach is counted as ``gap``. A query above the cap that no filter splits is paged to the cap and
reported by name and count (:class:`CrawlIncomplete`).

The plan is a tree of :class:`Node` kept per day (``Plan.to_json``). The next day starts from it: leaves
are paged directly, a leaf that grew over the cap is split on the spot, and every split node (the roots
among them) is asked once for its count and facets: paged whole again when it shrank well under the cap,
planned again when its split no longer covers it, else given a part for every value its facet counts now
and none for a value it no longer counts. So a normal day costs one planning request per split query.

Pages shift while a query is paged (postings arrive at the top, others are withdrawn): where a leaf's
``maxErgebnisse`` changed between two pages, the pages at that border are asked again after the pass (up
to ``max_passes`` rounds), and the union is kept.

Nothing is taken on trust: every query the crawl visits counts the distinct postings fetched under it, and
where they fall short of the count the query reported (or its parent's facet promised) by more than churn
explains, the query is asked again and a shortfall that remains is a problem (a facet that omits a value, a
part no filter value reaches, pages that came back short). A crawl stops with a problem when it has spent
:data:`BUDGET_FACTOR` times the requests the market needs (a count that flickers, a facet of thousands of
values), and a stored plan is checked before it is followed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

RESULT_CAP = 10_000  # the deepest result a query can be paged to (page × size)
MAX_PAGE_SIZE = 100
PLAN_FORMAT = "ty-crawl-plan/1"
MAX_PARTS = 500  # a facet with more values is no split: one request per part would cost more than it saves
MAX_PLAN_NODES = 10_000  # a stored plan with more nodes is damaged (a real day needs a few hundred)
MERGE_BELOW = 0.9  # a split node is paged whole again only below this share of the cap (no flip-flop)
BUDGET_FACTOR = 3.0  # requests allowed per request the market needs (lower_bound_pages) ...
BUDGET_SLACK = 50  # ... plus these, for planning
SHORTFALL_SHARE = 0.002  # distinct postings under a query may fall this far short of its count (churn) ...
SHORTFALL_MIN = 10  # ... or this many, whichever is more, before the query is asked again
MAX_COVERAGE = 1.05  # more distinct postings than this share of the planned total: the counts are not to be trusted


@dataclass(frozen=True)
class Split:
    param: str  # the query parameter that selects a part
    facet: str  # the facet of the answer that counts the parts
    disjoint: bool  # a posting is in at most one part


SPLITS: tuple[Split, ...] = (
    Split("wo", "arbeitsort", disjoint=True),
    Split("berufsfeld", "berufsfeld", disjoint=True),
    Split("befristung", "befristung", disjoint=True),
    Split("arbeitszeit", "arbeitszeit", disjoint=False),
)
SPLIT_BY_PARAM = {split.param: split for split in SPLITS}


class CrawlIncomplete(RuntimeError):
    """The crawl fetched what it could, but some queries could not be paged to their end."""


class BadAnswer(ValueError):
    """An answer the crawl cannot use (no count): recorded as a problem of its query."""


class _BudgetSpent(Exception):
    """The crawl spent its request budget: it stops, and the day is incomplete."""


@dataclass(frozen=True)
class SearchResult:
    """One answer of the search: its items, ``maxErgebnisse``, and facet counts (empty when not sent)."""

    items: list[dict[str, Any]]
    max_results: int | None
    facets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


Search = Callable[[Mapping[str, str], int, int], SearchResult]  # (params, page, size)


# ------------------------------------------------------------------------------- the plan


@dataclass
class Node:
    """A query of the plan: a leaf is paged; a split node's ``children`` each add ``split=<value>``."""

    params: dict[str, str]
    split: str | None = None
    children: list[Node] = field(default_factory=list)
    count: int | None = None  # maxErgebnisse when last seen

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"params": self.params, "count": self.count}
        if self.split:
            body["split"] = self.split
            body["children"] = [child.to_json() for child in self.children]
        return body

    @classmethod
    def from_json(cls, body: Any, parent: Node | None = None, budget: list[int] | None = None) -> Node:
        """A stored node, checked: each child adds exactly its parent's split parameter to the parent's
        parameters (so no plan is deeper than :data:`SPLITS`), counts are whole numbers, at most
        :data:`MAX_PARTS` parts a split and :data:`MAX_PLAN_NODES` nodes in all. ValueError otherwise."""
        budget = [MAX_PLAN_NODES] if budget is None else budget
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError(f"a stored crawl plan has more than {MAX_PLAN_NODES} queries")
        if not isinstance(body, Mapping) or not isinstance(body.get("params"), Mapping):
            raise ValueError("a stored crawl plan has a query without parameters")
        params = dict(body["params"])
        if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in params.items()):
            raise ValueError(f"a stored crawl plan has a query with other than text parameters: {params!r}")
        count = body.get("count")
        if count is not None and (type(count) is not int or count < 0):
            raise ValueError(f"a stored crawl plan has a count that is no whole number: {count!r}")
        if parent is not None:
            assert parent.split is not None
            extra = {k: v for k, v in params.items() if parent.params.get(k) != v}
            if set(params) != set(parent.params) | {parent.split} or set(extra) != {parent.split}:
                raise ValueError(f"a stored crawl plan has a part {params!r} that is not its parent "
                                 f"{parent.params!r} plus {parent.split}")
        split = body.get("split")
        children = body.get("children") or []
        if split is not None and (split not in SPLIT_BY_PARAM or split in params):
            raise ValueError(f"a stored crawl plan splits {params!r} by {split!r}")
        if not isinstance(children, list) or len(children) > MAX_PARTS:
            raise ValueError(f"a stored crawl plan has a split of {params!r} with no list of parts or too many")
        node = cls(params=params, split=split if children else None, count=count)
        if node.split:
            node.children = [cls.from_json(child, node, budget) for child in children]
            values = [child.params[node.split] for child in node.children]
            if len(set(values)) != len(values):
                raise ValueError(f"a stored crawl plan has a split of {params!r} with a part twice")
        return node

    def leaves(self) -> Iterator[Node]:
        if not self.children:
            yield self
        for child in self.children:
            yield from child.leaves()

    def describe(self) -> str:
        return "&".join(f"{k}={v}" for k, v in sorted(self.params.items()))


@dataclass
class Plan:
    roots: list[Node]

    def to_json(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "roots": [root.to_json() for root in self.roots]}

    @classmethod
    def from_json(cls, body: Any) -> Plan | None:
        """The stored plan, or None for no plan or one in another format (the crawl then plans afresh)."""
        if not body:
            return None
        if not isinstance(body, Mapping):
            raise ValueError("a stored crawl plan that is no JSON object")
        if body.get("format") != PLAN_FORMAT:
            return None
        roots = body.get("roots")
        if not isinstance(roots, list):
            raise ValueError("a stored crawl plan has no list of roots")
        budget = [MAX_PLAN_NODES]
        return cls(roots=[Node.from_json(root, None, budget) for root in roots])

    def leaf_count(self) -> int:
        return sum(1 for root in self.roots for _ in root.leaves())


def initial_plan(offer_types: list[int], stored: Plan | None = None) -> Plan:
    """One root per offer type; the stored plan's tree for each type it already knows (a stored root with
    any other parameter is not the whole market of its type, and is planned afresh)."""
    known = {root.params["angebotsart"]: root for root in stored.roots
             if set(root.params) == {"angebotsart"}} if stored else {}
    return Plan(roots=[known.get(str(code)) or Node({"angebotsart": str(code)}) for code in offer_types])


# ------------------------------------------------------------------------------- the run


@dataclass
class CrawlStats:
    planned: int = 0  # sum of the roots' maxErgebnisse: the day's market
    fetched: int = 0  # distinct postings fetched
    leaves: int = 0  # queries paged to their end
    pages: int = 0  # result pages of leaves
    planning_requests: int = 0  # requests that only asked for a node's count and facets
    splits: int = 0  # nodes split: new, grown past the cap, or planned again (their split stopped covering them)
    merges: int = 0  # split nodes paged whole again because they shrank well under the cap
    requeried: int = 0  # border pages asked again because the results shifted while a leaf was paged
    short_pages: int = 0  # pages asked again because they brought fewer results than their count promised
    unsettled: int = 0  # leaves whose counts still moved after the last pass (held against their count)
    rechecks: int = 0  # queries asked again because fewer distinct postings came than they counted
    overlap: int = 0  # results a part brought beyond what its parent's facet promised
    gap: int = 0  # results no complete split could reach, or counted but not fetched
    problems: list[str] = field(default_factory=list)  # capped queries and failed leaves, in words

    @property
    def requests(self) -> int:
        return self.pages + self.planning_requests

    @property
    def coverage(self) -> float:
        return self.fetched / self.planned if self.planned else 1.0

    def trusted(self, minimum: float) -> bool:
        """Whether the day may count as the whole market (e.g. to invalidate what it did not see): no problem,
        and a coverage between ``minimum`` and :data:`MAX_COVERAGE`."""
        return not self.problems and minimum <= self.coverage <= MAX_COVERAGE

    def as_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned, "fetched_distinct": self.fetched, "coverage": round(self.coverage, 5),
            "leaves": self.leaves, "search_requests": self.requests, "pages": self.pages,
            "planning_requests": self.planning_requests, "splits": self.splits, "merges": self.merges,
            "requeried": self.requeried, "short_pages": self.short_pages,
            "unsettled": self.unsettled, "rechecks": self.rechecks, "overlap": self.overlap, "gap": self.gap,
            "problems": len(self.problems),
        }


Items = list[dict[str, Any]]
Visit = Generator[Items, None, int | None]  # yields pages of items, returns the count the node's own answer gave


class Crawl:
    """Runs a plan: ``pages()`` yields each answer's items as it comes (a refnr may repeat).

    Errors of one query are recorded in ``stats.problems`` and the crawl goes on with the next; the
    caller raises :class:`CrawlIncomplete` (``raise_if_incomplete``) after storing what was fetched.
    """

    def __init__(self, search: Search, plan: Plan, *, page_size: int = MAX_PAGE_SIZE, cap: int = RESULT_CAP,
                 max_passes: int = 3, budget_factor: float = BUDGET_FACTOR,
                 errors: tuple[type[Exception], ...] = (Exception,)):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.search = search
        self.plan = plan
        self.page_size = page_size
        self.cap = cap
        self.merge_at = int(cap * MERGE_BELOW)
        self.max_pages = cap // page_size  # page × size must stay within the cap
        self.max_passes = max_passes
        self.budget_factor = budget_factor
        self.errors: tuple[type[Exception], ...] = (*errors, BadAnswer)
        self.stats = CrawlStats()
        self.seen: set[str] = set()
        self._scopes: list[set[str]] = []  # the distinct postings fetched under each query being visited
        self._clock = 0  # orders the fetches of a leaf's pages

    # ---------------------------------------------------------------- entry
    def pages(self) -> Iterator[Items]:
        for root in self.plan.roots:
            try:
                yield from self._checked(root, None, self._root(root))
            except _BudgetSpent:
                self.stats.problems.append(
                    f"the crawl stopped after {self.stats.requests} requests, {self.budget_factor:g} times what the "
                    f"{self.stats.planned} postings counted so far need: counts that keep moving, or splits into "
                    "too many parts")
                return
            except self.errors as exc:
                self.stats.problems.append(f"query {root.describe()}: {exc}")

    def raise_if_incomplete(self) -> None:
        if self.stats.problems:
            shown = "; ".join(self.stats.problems[:5])
            more = f" (and {len(self.stats.problems) - 5} more)" if len(self.stats.problems) > 5 else ""
            raise CrawlIncomplete(f"{len(self.stats.problems)} problem(s) in the crawl: {shown}{more}")

    # ------------------------------------------------------------- requests
    def _budget(self) -> float:
        return BUDGET_SLACK + self.budget_factor * lower_bound_pages(self.stats.planned, self.page_size)

    def _ask(self, node: Node, page: int, planning: bool = False) -> SearchResult:
        if self.stats.requests >= self._budget():
            raise _BudgetSpent
        result = self.search(node.params, page, self.page_size)
        if planning:
            self.stats.planning_requests += 1
        else:
            self.stats.pages += 1
        if result.max_results is None:
            raise BadAnswer(f"page {page} came without a count (maxErgebnisse)")
        offer = node.params.get("angebotsart")
        if offer is not None:  # the search items do not say which offer type they are; the query does
            for item in result.items:
                item.setdefault("angebotsart", offer)
        self._keep(result.items)
        return result

    def _keep(self, items: Items) -> None:
        for item in items:
            refnr = item["refnr"]
            self.seen.add(refnr)
            for scope in self._scopes:
                scope.add(refnr)
        self.stats.fetched = len(self.seen)

    def _due(self, page: int, count: int) -> int:
        """How many results page ``page`` must bring when the query counts ``count``."""
        return max(0, min(self.page_size, count - (page - 1) * self.page_size))

    def _tolerance(self, count: int) -> float:
        return max(SHORTFALL_MIN, SHORTFALL_SHARE * count)

    # ---------------------------------------------------------------- nodes
    def _checked(self, node: Node, expected: int | None, visit: Visit) -> Iterator[Items]:
        """Run ``visit`` while counting the distinct postings fetched under ``node``; then hold them against
        the count the node's own answer gave (what ``visit`` returns), or else ``expected``.

        Postings withdrawn after the count was taken make a small shortfall; one beyond :meth:`_tolerance`
        has the node asked again: the ones withdrawn since are no longer counted, so what is still short now
        is a loss (a facet that omits a value, a part no filter value reaches, pages that came back short).
        """
        scope: set[str] = set()
        problems = len(self.stats.problems)
        self._scopes.append(scope)
        try:
            reported = yield from visit
        finally:
            assert self._scopes.pop() is scope
        reference = reported if reported is not None else expected
        if reference is None or len(self.stats.problems) > problems:
            return  # nothing to hold them against, or a problem under the node says so already
        if reference - len(scope) <= self._tolerance(reference):
            return
        self.stats.rechecks += 1
        again = self._ask(node, 1, planning=True)
        scope.update(item["refnr"] for item in again.items)
        yield again.items
        now = again.max_results or 0
        short = now - len(scope)
        if short > self._tolerance(now):
            self.stats.gap += short
            self.stats.problems.append(f"query {node.describe()} counts {now} results, but only {len(scope)} "
                                       "distinct postings came under it")

    def _root(self, root: Node) -> Visit:
        """The root is asked every day: its count is the day's planned total, its facets check the plan."""
        first = self._ask(root, 1, planning=bool(root.children))
        self.stats.planned += first.max_results or 0
        return (yield from self._probed(root, first, None))

    def _visit_part(self, node: Node, expected: int | None) -> Iterator[Items]:
        """Visit one part; its failure is recorded and the crawl goes on with the next part."""
        try:
            yield from self._checked(node, expected, self._visit(node, expected))
        except _BudgetSpent:
            raise
        except self.errors as exc:
            self.stats.problems.append(f"query {node.describe()}: {exc}")

    def _visit(self, node: Node, expected: int | None) -> Visit:
        if not node.children:
            return (yield from self._leaf(node, None, expected))
        return (yield from self._probed(node, self._ask(node, 1, planning=True), expected))

    def _probed(self, node: Node, probe: SearchResult, expected: int | None) -> Visit:
        """Go on from a node's first answer. A stored split is checked every day by it (its count and
        facets): paged whole when it shrank well under the cap, planned again when its split no longer
        covers it (postings in no part), else its parts brought in line with the facet and visited."""
        count = probe.max_results or 0
        covered = not node.children or sum(_parts(probe, SPLIT_BY_PARAM[node.split or ""]).values()) >= count
        if node.children and (count <= self.merge_at or not covered and count <= self.cap):
            node.split, node.children = None, []  # one query is cheaper than its parts, or the only cover
            self.stats.merges += 1
            self.stats.planning_requests -= 1  # the answer is the leaf's first page
            self.stats.pages += 1
        if not node.children:
            return (yield from self._leaf(node, probe, expected))
        yield probe.items
        if not covered:
            return (yield from self._split_here(node, probe, count))
        return (yield from self._split_node(node, probe))

    def _split_node(self, node: Node, probe: SearchResult) -> Visit:
        """Bring the parts in line with ``probe``'s facet and visit them; the node's count is the probe's."""
        split = SPLIT_BY_PARAM[node.split or ""]
        promised = self._adopt(node, split, probe)
        for child in list(node.children):
            yield from self._visit_part(child, promised.get(child.params[split.param]))
        node.count = probe.max_results
        return probe.max_results

    def _adopt(self, node: Node, split: Split, probe: SearchResult) -> dict[str, int]:
        """Bring the parts in line with the split's facet in ``probe``: a part for every value it counts, none
        for a value it no longer counts (when it was sent at all); the facet's counts."""
        promised = _parts(probe, split)
        if promised:
            node.children = [child for child in node.children if child.params[split.param] in promised]
        have = {child.params[split.param] for child in node.children}
        for value in sorted(promised):
            if value not in have:
                node.children.append(Node({**node.params, split.param: value}, count=promised[value]))
        return promised

    def _leaf(self, node: Node, first: SearchResult | None, expected: int | None = None) -> Visit:
        """Page a query to its end, or split it when it is above the cap.

        When ``maxErgebnisse`` changes between two pages, the list shifted in between; the pages at such
        seams (:meth:`_seams`) are asked again after the pass (``requeried``), round after round while the
        count still moves, ``max_passes`` passes in all.
        """
        if first is None:
            result = yield from self._fetch(node, 1)
            if result is None:
                return None
        else:
            result = first
            yield result.items
        count = result.max_results or 0
        if count > self.cap:
            self.stats.planning_requests += 1  # the page served to learn the counts of a split
            self.stats.pages -= 1
            return (yield from self._split_here(node, result, count))
        if expected is not None and count > expected:
            self.stats.overlap += count - expected
        counts = {1: (0, count)}  # page -> (when it was last fetched, maxErgebnisse then)
        outcome: object = None
        page = 1
        while outcome is None and page < self._last_page(counts[page][1]):  # the count may grow: look again
            page += 1
            outcome = yield from self._page(node, page, counts)
        for _ in range(1, self.max_passes):
            todo = self._seams(counts) if outcome is None else []
            if not todo:
                break
            for page in todo:
                self.stats.requeried += 1
                outcome = yield from self._page(node, page, counts)
                if outcome is not None:
                    break
        if outcome is _STOP:
            return None  # a problem is recorded
        if isinstance(outcome, int):
            return outcome  # it grew past the cap and was split: the parts are leaves now
        if self._seams(counts):
            self.stats.unsettled += 1
        node.count = max(counts.values())[1]  # the count of the page fetched last
        self.stats.leaves += 1
        return node.count

    def _seams(self, counts: dict[int, tuple[int, int]]) -> list[int]:
        """Pages to ask again so that no posting slipped between two pages fetched at different times.

        ``counts``: page -> (when it was fetched, maxErgebnisse then). Where page j shows a larger count than
        page j+1, a posting can be on neither: postings withdrawn between the two fetches pulled the rest up
        (j fetched first: the first of j+1 moved onto j), or new ones at the top pushed it down (j+1 fetched
        first: the last of j moved onto j+1). The page fetched first of the two, asked again, brings it. New
        postings come in at the top, so page 1 must be fetched after the last of them; a count that grew
        may need pages beyond the last one fetched.
        """
        pages = set()
        for page, (when, count) in counts.items():
            after = counts.get(page + 1)
            if after is not None and count > after[1]:
                pages.add(page if when < after[0] else page + 1)
        latest = max(counts.values())[1]
        if counts[1][1] < max(count for _, count in counts.values()):
            pages.add(1)
        pages.update(range(max(counts) + 1, self._last_page(latest) + 1))
        return sorted(pages)

    def _fetch(self, node: Node, page: int) -> Generator[Items, None, SearchResult | None]:
        """One page of a leaf, asked once more when it brings fewer results than its count promises for it
        (the API answers a short or an empty page under load now and then); None when it is empty twice."""
        result = self._ask(node, page)
        yield result.items
        if len(result.items) < self._due(page, result.max_results or 0):
            self.stats.short_pages += 1
            result = self._ask(node, page)
            yield result.items
            if not result.items and self._due(page, result.max_results or 0):
                self.stats.problems.append(f"query {node.describe()}: page {page} came back empty twice though "
                                           f"maxErgebnisse is {result.max_results}")
                return None
        return result

    def _page(self, node: Node, page: int, counts: dict[int, tuple[int, int]]) -> Generator[Items, None, object]:
        """Ask one page of a leaf and note its count: None, or _STOP (a problem), or the count it grew past
        the cap to (the node is split then)."""
        result = yield from self._fetch(node, page)
        if result is None:
            return _STOP
        now = result.max_results or 0
        if now > self.cap:
            yield from self._split_here(node, result, now)
            return now
        self._clock += 1
        counts[page] = (self._clock, now)
        return None

    def _last_page(self, count: int) -> int:
        return min(math.ceil(count / self.page_size), self.max_pages)

    def _split_here(self, node: Node, result: SearchResult, count: int) -> Visit:
        """Split a node above the cap by the first filter whose parts cover it, and visit the parts."""
        node.count = count
        best: tuple[int, Split, dict[str, int]] | None = None
        chosen: Split | None = None
        for split in SPLITS:
            if split.param in node.params:
                continue
            parts = _parts(result, split)
            if not parts or max(parts.values()) >= count:
                continue  # a part as big as the whole splits nothing
            total = sum(parts.values())
            if total >= count:
                chosen = split
                break
            if best is None or total > best[0]:
                best = (total, split, parts)
        if chosen is None and best is not None:
            total, chosen, _ = best
            self.stats.gap += count - total
            self.stats.problems.append(
                f"query {node.describe()} has {count} results; its best split ({chosen.param}) reaches only {total}")
        if chosen is None:
            self.stats.problems.append(
                f"query {node.describe()} has {count} results, more than the API pages ({self.cap}), and no "
                f"filter splits it further: only its first {self.cap} are fetched")
            node.split, node.children = None, []
            yield from self._page_capped(node)
            return None
        node.split, node.children = chosen.param, []
        self.stats.splits += 1
        yield from self._split_node(node, result)
        return count

    def _page_capped(self, node: Node) -> Iterator[Items]:
        for page in range(2, self.max_pages + 1):
            result = self._ask(node, page)
            if not result.items:
                break
            yield result.items
        self.stats.leaves += 1


_STOP = object()


def _parts(result: SearchResult, split: Split) -> dict[str, int]:
    """The split's facet in an answer: values with a positive count (a blank value selects nothing); none
    when it has more than :data:`MAX_PARTS` values (one request a part would cost more than it saves)."""
    facet = result.facets.get(split.facet) or {}
    if len(facet) > MAX_PARTS:
        return {}
    return {str(k): int(v) for k, v in facet.items() if str(k).strip() and int(v) > 0}


def lower_bound_pages(open_postings: int, page_size: int = MAX_PAGE_SIZE) -> int:
    """The fewest requests any crawl needs: every posting once, full pages."""
    return math.ceil(open_postings / page_size)
