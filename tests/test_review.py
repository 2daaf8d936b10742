"""The review page in a real headless browser: Chromium from the system's packages, driven by Playwright.

``.ci/run`` installs both; where Chromium cannot be had the browser tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_script
from helpers import add, blank, series_slice

CHROMIUM = os.environ.get("DICOMIMGCMP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed "
                                                               "(pip install -r requirements-test.txt)")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no Chromium on this machine (apt-get install chromium)")
# A sandboxed, closed machine: no sandbox for root, and none of Chromium's own calls home.
_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        yield chromium
        chromium.close()


class Review:
    """review.html opened from disk; every request the page makes is recorded."""

    def __init__(self, browser, run_dir: Path, downloads: Path) -> None:
        self.run_dir = run_dir
        self.context = browser.new_context(accept_downloads=True)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto((run_dir / "review.html").as_uri())
        self.downloads = downloads

    def column(self, header: str) -> list[str]:
        headers = self.page.locator("#rows thead th").all_inner_texts()
        col = [h.strip(" ▲▼") for h in headers].index(header)
        return self.page.locator(f"#rows tbody tr td:nth-child({col + 1})").all_inner_texts()

    def card(self, group: str):
        return self.page.locator(f".group[data-group='{group}']")

    def export(self) -> pd.DataFrame:
        with self.page.expect_download() as info:
            self.page.click("#export")
        download = info.value
        assert download.suggested_filename == "review_decisions.csv"
        path = self.downloads / "review_decisions.csv"
        download.save_as(path)
        return pd.read_csv(path, keep_default_na=False, dtype=str)


def test_filter_sort_decide_export_and_carry_over(grouped, browser, tmp_path):
    run = run_script(grouped.config(), multi=False)
    csv = run.csv
    changed = csv[csv.status == "changed"]
    review = Review(browser, run.run_dir, tmp_path)
    page = review.page

    assert page.locator(".group").count() == changed.change_group.nunique()
    first = page.locator(".group").first
    band = csv.set_index("deid_file").loc["ct/s0.dcm", "change_group"]
    assert first.get_attribute("data-group") == band, "largest group first"
    assert "on 6 of 9 images" in first.inner_text()
    for img in page.locator(".group img").all():  # every thumbnail is a real PNG beside the page
        assert page.evaluate("(img) => img.naturalWidth", img.element_handle()) > 0

    assert len(review.column("file")) == len(csv)
    page.select_option("#status-filter", "identical")
    assert review.column("file") == sorted(csv[csv.status == "identical"].deid_file)
    page.select_option("#status-filter", "changed")
    assert sorted(review.column("file")) == sorted(changed.deid_file)
    page.click("#rows th:has-text('changed pixels')")
    pixels = [int(v) for v in review.column("changed pixels")]
    assert pixels == sorted(pixels) and pixels[0] < pixels[-1]
    page.click("#rows th:has-text('changed pixels')")
    assert [int(v) for v in review.column("changed pixels")] == sorted(pixels, reverse=True)
    page.select_option("#status-filter", "")
    page.fill("#text-filter", "ct2/")
    assert sorted(review.column("file")) == ["ct2/s0.dcm", "ct2/s1.dcm"]

    crop = csv.set_index("deid_file").loc["ct/s7.dcm", "change_group"]
    review.card(band).locator("input[value=accept]").check()
    review.card(band).locator("textarea").fill('band over the name, "as agreed"')
    review.card(crop).locator("input[value=reject]").check()
    assert "2 of" in page.inner_text("#decided")
    decisions = review.export()
    assert decisions.set_index("change_group").to_dict("index") == {
        band: {"decision": "accept", "note": 'band over the name, "as agreed"'},
        crop: {"decision": "reject", "note": ""}}
    page.reload()  # kept in the browser
    assert review.card(band).locator("input[value=accept]").is_checked()

    assert not review.errors
    outside = [url for url in review.requests if not url.startswith(run.run_dir.as_uri() + "/")]
    assert outside == [], "the page must not request anything but its own folder's files"
    review.context.close()

    # the recipe changes for series ct2: its change is new; the others keep their decisions
    for k in range(2):
        add(grouped, f"ct2/s{k}.dcm", series_slice("CT_small.dcm", "ct2", k), lambda a: blank(a)[:, 4:].copy())
    kept = tmp_path / "decisions.csv"
    shutil.copy(tmp_path / "review_decisions.csv", kept)
    rerun = run_script(grouped.config(run_name="second", review_decisions=str(kept)), multi=False)
    second = Review(browser, rerun.run_dir, tmp_path)
    assert second.card(band).locator("input[value=accept]").is_checked()
    assert "carried over" in second.card(band).inner_text()
    assert second.card(band).locator("textarea").input_value() == 'band over the name, "as agreed"'
    new = rerun.csv.set_index("deid_file").loc["ct2/s0.dcm", "change_group"]
    assert new != csv.set_index("deid_file").loc["ct2/s0.dcm", "change_group"]
    assert "new" in second.card(new).inner_text()
    second.page.select_option("#group-filter", "undecided")
    visible = [g for g in second.page.locator(".group").all() if g.is_visible()]
    assert band not in {g.get_attribute("data-group") for g in visible}
    assert new in {g.get_attribute("data-group") for g in visible}
    log = (grouped.root / "logs" / "imgCmpLog.log").read_text()
    assert "review_decisions: 2 of 5 change groups keep an earlier decision; 3 are new" in log
    second.context.close()


def test_long_archive_paths_wrap_inside_their_cards_and_a_missing_thumbnail_says_why(tree, browser, tmp_path):
    from archive import build_archive

    build_archive(tree, blanked_series=2, slices=2, bumped=1, identical=1)
    run = run_script(tree.config(), multi=False)
    assert max(map(len, run.csv.deid_file)) >= 190
    (run.run_dir / "review" / f"{run.csv.change_group[run.csv.change_group != ''].iloc[0]}.png").unlink()
    review = Review(browser, run.run_dir, tmp_path)
    review.page.set_viewport_size({"width": 1400, "height": 900})
    for card in review.page.locator(".group").all():
        outer, text = card.bounding_box(), card.locator(".muted").bounding_box()
        assert text["x"] + text["width"] <= outer["x"] + outer["width"], "a path runs off its card"
    assert review.page.locator(".group:has-text('no thumbnail: its PDF was not written')").count() == 1
    page_width = review.page.evaluate("document.documentElement.clientWidth")
    assert review.page.evaluate("document.documentElement.scrollWidth") <= page_width  # nothing runs off the page
    assert not review.errors
    review.context.close()


def test_recipe_verdict_and_header_identity_columns_filter_the_table(tree, browser, tmp_path):
    """With a recipe and the header check, the table has both columns and both filters, and they filter it."""
    from helpers import id_in_private, pair_cleaned, source_with_identity

    (tree.root / "boxes.csv").write_text('Manufacturer,ManufacturerModelName,Rows,Columns,box\n,,,,"0,0,128,8"\n')
    for k in range(3):  # CT_small: the band blanked as the table says; the third also a pixel outside it
        def plant(deid, src, k=k):
            arr = src.pixel_array.copy()
            arr[:8] = 0
            arr[50, 50] += 1 if k == 2 else 0
            deid.PixelData = arr.tobytes()
            if k == 1:
                id_in_private(deid, src)
        pair_cleaned(tree, f"p{k}", source_with_identity("CT_small.dcm", f"review-{k}"), plant)
    run = run_script(tree.config(recipe="boxes.csv"))
    review = Review(browser, run.run_dir, tmp_path)
    page = review.page
    assert review.errors == []
    verdicts = dict(zip(review.column("file"), review.column("recipe verdict")))
    assert verdicts == dict(zip(run.csv.deid_file, run.csv.recipe_verdict))
    assert set(verdicts.values()) == {"as_recipe", "changed_outside"}
    page.select_option("#verdict-filter", "changed_outside")
    assert review.column("file") == ["p2"]
    page.select_option("#verdict-filter", "")
    page.select_option("#header-filter", "found")
    assert review.column("file") == ["p1"] and "PatientID@(0011,1010)" in review.column("identity in header")[0]
    page.select_option("#header-filter", "none")
    assert sorted(review.column("file")) == ["p0", "p2"]
    assert "Identity found in headers: 1 file" in page.inner_text("body")
