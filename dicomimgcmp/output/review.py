"""The review page: ``review.html`` beside the CSV, one self-contained file a curator opens from a shared drive.

It holds the counts, every row (filtered by status and sorted by any column in the browser), a thumbnail of each
change group (``review/<change_group>.png``) and, for each group, a decision (accept / reject and a note) kept in
the browser and exported as ``review_decisions.csv``. That file, given back to the next run (config key
``review_decisions``), carries its decisions over to the groups that are still the same: a group's id is made
from its series and its change, so an unchanged change keeps its id and a new one asks for a decision.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
from markupsafe import Markup

from dicomimgcmp.base.atomic import atomic_output
from dicomimgcmp.base.workers import chunks
from dicomimgcmp.enums import ChangeKind, ReviewDecision, Status
from dicomimgcmp.model import PairResult, box_text
from dicomimgcmp.summary import HeaderTally, ProfileTally, RecipeTally, SetTally, SummaryRow, counted, unjudged_text

THUMBNAIL_DIR = "review"
DECISIONS_CSV = "review_decisions.csv"
DECISION_COLUMNS = ("change_group", "decision", "note")
THUMBNAIL_SIDE = 200  # pixels, the longest side of each of the three panels


class Decision(NamedTuple):
    """A reviewer's decision on one change group."""

    decision: ReviewDecision  # NOTE_ONLY: a note without a decision
    note: str


class GroupView(NamedTuple):
    """What the review page shows of a change group: its first member (in page order) and its size."""

    first: PairResult
    size: int
    series_size: int


def read_decisions(path: Path) -> dict[str, Decision]:
    """The decisions of a ``review_decisions.csv`` by change group; raises ValueError naming what is wrong."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in DECISION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} (found: "
                             f"{', '.join(reader.fieldnames or []) or 'nothing'})")
        decisions = {}
        for line, row in enumerate(reader, start=2):
            word = (row["decision"] or "").strip().lower()
            if word not in set(ReviewDecision):
                raise ValueError(f"{path} line {line}: decision must be accept, reject or empty, got {word!r}")
            decision = ReviewDecision(word)
            group = (row["change_group"] or "").strip()
            if group and (decision or (row["note"] or "").strip()):
                decisions[group] = Decision(decision, (row["note"] or "").strip())
    return decisions


def share_text(size: int, series_size: int) -> str:
    """How many images of its series a change group holds, in words: "all 480 images", "50 of 480 images"."""
    if size < series_size:
        return f"{size} of {series_size} images"
    return f"all {size} images" if size > 1 else "its only image"


def thumbnail_path(run_dir: Path, change_group: str) -> Path:
    return run_dir / THUMBNAIL_DIR / f"{change_group}.png"


def write_thumbnail(path: Path, panels: list[np.ndarray]) -> None:
    """The page's three RGB uint8 panels side by side, each at most :data:`THUMBNAIL_SIDE` pixels, as a PNG."""
    from PIL import Image

    small = []
    for panel in panels:
        image = Image.fromarray(panel)
        scale = THUMBNAIL_SIDE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        # shrink by averaging; enlarge a small image (a dose grid) by repeating pixels, not blurring them
        small.append(image.resize(size, Image.Resampling.BOX if scale < 1 else Image.Resampling.NEAREST))
    gap = 4
    sheet = Image.new("RGB", (sum(im.width for im in small) + gap * (len(small) - 1),
                              max(im.height for im in small)), "white")
    x = 0
    for image in small:
        sheet.paste(image, (x, 0))
        x += image.width + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:  # zlib level 3: 5 ms and 44 KB for a 608x200 sheet; the default 6, 11 ms, 47 KB
        sheet.save(tmp, format="PNG", compress_level=3)


def write_review(path: Path, *, run_name: str, date: str, counts: dict[Status, int], groups: Iterable[GroupView],
                 rows: Iterable[SummaryRow], carried: dict[str, Decision], phi_total: int = 0,
                 recipe: RecipeTally | None = None, header: HeaderTally | None = None,
                 profile: ProfileTally | None = None, set_tally: SetTally | None = None) -> None:
    """Write ``review.html`` atomically; rows and groups are streamed into it, not held in memory."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("dicomimgcmp"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["counted"] = counted
    env.filters["unjudged"] = unjudged_text
    template = env.get_template("review.html.j2")
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for text in template.generate(run_name=run_name, date=date, counts=counts, phi_total=phi_total,
                                      recipe=recipe, header=header, profile=profile, set_tally=set_tally,
                                      groups=(_group_json(g, path.parent, carried) for g in groups),
                                      row_pieces=_rows_json(rows, recipe is not None, header is not None,
                                                            bool(set_tally and set_tally.files)),
                                      decisions=[d for d in ReviewDecision if d is not ReviewDecision.NOTE_ONLY],
                                      kinds=list(ChangeKind),
                                      storage_key=f"dicomimgcmp:{run_name}:"):
            fh.write(text)


def _group_json(group: GroupView, run_dir: Path, carried: dict[str, Decision]) -> dict:
    item = group.first
    deid, rec = item.files
    thumb = thumbnail_path(run_dir, item.change_group)
    decision = carried.get(item.change_group)
    return {"id": item.change_group, "share": share_text(group.size, group.series_size),
            "series": rec.series_label,
            "modality": rec.modality, "patient": deid.patient_id, "change": item.change, "kind": item.change_kind or "",
            "first_file": deid.rel_path, "pdf": f"{item.pdf_file}#page={item.pdf_page}",
            # drawn with the group's first page, after this page is written: named when that page is numbered
            "page": item.pdf_page, "thumbnail": thumb.relative_to(run_dir).as_posix() if item.pdf_page else "",
            "carried": decision._asdict() if decision else None}


def _rows_json(rows: Iterable[SummaryRow], with_recipe: bool, with_header: bool, with_set: bool,
               per_piece: int = 500) -> Iterator[Markup]:
    """The table's rows as JSON safe inside a script element (as jinja's ``tojson`` writes it), a piece of
    ``per_piece`` rows at a time, each row followed by a comma: one encoding a piece, not one a row."""
    from jinja2.utils import htmlsafe_json_dumps

    for piece in chunks((_row_json(row, with_recipe, with_header, with_set) for row in rows), per_piece):
        yield Markup(str(htmlsafe_json_dumps(piece))[1:-1] + ",")


def _row_json(summary: SummaryRow, with_recipe: bool, with_header: bool, with_set: bool) -> list:
    """A row of the table, in the order of the template's columns."""
    row, series = summary
    box = "" if row["bbox_row0"] is None else box_text(
        (row["bbox_row0"], row["bbox_row1"], row["bbox_col0"], row["bbox_col1"]))
    return [row["status"], row["deid_file"] or row["source_file"], series,
            row["modality"], row["changed_pixels"], box, row["change_group"], row["group_size"],
            f"{row['pdf_file']}#page={row['pdf_page']}" if row["pdf_page"] else "", row["pdf_page"], row["reason"],
            row["phi_match"].replace(";", ", "), row["hidden_content"], row["recipe_verdict"] if with_recipe else None,
            row["header_identity"] if with_header else None, row["change_kind"],
            row["set_findings"] if with_set else None]
