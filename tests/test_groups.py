"""Change groups and the navigable PDF, on series built from pydicom's real CT and ultrasound files.

A series here is one real image made into slices (each slice different: the values shifted and rolled), all with
one SeriesInstanceUID; the de-identification blanks a band as a real recipe would.
"""

from __future__ import annotations

import pikepdf
import pytest
from conftest import pdf_pages, run_script, summary_pages
from helpers import add, blank, page_text, series, series_slice


def _groups(run) -> dict[str, str]:
    changed = run.csv[run.csv.status == "changed"]
    return dict(zip(changed.deid_file, changed.change_group))


def test_one_change_on_a_series_is_one_group_even_where_masks_have_holes(grouped):
    run = run_script(grouped.config(), multi=False)
    groups, csv = _groups(run), run.csv.set_index("deid_file")
    band = {groups[f"ct/s{k}.dcm"] for k in range(6)}
    assert len(band) == 1, "the same band on every slice is one change"
    assert int(csv.loc["ct/s2.dcm", "changed_pixels"]) < int(csv.loc["ct/s0.dcm", "changed_pixels"])  # holes
    assert csv.loc["ct/s0.dcm", "group_size"] == "6"
    own = {groups["ct/s6.dcm"], groups["ct/s7.dcm"]}
    assert len(own) == 2 and not own & band, "an extra change and a crop are other changes"
    assert csv.loc["ct/s6.dcm", "group_size"] == csv.loc["ct/s7.dcm", "group_size"] == "1"
    assert groups["ct2/s0.dcm"] == groups["ct2/s1.dcm"] not in band, "groups are per series"
    assert csv.loc["ct/s8.dcm", "status"] == "identical"
    assert csv.loc["ct/s8.dcm", "change_group"] == csv.loc["ct/s8.dcm", "group_size"] == ""
    assert _groups(run_script(grouped.config(run_name="again"), multi=False)) == groups, "ids are stable"


def test_a_crop_and_a_band_are_different_groups_and_a_crop_series_is_one(tree):
    for k in range(3):
        add(tree, f"crop{k}.dcm", series_slice("CT_small.dcm", "c", k), lambda a: a[10:, 5:].copy())
    for k in range(3, 5):
        add(tree, f"band{k}.dcm", series_slice("CT_small.dcm", "c", k), lambda a: blank(a)[10:, 5:].copy())
    groups = _groups(run_script(tree.config(), multi=False))
    assert len({groups[f"crop{k}.dcm"] for k in range(3)}) == 1
    assert len({groups[f"band{k}.dcm"] for k in range(3, 5)}) == 1
    assert groups["crop0.dcm"] != groups["band3.dcm"]


def _outline(pdf: pikepdf.Pdf) -> list[tuple[int, list[str], int]]:
    """(depth, path of titles, 0-based page) of every outline item."""
    pages = {page.obj.objgen: i for i, page in enumerate(pdf.pages)}
    found = []

    def walk(items, path):
        for item in items:
            found.append((len(path), path + [item.title], pages[item.destination[0].objgen]))
            walk(item.children, path + [item.title])

    with pdf.open_outline() as outline:
        walk(outline.root, [])
    return found


def _link_targets(pdf: pikepdf.Pdf, page_index: int) -> list[int]:
    pages = {page.obj.objgen: i for i, page in enumerate(pdf.pages)}
    return [pages[a.Dest[0].objgen] + 1 for a in pdf.pages[page_index].obj.get("/Annots", [])]


@pytest.mark.parametrize("pages", ["all", "per_group"])
def test_pages_in_the_csv_match_the_pdf_its_outline_and_links(grouped, pages):
    run = run_script(grouped.config(pages=pages), multi=False)
    changed = run.csv[run.csv.status == "changed"]
    n_groups = changed.change_group.nunique()
    pdf_path = run.run_dir / "comparison_results.pdf"
    with pikepdf.open(pdf_path) as pdf:
        n_summary = len(pdf.pages) - (n_groups if pages == "per_group" else len(changed))
        assert n_summary >= 1 and len(pdf.pages) == pdf_pages(pdf_path)
        if pages == "per_group":
            assert changed.groupby("change_group").pdf_page.nunique().eq(1).all()
        else:
            assert changed.pdf_page.is_unique
        leaves = {path[-1]: page for depth, path, page in _outline(pdf) if depth == 3}
        assert len(leaves) == len(pdf.pages) - n_summary
        for row in changed.itertuples():
            page = int(row.pdf_page)
            text = page_text(pdf, page - 1)
            assert f"page {page} of {len(pdf.pages)}" in text
            if f"De-identified: {row.deid_file}" in text:  # the member shown on its page
                assert leaves[next(t for t in leaves if t.startswith(f"p.{page} {row.deid_file}"))] == page - 1
            else:
                assert pages == "per_group" and f"group {row.change_group}" in text
        targets = [t for i in range(n_summary) for t in _link_targets(pdf, i)]
        assert set(targets) == set(changed.pdf_page.astype(int))
        summary = "".join(page_text(pdf, i) for i in range(n_summary))
        assert "Changes shared by several images" in summary
        assert "on all 6" not in summary and "on 6 of 9 images" in summary and "on all 2 images" in summary


def test_a_group_page_says_how_many_members_it_stands_for_and_how_they_differ(grouped):
    run = run_script(grouped.config(pages="per_group"), multi=False)
    row = run.row("ct/s0.dcm")
    with pikepdf.open(run.run_dir / "comparison_results.pdf") as pdf:
        text = page_text(pdf, int(row.pdf_page) - 1).replace("\n", " ")
    assert "this page stands for 6 of them" in " ".join(text.split())
    said = " ".join(text.split())
    holes = 3 * 128 + 4 * 20  # where slice 2's source already held 0: along the band's edge and inside it
    shown_has_holes = "De-identified: ct/s2.dcm" in said  # the page shows the group's first member
    assert f"{5 if shown_has_holes else 1} changed other pixels than the one shown (by up to {holes} pixels)" in said


def test_multit_parts_keep_groups_whole_each_with_its_outline(grouped):
    run = run_script(grouped.config(pages="per_group", multiprocessing_cpus="3"), multi=True)
    changed = run.csv[run.csv.status == "changed"]
    assert changed.groupby("change_group").pdf_file.nunique().eq(1).all()
    for name in changed.pdf_file.unique():
        with pikepdf.open(run.run_dir / name) as pdf:
            leaves = [page for depth, _path, page in _outline(pdf) if depth == 3]
            assert sorted(leaves) == sorted(int(p) - 1 for p in
                                            changed[changed.pdf_file == name].drop_duplicates("change_group").pdf_page)


def test_a_bad_decisions_file_exits_2_naming_the_line(tree):
    series(tree, n=1)
    bad = tree.root / "decisions.csv"
    bad.write_text("change_group,decision,note\nabc,maybe,\n")
    run = run_script(tree.config(review_decisions="decisions.csv"), multi=False, check=False)
    assert run.proc.returncode == 2
    assert "review_decisions" in run.proc.stderr and "line 2" in run.proc.stderr and "maybe" in run.proc.stderr
    assert not run.run_dir.exists()


@pytest.mark.parametrize("pages", ["all", "per_group"])
def test_pages_read_a_few_at_a_time_make_the_same_pdfs(grouped, pages, monkeypatch):
    """The PDFs' pages are read from the store a few at a time, twice (the summary, then the pages), never held
    whole: read two at a time here, through groups larger than that, the PDFs and the CSV are those of the
    command line."""
    from dicomimgcmp.base.workers import local_workers
    from dicomimgcmp.config import load_config
    from dicomimgcmp.run import pipeline
    from dicomimgcmp.run.store import pages as store_pages

    config = grouped.config(pages=pages, multiprocessing_cpus="2")
    whole = run_script(config, multi=True)
    outputs = {name: (whole.run_dir / name).read_bytes() for name in
               ("comparison_results_0.pdf", "comparison_results_1.pdf", "comparison_summary.csv")}
    monkeypatch.setattr(store_pages, "_PAGES_READ", 2)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    with local_workers(1) as workers:
        pipeline.run(load_config(config), parts=2, workers=workers)
    assert {name: (whole.run_dir / name).read_bytes() for name in outputs} == outputs


@pytest.mark.parametrize("pages", ["all", "per_group"])
def test_a_large_run_summary_is_short_and_links_to_its_groups_on_page_one(tree, pages):
    """600 changed images in 6 series whose headers all keep the source's institution, station and dates: each
    part's summary opens with the counts and the change groups (linked on its first page) and takes at most 3
    pages; header findings are counted by the set of findings, never listed file by file."""
    for s in range(6):
        for k in range(100):
            add(tree, f"se{s}/i{k:03d}.dcm", series_slice("CT_small.dcm", f"se{s}", k), blank)
    run = run_script(tree.config(pages=pages), multi=True)
    csv = run.csv
    assert (csv.status == "changed").sum() == 600 and (csv.header_identity != "").all()
    for part in sorted(set(csv.pdf_file) - {""}):
        with pikepdf.open(run.run_dir / part) as pdf:
            first = page_text(pdf, 0)
            assert "[group " in first or "group g" in first, first
            assert pdf.pages[0].obj.get("/Annots"), "no link on the summary's first page"
            summary = summary_pages(csv, part)
            assert summary <= 3, f"{part}: {summary} summary pages"
            text = "".join(page_text(pdf, k) for k in range(summary))
        assert "i000.dcm   " not in text.replace("\n", " ")  # no file listed with its header findings
        assert "The sets of findings most files share" in text


def test_two_patients_sharing_a_series_uid_are_two_groups_each_in_one_pdf(tree):
    # a UID collision (pydicom's examples_overlay and pydicom-data's MR share a SeriesInstanceUID): a group is one
    # patient's, so that the PDFs, which follow the patients, never split it
    for k, patient in enumerate(("P1", "P1", "P9", "P9", "P5")):
        src = series_slice("CT_small.dcm", "shared" if patient != "P5" else "own", k)
        src.PatientID, src.PatientName = patient, f"{patient}^TEST"
        add(tree, f"{patient}/s{k}.dcm", src, blank)
    run = run_script(tree.config(multiprocessing_cpus="2"), multi=True)
    changed = run.csv[run.csv.status == "changed"].set_index("deid_file")
    assert len(changed) == 5
    assert changed.loc["P1/s0.dcm", "change_group"] == changed.loc["P1/s1.dcm", "change_group"]
    assert changed.loc["P9/s2.dcm", "change_group"] == changed.loc["P9/s3.dcm", "change_group"]
    assert changed.loc["P1/s0.dcm", "change_group"] != changed.loc["P9/s2.dcm", "change_group"]
    assert changed.groupby("change_group").pdf_file.nunique().eq(1).all()
