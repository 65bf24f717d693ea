"""Dagster's UI in a headless browser (`make check-ui`, after `make run`): starts `tyctl dev` on a free port over
the same data, then checks what a new user looks at first:

- the global lineage page lists every asset of the definitions (each group expanded in its sidebar);
- the partitions page of each daily asset shows only days with data: from the first day of data
  (TY_PARTITIONS_START, or what `tyctl run` recorded) to today, nothing before, every one materialised.

Screenshots of each page go to TY_DATA_DIR/ui-check/. Exit code 0 when every check passes, 1 otherwise.

The browser is Playwright's own Chromium when `playwright install chromium` has fetched it, else a Chromium or
Chrome on the PATH (Debian: `apt-get install chromium`), else TY_BROWSER (a path). It is not part of `make test`:
a clean machine has no browser, and the suite must not depend on one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import requests

from ty_resources.germany import BERLIN
from ty_resources.settings import get_settings

START_TIMEOUT_S = 180
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_path() -> str | None:
    """TY_BROWSER, else None when Playwright has its own Chromium, else one on the PATH."""
    if os.environ.get("TY_BROWSER"):
        return os.environ["TY_BROWSER"]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        if Path(p.chromium.executable_path).exists():
            return None
    for name in BROWSERS:
        if found := shutil.which(name):
            return found
    raise SystemExit("no browser: run `.venv/bin/playwright install chromium`, install Chromium (Debian: "
                     "`apt-get install chromium`) or set TY_BROWSER to one")


def start_dev(port: int) -> subprocess.Popen:
    tyctl = Path(sys.executable).with_name("tyctl")
    dev = subprocess.Popen([str(tyctl), "dev", "--port", str(port)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if dev.poll() is not None:
            raise SystemExit(f"tyctl dev exited with {dev.returncode} before it served")
        try:
            if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                return dev
        except requests.RequestException:
            pass
        time.sleep(1)
    stop_dev(dev)
    raise SystemExit(f"tyctl dev did not serve within {START_TIMEOUT_S} s")


def stop_dev(dev: subprocess.Popen) -> None:
    if dev.poll() is None:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()


def check(base: str, shots: Path, executable: str | None) -> list[str]:
    """The problems found (empty: all checks passed)."""
    from playwright.sync_api import sync_playwright

    from ty_assets.definitions import defs
    from ty_assets.partitions import daily_partitions

    graph = defs.resolve_asset_graph()
    assets = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    groups = sorted({graph.get(key).group_name for key in graph.get_all_asset_keys()}, reverse=True)
    daily = sorted(key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).partitions_def)
    first = date.fromisoformat(daily_partitions.start.strftime("%Y-%m-%d"))
    today = datetime.now(BERLIN).date()
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/asset-groups", wait_until="networkidle", timeout=60_000)
        if (skip := page.get_by_role("button", name="Skip")).count():  # Dagster's community dialog
            skip.click()
        for group in groups:  # from the bottom: expanding one moves those below it
            box = page.get_by_text(group, exact=True).first.bounding_box()
            if box is None:
                problems.append(f"lineage: group {group} not shown")
                continue
            page.mouse.click(box["x"] - 40, box["y"] + box["height"] / 2)  # its caret
            page.wait_for_timeout(400)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(shots / "lineage.png"))
        shown = set(page.inner_text("body").split())
        if missing := [a for a in assets if a not in shown]:
            problems.append(f"lineage: not listed: {', '.join(missing)}")
        print(f"lineage: {len(assets) - len(missing)} of {len(assets)} assets listed")

        days = (today - first).days + 1
        for asset in daily:
            page.goto(f"{base}/assets/{asset}?view=partitions", wait_until="networkidle", timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shots / f"partitions_{asset}.png"))
            text = page.inner_text("body")
            before = (first - timedelta(days=1)).isoformat()
            if f"{days} Partitions" not in text:
                problems.append(f"{asset}: expected {days} partitions ({first} to {today}) on its partitions page")
            if first.isoformat() not in text or before in text:
                problems.append(f"{asset}: the partitions do not start on {first}")
            if f"Materialized ({days})" not in text:  # every day shown has data (after `make run`)
                problems.append(f"{asset}: not every partition shown is materialised")
            print(f"{asset}: partitions page checked ({first} to {today})")
        browser.close()
    return problems


def main() -> int:
    settings = get_settings()
    shots = settings.data_dir / "ui-check"
    shots.mkdir(parents=True, exist_ok=True)
    executable = browser_path()
    port = free_port()
    # stopped by SIGTERM (a CI timeout) too: the finally below stops `tyctl dev`, or its daemon would stay
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    dev = start_dev(port)
    try:
        problems = check(f"http://127.0.0.1:{port}", shots, executable)
    finally:
        stop_dev(dev)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    print(f"screenshots in {shots}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
