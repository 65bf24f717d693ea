"""The generated offline snapshot of the BA job search API: determinism, fates, shapes, noise, files."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from ty_resources.sample import ABROAD, GENDER_MARKERS, HEAD_PROFESSIONS, LAENDER_POPULATION, generate_snapshot
from ty_resources.snapshot import SNAPSHOT_FORMAT, Snapshot, SnapshotError

N = 2_000
DAYS = 4
END = date(2026, 3, 10)
ARGS = {"seed": 11, "days": DAYS, "postings": N, "end_date": END}


@pytest.fixture(scope="module")
def snap(catalogue) -> Snapshot:
    return generate_snapshot(catalogue, **ARGS)


@pytest.fixture(scope="module")
def professions(catalogue):
    return {p.berufenet_id: p for p in catalogue.professions}


def presence(snap: Snapshot) -> dict[str, list[bool]]:
    days = {day: set(refnrs) for day, refnrs in snap.days.items()}
    return {refnr: [refnr in days[day] for day in snap.day_keys] for refnr in snap.postings}


# ---------------------------------------------------------------- determinism


def test_same_arguments_give_identical_json_and_another_seed_differs(catalogue, snap):
    again = generate_snapshot(catalogue, **ARGS)
    assert again.to_json() == snap.to_json()
    other = generate_snapshot(catalogue, **{**ARGS, "seed": 12})
    assert other.to_json() != snap.to_json()
    assert set(other.postings) != set(snap.postings)


def test_identical_across_processes_with_other_string_hash_seeds(catalogue):
    code = (
        "import hashlib, datetime\n"
        "from ty_resources.kldb import read_kldb\n"
        "from ty_resources.sample import generate_snapshot\n"
        "s = generate_snapshot(read_kldb(), seed=5, days=3, postings=300, end_date=datetime.date(2026, 1, 31))\n"
        "print(hashlib.sha256(s.to_json()).hexdigest())\n"
    )
    here = hashlib.sha256(
        generate_snapshot(catalogue, seed=5, days=3, postings=300, end_date=date(2026, 1, 31)).to_json()
    ).hexdigest()
    root = Path(__file__).resolve().parents[2]
    for hash_seed in ("1", "4242"):
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert out.stdout.strip() == here


def test_arguments_are_checked(catalogue):
    with pytest.raises(ValueError):
        generate_snapshot(catalogue, days=0, postings=10, end_date=END)
    with pytest.raises(ValueError):
        generate_snapshot(catalogue, days=2, postings=0, end_date=END)
    with pytest.raises(ValueError):
        generate_snapshot(catalogue, days=2, postings=10, end_date=END, beruf_share=1.5)


# --------------------------------------------------------------------- counts


def test_meta(snap, catalogue):
    meta = snap.meta
    assert meta["format"] == SNAPSHOT_FORMAT
    assert meta["seed"] == 11 and meta["postings"] == N and meta["beruf_share"] == 0.6
    assert meta["catalogue_version"] == catalogue.version
    assert meta["days"] == snap.day_keys == [(END - timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    assert sum(meta["title_kinds"].values()) == N


def test_distinct_postings_as_requested_all_listed(snap):
    assert len(snap.postings) == N
    listed = {refnr for refnrs in snap.days.values() for refnr in refnrs}
    assert listed == set(snap.postings)
    assert all(item["refnr"] == refnr for refnr, item in snap.postings.items())
    assert all(re.fullmatch(r"\d{5}-\d{10}-S", refnr) for refnr in snap.postings)


def test_first_day_pool_and_later_arrivals(snap):
    first = snap.day_keys[0]
    assert len(set(snap.days[first])) == round(0.4 * N)
    on = presence(snap)
    arrivals = Counter(next(i for i, here in enumerate(days) if here) for days in on.values())
    assert all(arrivals[i] > 0.1 * N / (DAYS - 1) for i in range(1, DAYS))


def test_day_lists_repeat_a_few_refnrs_elsewhere(snap):
    for day in snap.day_keys:
        refnrs = snap.days[day]
        repeats = len(refnrs) - len(set(refnrs))
        assert 1 <= repeats <= max(2, 0.01 * len(refnrs)), day
        assert all(a != b for a, b in zip(refnrs, refnrs[1:])), "a repeat sits right next to its original"
    assert snap.meta["duplicates"] == sum(len(r) - len(set(r)) for r in snap.days.values())


def test_items_for_keeps_order_and_duplicates(snap):
    day = snap.day_keys[1]
    items = snap.items_for(day)
    assert [item["refnr"] for item in items] == snap.days[day]
    with pytest.raises(KeyError, match="1999-01-01.*not in the snapshot"):
        snap.items_for("1999-01-01")


def test_postings_vanish_for_a_while_or_for_good(snap):
    on = presence(snap)
    comeback = [r for r, days in on.items() if "".join("x" if d else "." for d in days).strip(".").count(".")]
    gone = [r for r, days in on.items() if any(days) and not days[-1]]
    assert 0.02 * N <= len(comeback) <= 0.04 * N
    assert len(comeback) == snap.meta["reappearing"]
    assert len(gone) > 0.1 * N


def test_single_day(catalogue):
    one = generate_snapshot(catalogue, seed=3, days=1, postings=50, end_date=END)
    assert one.day_keys == [END.isoformat()]
    assert len(set(one.days[END.isoformat()])) == 50


# ---------------------------------------------------------------------- shape


def test_items_have_the_api_shape(snap):
    first_seen = {}
    for day in snap.day_keys:
        for refnr in snap.days[day]:
            first_seen.setdefault(refnr, day)
    laender = set(LAENDER_POPULATION)
    for refnr, item in snap.postings.items():
        assert isinstance(item["titel"], str) and item["titel"].strip()
        assert item["arbeitgeber"] and item["hashId"].endswith("=") and len(item["hashId"]) == 44
        published = item["aktuelleVeroeffentlichungsdatum"]
        assert date.fromisoformat(first_seen[refnr]) - timedelta(days=30) <= date.fromisoformat(published)
        assert published <= first_seen[refnr]
        assert datetime.fromisoformat(item["modifikationsTimestamp"]).date() >= date.fromisoformat(published)
        if "eintrittsdatum" in item:
            assert item["eintrittsdatum"] >= published
        place = item["arbeitsort"]
        assert place["ort"] and place["land"]
        assert isinstance(place["plz"], str) and place["plz"].isdigit()
        assert isinstance(place["koordinaten"]["lat"], float) and isinstance(place["koordinaten"]["lon"], float)
        if place["land"] == "Deutschland":
            assert len(place["plz"]) == 5
            assert place.get("region", "Berlin") in laender
        else:
            assert place["land"] in {"Österreich", "Schweiz", "Niederlande"}
    assert 0.2 < sum("externeUrl" in i for i in snap.postings.values()) / N < 0.4
    assert 0.3 < sum("eintrittsdatum" in i for i in snap.postings.values()) / N < 0.6


def test_details_for_most_postings(snap, catalogue, professions):
    assert 0.95 * N <= len(snap.details) <= 0.99 * N
    codes = {c.code: c for c in catalogue.codes}
    with_activity = 0
    for refnr, detail in snap.details.items():
        item = snap.postings[refnr]
        assert detail["referenznummer"] == refnr
        assert detail["stellenangebotsTitel"] == item["titel"]
        assert detail["arbeitgeber"] == item["arbeitgeber"]
        assert detail["arbeitsorte"] == [item["arbeitsort"]]
        assert detail["aktuelleVeroeffentlichungsdatum"] == item["aktuelleVeroeffentlichungsdatum"]
        text = detail["stellenangebotsBeschreibung"]
        assert text.startswith("<p>") and "<ul><li>" in text and "<b>" in text
        assert "& " not in text  # entities, never a bare ampersand
        code = professions[snap.truth[refnr]].kldb_code
        activity = (codes[code].description or codes[code[:4]].description).splitlines()
        if any(line[1:40] in text for line in activity if len(line) > 40):
            with_activity += 1
    assert with_activity > 0.9 * len(snap.details)
    assert sum("&amp;" in d["stellenangebotsBeschreibung"] for d in snap.details.values()) > 0.3 * len(snap.details)


def test_truth_names_catalogue_professions(snap, professions):
    assert set(snap.truth) == set(snap.postings)
    assert all(berufenet_id in professions for berufenet_id in snap.truth.values())


def test_some_professions_far_more_common_than_others(snap, professions):
    counts = Counter(snap.truth.values())
    top = counts.most_common(1)[0][1]
    assert top >= 0.02 * N
    assert len(counts) > 0.2 * N  # a long tail
    assert sum(1 for name in HEAD_PROFESSIONS if name in {p.name for p in professions.values()}) >= 80
    levels = Counter(professions[b].level for b in snap.truth.values())
    assert levels.most_common(1)[0][0] == 2


# --------------------------------------------------------------------- titles


def test_gender_markers_and_noise_in_titles(snap):
    titles = [item["titel"] for item in snap.postings.values()]
    with_marker = [t for t in titles if any(m in t for m in GENDER_MARKERS)]
    assert 0.75 < len(with_marker) / N < 0.95
    for marker in GENDER_MARKERS:
        assert any(marker in t for t in titles), marker
    for noise in ("Vollzeit", "Teilzeit", "ab sofort", "Schicht", "für unseren Standort", " | ", "Senior", "Junior"):
        assert any(noise in t for t in titles), noise


def test_vague_and_misspelt_titles(snap, professions):
    kinds = snap.meta["title_kinds"]
    assert 0.035 < kinds["vague"] / N < 0.07
    assert 0.01 < kinds["typo"] / N < 0.03
    vague = re.compile(r"^(Mitarbeiter|Helfer|Aushilfe|Sachbearbeiter|Allrounder|Quereinsteiger|"
                       r"Produktionsmitarbeiter|Fachkraft|Kraft|Teamverstärkung)\b")
    vague_titles = [r for r, item in snap.postings.items()
                    if vague.match(item["titel"]) and len(item["titel"].split()) <= 4
                    and not professions[snap.truth[r]].name_male.startswith(item["titel"].split()[0])]
    assert len(vague_titles) >= 0.5 * kinds["vague"]
    assert any(snap.postings[r]["titel"] in {"Helfer (m/w/d)", "Aushilfe (m/w/d)"} for r in vague_titles)
    assert all(set(kinds_examples) <= {item["titel"] for item in snap.postings.values()}
               for kinds_examples in snap.meta["title_examples"].values())


def test_most_titles_name_the_profession(snap, professions):
    def stem(name: str) -> str:
        return re.split(r"[\s/(*:]", name)[0].casefold()

    named = sum(
        1 for refnr, item in snap.postings.items()
        if stem(professions[snap.truth[refnr]].name_male) in item["titel"].casefold()
        or stem(professions[snap.truth[refnr]].name_female) in item["titel"].casefold()
    )
    assert named > 0.85 * N


# ---------------------------------------------------------------------- beruf


def test_beruf_share_and_value(snap, professions, catalogue):
    with_beruf = [r for r, item in snap.postings.items() if "beruf" in item]
    assert abs(len(with_beruf) / N - 0.6) < 0.04
    assert all(snap.postings[r]["beruf"] == professions[snap.truth[r]].name for r in with_beruf)
    none = generate_snapshot(catalogue, seed=2, days=2, postings=200, end_date=END, beruf_share=0.0)
    every = generate_snapshot(catalogue, seed=2, days=2, postings=200, end_date=END, beruf_share=1.0)
    assert not any("beruf" in i for i in none.postings.values())
    assert all("beruf" in i for i in every.postings.values())


# --------------------------------------------------------------------- places


def test_laender_follow_population(snap):
    places = [item["arbeitsort"] for item in snap.postings.values()]
    by_land = Counter(p["region"] for p in places if p["land"] == "Deutschland" and "region" in p)
    assert set(by_land) == set(LAENDER_POPULATION)
    ranked = [land for land, _ in by_land.most_common()]
    assert ranked[0] == "Nordrhein-Westfalen"
    assert "Bremen" in ranked[-3:]
    total = sum(by_land.values())
    population = sum(LAENDER_POPULATION.values())
    for land, people in LAENDER_POPULATION.items():
        expected = people / population
        assert 0.5 * expected < by_land[land] / total < 1.6 * expected, land
    abroad = [p for p in places if p["land"] != "Deutschland"]
    unknown = [p for p in places if p["land"] == "Deutschland" and "region" not in p]
    assert 0.003 * N <= len(abroad) <= 0.025 * N
    assert 0.001 * N <= len(unknown) <= 0.015 * N
    assert {p["ort"] for p in abroad} <= {a[2] for a in ABROAD}


def test_some_employers_post_many_jobs(snap):
    counts = Counter(item["arbeitgeber"] for item in snap.postings.values())
    assert counts.most_common(1)[0][1] >= 20
    assert len(counts) > 100


# ---------------------------------------------------------------------- files


@pytest.mark.parametrize("name", ["snap.json", "snap.json.gz"])
def test_save_load_round_trip(snap, tmp_path, name):
    path = tmp_path / name
    snap.save(path)
    data = path.read_bytes()
    assert (data[:2] == b"\x1f\x8b") == name.endswith(".gz")
    loaded = Snapshot.load(path)
    assert loaded.to_json() == snap.to_json()
    assert loaded.day_keys == snap.day_keys
    assert loaded.items_for(snap.day_keys[-1]) == snap.items_for(snap.day_keys[-1])
    snap.save(path)  # again: same bytes (no time stamp in the gzip header), no temp files left
    assert path.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_load_accepts_a_minimal_hand_made_snapshot(tmp_path):
    path = tmp_path / "hand.json"
    item = {"refnr": "A", "titel": "Lagerhelfer (m/w/d)", "arbeitsort": {"ort": "Berlin", "region": "Berlin"}}
    path.write_text(json.dumps({"meta": {"format": SNAPSHOT_FORMAT}, "postings": {"A": item},
                                "days": {"2026-01-02": ["A", "A"]}}))
    loaded = Snapshot.load(path)
    assert loaded.details == {} and loaded.truth == {}
    assert [i["refnr"] for i in loaded.items_for("2026-01-02")] == ["A", "A"]


def _write(path: Path, body) -> Path:
    path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())
    return path


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not JSON"),
        (gzip.compress(b'{"meta": {"format": "ty-ba-snapshot/1"}}', mtime=0)[:20], "damaged gzip"),
        ([1, 2], "expected a JSON object"),
        ({"postings": {}, "days": {}}, "no 'meta'"),
        ({"meta": {"format": "other/9"}, "postings": {}, "days": {}}, "format 'other/9' is not supported"),
        ({"meta": {"format": SNAPSHOT_FORMAT}, "postings": [], "days": {}}, "'postings' must be an object"),
        ({"meta": {"format": SNAPSHOT_FORMAT}, "postings": {"A": {"refnr": "B"}}, "days": {}}, "posting 'A'"),
        ({"meta": {"format": SNAPSHOT_FORMAT}, "postings": {}, "days": {"2026-01-02": ["X"]}}, "lists 'X'"),
        ({"meta": {"format": SNAPSHOT_FORMAT}, "postings": {}, "days": {"tomorrow": []}}, "not an ISO date"),
        ({"meta": {"format": SNAPSHOT_FORMAT}, "postings": {}, "days": {}, "truth": {"Z": "1"}}, "'truth' has 'Z'"),
    ],
)
def test_load_of_a_broken_file_names_path_and_problem(tmp_path, body, problem):
    path = _write(tmp_path / "broken.json.gz", body)
    with pytest.raises(SnapshotError, match=re.escape(problem)) as info:
        Snapshot.load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_load_of_a_missing_file(tmp_path):
    with pytest.raises(SnapshotError, match="cannot read"):
        Snapshot.load(tmp_path / "nope.json.gz")
