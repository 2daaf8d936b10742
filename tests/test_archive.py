"""Runs on trees laid out as archives lay them out (:mod:`archive`): UID paths of about 200 characters, TCIA-style
names, non-ASCII names, files without an extension, and enough changed images and groups that every PDF's summary
runs over two pages or more. Then the order in which outputs are written, and what a failure in one costs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pikepdf
import pytest
from archive import build_archive
from conftest import REPO, Tree, faulty_env, run_script, tree_digest

RUNS = [pytest.param("all", False, "off", id="all-single"),
        pytest.param("per_group", True, "off", id="per_group-multiT"),
        pytest.param("all", True, "changed", id="all-multiT-text"),
        pytest.param("per_group", False, "changed", id="per_group-single-text")]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Tree:
    return build_archive(Tree(tmp_path_factory.mktemp("archive")), text=True)


def _text_check_available() -> bool:
    try:
        import rapidocr  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("pages, multi, text", RUNS)
def test_every_output_is_written_and_every_link_lands_on_its_pair(archive, pages, multi, text):
    if text != "off" and not _text_check_available():
        pytest.skip("the text check needs pip install -r requirements-text.txt")
    before = tree_digest(archive.root / "source"), tree_digest(archive.root / "deid")
    run = run_script(archive.config(run_name=f"{pages}-{multi}-{text}", pages=pages, text_check=text), multi=multi)
    assert "Warning" not in run.proc.stderr  # a glyph no font has is said once, in the log
    csv = run.csv
    assert len(csv) == 243 and set(csv.status) == {"changed", "identical"}
    assert max(map(len, csv.deid_file)) >= 190
    assert (run.run_dir / "review.html").exists()
    paged = csv[csv.pdf_page != ""].astype({"pdf_page": int})
    assert set(paged.deid_file) >= set(csv.deid_file[csv.status == "changed"])
    if text != "off":  # the name left in the ultrasound images is found, and its pages come first
        found = csv[csv.phi_match != ""]
        assert len(found) == 3 and set(found.phi_match) == {"PatientName"}
    pdfs = sorted(run.run_dir.glob("comparison_results*.pdf"))
    assert len(pdfs) == (2 if multi else 1)
    for path in pdfs:
        rows = paged[paged.pdf_file == path.name]
        summary_pages = rows.pdf_page.min() - 1
        assert summary_pages >= 2, path.name
        with pikepdf.open(path) as pdf:
            assert len(pdf.pages) == rows.pdf_page.max()
            links = {pdf.pages.index(pikepdf.Page(a.Dest[0])) + 1
                     for page in pdf.pages[:summary_pages] for a in page.obj.get("/Annots", [])}
            # only pair pages linked; the lists stop at their first 40 lines (the outline has every page)
            assert links and links <= set(rows.pdf_page)
            leaves = _bookmarks(pdf)
        # a bookmark for each page, landing where the CSV puts the pair it names (the page's first, per group)
        assert sorted(leaves.values()) == sorted(set(rows.pdf_page))
        page_of = dict(zip(rows.deid_file, rows.pdf_page))
        assert all(page_of[file] == page for file, page in leaves.items())
    if pages == "per_group":  # a group's members share its page, in one PDF
        groups = paged[paged.group_size.astype(int) > 1].groupby("change_group")
        assert all(g.pdf_page.nunique() == 1 and g.pdf_file.nunique() == 1 for _, g in groups)
    assert (tree_digest(archive.root / "source"), tree_digest(archive.root / "deid")) == before


def _bookmarks(pdf: pikepdf.Pdf) -> dict[str, int]:
    """The outline's page bookmarks ("p.N path"), as path -> 1-based page."""
    leaves = {}
    with pdf.open_outline() as outline:
        stack = list(outline.root)
        while stack:
            item = stack.pop()
            stack += item.children
            if item.title.startswith("p."):
                path = item.title.split(" ", 1)[1].split(" (and ")[0]
                leaves[path] = pdf.pages.index(pikepdf.Page(item.destination[0])) + 1
    return leaves


@pytest.fixture
def small_archive(tree) -> Tree:
    return build_archive(tree, blanked_series=2, slices=3, bumped=2, identical=2)


def test_a_pdf_that_cannot_be_written_costs_neither_the_csv_nor_the_review_page(small_archive):
    config = small_archive.config(multiprocessing_cpus="2")
    env = dict(faulty_env("pdf-pages"), SOURCE_DATE_EPOCH="1700000000")
    failed = subprocess.run([sys.executable, str(REPO / "run_DICOMImgCmp_multiT.py"), str(config)],
                            capture_output=True, text=True, cwd=config.parent, env=env, timeout=300)
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the PDF comparison_results_0.pdf and the PDF comparison_results_1.pdf could not "
                           "be written (internal error, see the log in ")
    assert last.endswith("; the CSV, header_actions.csv and review.html are complete")
    run_dir = small_archive.root / "out" / "run"
    csv = pd.read_csv(run_dir / "comparison_summary.csv", keep_default_na=False, dtype=str)
    assert len(csv) == 10 and (csv.status == "changed").sum() == 8
    assert set(csv.pdf_file[csv.status == "changed"]) == {"comparison_results_0.pdf", "comparison_results_1.pdf"}
    assert "changed" in (run_dir / "review.html").read_text(encoding="utf-8")
    assert not list(run_dir.glob("*.pdf")) and not list(run_dir.glob(".*.partial"))
    log = (small_archive.root / "logs" / "imgCmpLog.log").read_text(encoding="utf-8")
    assert "the PDF comparison_results_0.pdf could not be written" in log
    assert "RuntimeError: fault injected by the test (pdf-pages)" in log  # the traceback is in the log

    again = run_script(config, multi=True)  # the same command again: the PDFs, nothing compared again
    assert "Reused from an earlier run of this run_name: 20 headers, 10 comparisons" in again.proc.stdout
    assert sorted(p.name for p in run_dir.glob("*.pdf")) == ["comparison_results_0.pdf", "comparison_results_1.pdf"]
    assert again.csv.equals(csv)


def test_pages_that_cannot_be_numbered_leave_the_csv_without_page_numbers(small_archive):
    config = small_archive.config()
    proc = subprocess.run([sys.executable, str(REPO / "run_DICOMImgCmp.py"), str(config)], capture_output=True,
                          text=True, cwd=config.parent, env=faulty_env("pdf-plan"), timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: the PDFs (their pages could not be numbered) could not be written")
    assert proc.stderr.strip().endswith(
        "the CSV (without page numbers), header_actions.csv and review.html are complete")
    csv = pd.read_csv(small_archive.root / "out" / "run" / "comparison_summary.csv", keep_default_na=False, dtype=str)
    assert len(csv) == 10 and set(csv.pdf_page) == {""} and set(csv.pdf_file) == {""}


def test_a_second_run_of_a_run_folder_is_refused_while_the_first_runs(small_archive):
    config = small_archive.config()
    script = str(REPO / "run_DICOMImgCmp_multiT.py")
    first = subprocess.Popen([sys.executable, script, str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=config.parent, env=faulty_env("slow:0.5"), start_new_session=True)
    log = small_archive.root / "logs" / "imgCmpLog.log"
    deadline = time.monotonic() + 60
    while not (log.exists() and "indexed" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        second = subprocess.run([sys.executable, script, str(config)], capture_output=True, text=True,
                                cwd=config.parent, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"is in use by another run (process {first.pid}, started " in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # killed outright: the kernel releases its lock
        first.communicate(timeout=60)
    run_script(config, multi=True)  # no stale lock
    assert Path(small_archive.root / "out" / "run" / "comparison_results_1.pdf").exists()
