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

The plan is a tree of :class:`Node` kept per day (``Plan.to_json``). The next day starts from it: each root
is asked once (its count and facets), leaves are paged directly, a leaf that grew over the cap is split on
the spot, a split node whose parent says it now fits under the cap is paged whole again, and where the
parts of a disjoint split add up to less than the count its parent reported, the node is asked for its
facets and the values the plan lacks are added. So a normal day costs one planning request per offer type.

Pages shift while a query is paged (postings arrive at the top, others are withdrawn): where a leaf's
``maxErgebnisse`` changed between two pages, the pages at that border are asked again after the pass (up
to ``max_passes`` rounds), and the union is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

RESULT_CAP = 10_000  # the deepest result a query can be paged to (page × size)
MAX_PAGE_SIZE = 100
PLAN_FORMAT = "ty-crawl-plan/1"


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
    def from_json(cls, body: Mapping[str, Any]) -> Node:
        split = body.get("split")
        if split is not None and split not in SPLIT_BY_PARAM:
            raise ValueError(f"unknown split {split!r} in a stored crawl plan")
        return cls(
            params={str(k): str(v) for k, v in body["params"].items()},
            split=split,
            children=[cls.from_json(child) for child in body.get("children", [])] if split else [],
            count=body.get("count"),
        )

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
    def from_json(cls, body: Mapping[str, Any] | None) -> Plan | None:
        """The stored plan, or None for no plan or one in another format (the crawl then plans afresh)."""
        if not body or body.get("format") != PLAN_FORMAT:
            return None
        return cls(roots=[Node.from_json(root) for root in body.get("roots", [])])

    def leaf_count(self) -> int:
        return sum(1 for root in self.roots for _ in root.leaves())


def initial_plan(offer_types: list[int], stored: Plan | None = None) -> Plan:
    """One root per offer type; the stored plan's tree for each type it already knows."""
    known = {root.params.get("angebotsart"): root for root in stored.roots} if stored else {}
    return Plan(roots=[known.get(str(code)) or Node({"angebotsart": str(code)}) for code in offer_types])


# ------------------------------------------------------------------------------- the run


@dataclass
class CrawlStats:
    planned: int = 0  # sum of the roots' maxErgebnisse: the day's market
    fetched: int = 0  # distinct postings fetched
    leaves: int = 0  # queries paged to their end
    pages: int = 0  # result pages of leaves
    planning_requests: int = 0  # requests that only asked for a node's count and facets
    splits: int = 0  # nodes split (new, or repaired because they grew)
    merges: int = 0  # split nodes paged whole again because they shrank under the cap
    repairs: int = 0  # split nodes asked again because their parts fell short
    requeried: int = 0  # border pages asked again because the results shifted while a leaf was paged
    overlap: int = 0  # results a part brought beyond what its parent's facet promised
    gap: int = 0  # results no complete split could reach
    problems: list[str] = field(default_factory=list)  # capped queries and failed leaves, in words

    @property
    def requests(self) -> int:
        return self.pages + self.planning_requests

    @property
    def coverage(self) -> float:
        return self.fetched / self.planned if self.planned else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned, "fetched_distinct": self.fetched, "coverage": round(self.coverage, 5),
            "leaves": self.leaves, "search_requests": self.requests, "pages": self.pages,
            "planning_requests": self.planning_requests, "splits": self.splits, "merges": self.merges,
            "repairs": self.repairs, "requeried": self.requeried, "overlap": self.overlap, "gap": self.gap,
            "problems": len(self.problems),
        }


class Crawl:
    """Runs a plan: ``pages()`` yields each answer's items as it comes (a refnr may repeat).

    Errors of one query are recorded in ``stats.problems`` and the crawl goes on with the next; the
    caller raises :class:`CrawlIncomplete` (``raise_if_incomplete``) after storing what was fetched.
    """

    def __init__(self, search: Search, plan: Plan, *, page_size: int = MAX_PAGE_SIZE, cap: int = RESULT_CAP,
                 max_passes: int = 3, errors: tuple[type[Exception], ...] = (Exception,)):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        self.search = search
        self.plan = plan
        self.page_size = page_size
        self.cap = cap
        self.max_pages = cap // page_size  # page × size must stay within the cap
        self.max_passes = max_passes
        self.errors = errors
        self.stats = CrawlStats()
        self.seen: set[str] = set()
        # Leaves paged in this run, by id; the dict keeps each node alive, so its id cannot be reused by a
        # node made later in the run (a repair drops parts and adds new ones).
        self._paged: dict[int, Node] = {}
        self._clock = 0  # orders the fetches of a leaf's pages

    # ---------------------------------------------------------------- entry
    def pages(self) -> Iterator[list[dict[str, Any]]]:
        for root in self.plan.roots:
            try:
                yield from self._root(root)
            except self.errors as exc:
                self.stats.problems.append(f"query {root.describe()}: {exc}")

    def raise_if_incomplete(self) -> None:
        if self.stats.problems:
            shown = "; ".join(self.stats.problems[:5])
            more = f" (and {len(self.stats.problems) - 5} more)" if len(self.stats.problems) > 5 else ""
            raise CrawlIncomplete(f"{len(self.stats.problems)} problem(s) in the crawl: {shown}{more}")

    # ------------------------------------------------------------- requests
    def _ask(self, node: Node, page: int, planning: bool = False) -> SearchResult:
        result = self.search(node.params, page, self.page_size)
        offer = node.params.get("angebotsart")
        if offer is not None:  # the search items do not say which offer type they are; the query does
            for item in result.items:
                item.setdefault("angebotsart", offer)
        if planning:
            self.stats.planning_requests += 1
        else:
            self.stats.pages += 1
        self._keep(result.items)
        return result

    def _keep(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.seen.add(item["refnr"])
        self.stats.fetched = len(self.seen)

    # ---------------------------------------------------------------- nodes
    def _root(self, root: Node) -> Iterator[list[dict[str, Any]]]:
        """The root is asked every day: its count is the day's planned total, its facets check the plan."""
        first = self._ask(root, 1)
        count = first.max_results or 0
        self.stats.planned += count
        if root.children and count <= self.cap:
            root.split, root.children = None, []
            self.stats.merges += 1
        if not root.children:
            yield from self._leaf(root, first)
            return
        self.stats.pages -= 1  # the page served to check the plan
        self.stats.planning_requests += 1
        yield first.items
        root.count = count
        yield from self._split_node(root, first)

    def _visit_part(self, node: Node, expected: int | None) -> Iterator[list[dict[str, Any]]]:
        """Visit one part; its failure is recorded and the crawl goes on with the next part."""
        try:
            yield from self._visit(node, expected)
        except self.errors as exc:
            self.stats.problems.append(f"query {node.describe()}: {exc}")

    def _visit(self, node: Node, expected: int | None) -> Iterator[list[dict[str, Any]]]:
        if id(node) in self._paged:
            return  # a leaf paged earlier in this run (a repair walks the parts again)
        if node.children and expected is not None and expected <= self.cap:
            node.split, node.children = None, []  # it shrank: one query is cheaper than its parts
            self.stats.merges += 1
        if node.children:
            yield from self._split_node(node, None, expected)
        else:
            yield from self._leaf(node, None, expected)

    def _split_node(self, node: Node, probe: SearchResult | None,
                    expected: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Visit the parts; add the values the plan lacks (from ``probe``'s facets, or from a probe made
        when the parts of a disjoint split add up to less than ``expected``)."""
        split = SPLIT_BY_PARAM[node.split or ""]
        promised: dict[str, int] = {}
        if probe is not None:
            promised = self._adopt(node, split, probe)
        for child in list(node.children):
            yield from self._visit_part(child, promised.get(child.params[split.param]))
        observed = sum(child.count or 0 for child in node.children)
        if probe is None and expected is not None and split.disjoint and observed < expected:
            self.stats.repairs += 1
            probe = self._ask(node, 1, planning=True)
            yield probe.items
            before = list(node.children)  # kept alive: compared by identity below
            promised = self._adopt(node, split, probe)
            for child in node.children:
                value = child.params[split.param]
                fell_short = bool(child.children) and (child.count or 0) < promised.get(value, 0)
                if not any(child is old for old in before) or fell_short:
                    yield from self._visit_part(child, promised.get(value))  # new, or a split that fell short
            observed = sum(child.count or 0 for child in node.children)
        # An overlapping split's parts add up to more than the node: keep the node's own count.
        node.count = observed if split.disjoint else (expected or node.count or observed)

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

    def _leaf(self, node: Node, first: SearchResult | None,
              expected: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Page a query to its end, or split it when it is above the cap.

        When ``maxErgebnisse`` changes between two pages, the list shifted in between; the pages at such
        seams (:meth:`_seams`) are asked again after the pass (``requeried``), round after round while the
        count still moves, ``max_passes`` passes in all.
        """
        result = first if first is not None else self._ask(node, 1)
        count = result.max_results or 0
        if count > self.cap:
            self.stats.planning_requests += 1  # the page served to learn the counts of a split
            self.stats.pages -= 1
            yield result.items
            yield from self._split_here(node, result, count)
            return
        if expected is not None and count > expected:
            self.stats.overlap += count - expected
        yield result.items
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
        if outcome is _SPLIT:
            return  # the parts are leaves now
        node.count = max(counts.values())[1]
        self.stats.leaves += 1
        self._paged[id(node)] = node

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

    def _page(self, node: Node, page: int, counts: dict[int, tuple[int, int]]
              ) -> Generator[list[dict[str, Any]], None, object]:
        """Ask one page of a leaf and note its count; _SPLIT when it grew past the cap, _STOP on a hole."""
        result = self._ask(node, page)
        if not result.items and (page - 1) * self.page_size < (result.max_results or 0):
            result = self._ask(node, page)  # the API answers an empty page under load now and then
            if not result.items and (page - 1) * self.page_size < (result.max_results or 0):
                self.stats.problems.append(f"query {node.describe()}: page {page} came back empty twice though "
                                           f"maxErgebnisse is {result.max_results}")
                return _STOP
        yield result.items
        now = result.max_results if result.max_results is not None else max(counts.values())[1]
        if now > self.cap:
            yield from self._split_here(node, result, now)
            return _SPLIT
        self._clock += 1
        counts[page] = (self._clock, now)
        return None

    def _last_page(self, count: int) -> int:
        return min(math.ceil(count / self.page_size), self.max_pages)

    def _split_here(self, node: Node, result: SearchResult, count: int) -> Iterator[list[dict[str, Any]]]:
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
            return
        node.split, node.children = chosen.param, []
        self.stats.splits += 1
        yield from self._split_node(node, result)

    def _page_capped(self, node: Node) -> Iterator[list[dict[str, Any]]]:
        for page in range(2, self.max_pages + 1):
            result = self._ask(node, page)
            if not result.items:
                break
            yield result.items
        self.stats.leaves += 1
        self._paged[id(node)] = node


_SPLIT, _STOP = object(), object()


def _parts(result: SearchResult, split: Split) -> dict[str, int]:
    """The split's facet in an answer: values with a positive count (a blank value selects nothing)."""
    return {str(k): int(v) for k, v in (result.facets.get(split.facet) or {}).items()
            if str(k).strip() and int(v) > 0}


def lower_bound_pages(open_postings: int, page_size: int = MAX_PAGE_SIZE) -> int:
    """The fewest requests any crawl needs: every posting once, full pages."""
    return math.ceil(open_postings / page_size)
