"""Write a PDF: summary page(s), then one page per changed pair (de-identified | source | changed area).

Images are shown as a radiologist would see them: modality LUT, the source file's VOI window (or a robust
percentile window) on both sides so that a blanked region looks blanked, MONOCHROME1 inverted, colour in colour.
Images are downsampled for display only; the changed-pixel mask is max-pooled so that a one-pixel change
stays visible. matplotlib is imported here only, so the command line starts fast.
"""

from __future__ import annotations

import contextlib
import math
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from .compare import changed_mask
from .model import PairResult, Status
from .pixels import quiet_pydicom, read_frame

PAGE_SIZE = (11.69, 8.27)  # A4 landscape, inches
MAX_DISPLAY = 768  # longest side of a displayed image, pixels
PAGES_PER_CHUNK = 32  # pages matplotlib holds in memory before a chunk file is closed
FIRST_PAGE_LIST = 18  # changed-image lines on the first summary page
NEXT_PAGE_LIST = 42  # ... and on each further summary page


@dataclass(frozen=True)
class Summary:
    """What every PDF of a run opens with."""

    run_name: str
    date: str
    deid_root: str
    source_root: str
    mapping_file: str
    counts: dict[str, int]
    part: int  # 0-based
    parts: int
    first_index: int  # 1-based number (in run order) of this part's first changed image
    changed_total: int


def summary_page_count(n_items: int) -> int:
    """How many summary pages a PDF listing ``n_items`` changed images opens with."""
    return 1 if n_items <= FIRST_PAGE_LIST else 1 + math.ceil((n_items - FIRST_PAGE_LIST) / NEXT_PAGE_LIST)


def write_pdf(path: Path, summary: Summary, items: list[PairResult], tolerance: float) -> None:
    """Write the PDF at ``path`` atomically (temporary names, renamed when complete).

    ``items`` are the changed pairs of this PDF in page order, their ``pdf_page`` already set. matplotlib keeps
    every page's images in memory until its file is closed, so pages go to chunk files of
    :data:`PAGES_PER_CHUNK` pages, which pikepdf joins (copying the image streams from disk as it writes):
    memory does not grow with the number of pages.
    """
    import pikepdf
    from matplotlib.backends.backend_pdf import PdfPages

    pages = [lambda fig, lines=lines: fig.text_page(lines) for lines in _summary_pages(summary, items)]
    pages += [lambda fig, item=item: fig.pair_page(item, tolerance) for item in items]
    stem = path.with_name(f".{path.name}.{os.getpid()}")
    chunks = [stem.with_suffix(f".part{k}") for k in range(math.ceil(len(pages) / PAGES_PER_CHUNK))]
    final = stem.with_suffix(".partial")
    try:
        figure = _Figure()
        for k, chunk in enumerate(chunks):
            with PdfPages(chunk, metadata={"CreationDate": None}) as pdf:
                for draw in pages[k * PAGES_PER_CHUNK:(k + 1) * PAGES_PER_CHUNK]:
                    pdf.savefig(draw(figure))
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(pikepdf.new())
            for chunk in chunks:
                out.pages.extend(stack.enter_context(pikepdf.open(chunk)).pages)
            out.docinfo["/Title"] = f"DICOMImgCmp {summary.run_name}"
            out.save(final, deterministic_id=True, compress_streams=True)
        os.replace(final, path)
    finally:
        for tmp in (*chunks, final):
            tmp.unlink(missing_ok=True)


def _summary_pages(summary: Summary, items: list[PairResult]) -> list[list[tuple[str, str]]]:
    """Lines of each summary page, as (text, style) with style one of title, warn, text, mono."""
    head = [(f"DICOMImgCmp — {summary.run_name}", "title"),
            (f"Date: {summary.date}    PDF {summary.part + 1} of {summary.parts}", "text"),
            (f"De-identified: {summary.deid_root}", "text"),
            (f"Source: {summary.source_root}", "text"),
            (f"UID mapping: {summary.mapping_file}", "text"),
            ("Files per status (whole run): " + ", ".join(f"{k} {v}" for k, v in summary.counts.items()), "text")]
    compared = summary.counts.get(Status.IDENTICAL.value, 0) + summary.counts.get(Status.CHANGED.value, 0)
    if compared == 0:
        head.append(("WARNING: no de-identified file was paired with a source file. "
                     "Check uid_mapping_file and the input folders.", "warn"))
    if summary.changed_total == 0:
        head.append(("No changed images: every compared pair has identical pixel values.", "text"))
    elif not items:
        head.append((f"No changed images in this PDF ({summary.changed_total} in the run, in the other PDFs).",
                     "text"))
    else:
        last = summary.first_index + len(items) - 1
        head.append((f"Changed images {summary.first_index}-{last} of {summary.changed_total} "
                     "(page, de-identified file, changed pixels):", "text"))
    listing = [(f"p.{it.pdf_page:<5d} {it.deid.rel_path}   {it.changed_pixels} px"
                f"{'   ' + it.reason if it.reason else ''}", "mono") for it in items]
    pages = [head + listing[:FIRST_PAGE_LIST]]
    for start in range(FIRST_PAGE_LIST, len(listing), NEXT_PAGE_LIST):
        pages.append(listing[start:start + NEXT_PAGE_LIST])
    assert len(pages) == summary_page_count(len(items))
    return pages


class _Figure:
    """Two matplotlib figures reused for every page: creating figures and axes per page is what makes
    matplotlib slow. Images are embedded at their own resolution (``interpolation="none"``), not resampled."""

    def __init__(self) -> None:
        from matplotlib.figure import Figure  # not pyplot: nothing global holds the figures after the PDF
        from matplotlib.patches import Rectangle

        self.text_fig = Figure(figsize=PAGE_SIZE)
        self.fig = Figure(figsize=PAGE_SIZE)
        self.header = self.fig.text(0.02, 0.98, "", va="top", size=9, family="monospace")
        self.error = self.fig.text(0.5, 0.5, "", ha="center", color="red")
        self.axes = self.fig.subplots(1, 3, gridspec_kw=dict(left=0.02, right=0.98, bottom=0.04, top=0.80,
                                                              wspace=0.04))
        self.images = []
        for ax, title in zip(self.axes, ("De-identified", "Source", "Changed area")):
            ax.set_title(title, size=11)
            ax.set_xticks([])
            ax.set_yticks([])
            self.images.append(ax.imshow(np.zeros((1, 1, 3), np.uint8), interpolation="none"))
        self.box = self.axes[2].add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=1.2, edgecolor="yellow"))
        self.kept = self.axes[2].add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=1.2, edgecolor="cyan",
                                                     linestyle="--"))

    def text_page(self, lines: list[tuple[str, str]]):
        fig = self.text_fig
        fig.clear()
        styles = {"title": dict(size=16, weight="bold"), "warn": dict(size=12, color="red", weight="bold"),
                  "text": dict(size=10), "mono": dict(size=8, family="monospace")}
        y = 0.95
        for text, style in lines:
            for line in textwrap.wrap(text, 150 if style == "mono" else 130) or [""]:
                fig.text(0.04, y, line, va="top", **styles[style])
                y -= 0.045 if style == "title" else 0.021 if style == "mono" else 0.03
        return fig

    def pair_page(self, item: PairResult, tolerance: float):
        self.header.set_text(_header(item))
        try:
            panels, error = _panels(item, tolerance), ""
        except Exception as exc:  # the page must exist to keep numbering; say why it has no images
            panels, error = [np.zeros((1, 1, 3), np.uint8)] * 3, f"Cannot display this pair: {exc}"
        self.error.set_text(error)
        for ax, image, panel in zip(self.axes, self.images, panels):
            rows, cols = panel.shape[:2]
            image.set_data(panel)
            image.set_extent((-0.5, cols - 0.5, rows - 0.5, -0.5))
            ax.set_xlim(-0.5, cols - 0.5)
            ax.set_ylim(rows - 0.5, -0.5)
        step = _display_step(item)
        _place(self.box, item.bbox if not error else None, step)
        crop = item.crop
        _place(self.kept, None if crop is None or error else
               (crop.row0, crop.row0 + crop.rows, crop.col0, crop.col0 + crop.columns), step)
        return self.fig


def _place(rect, box: tuple[int, int, int, int] | None, step: int) -> None:
    """Move a rectangle onto a half-open source box, drawn on an image downsampled by ``step``."""
    rect.set_visible(box is not None)
    if box is not None:
        r0, r1, c0, c1 = box
        rect.set_bounds(c0 / step - 0.5, r0 / step - 0.5, (c1 - c0) / step, (r1 - r0) / step)


def _header(item: PairResult) -> str:
    d, s = item.deid, item.source
    frames = ""
    if item.changed_frames and (d.frames or 1) > 1:
        others = [f for f in item.changed_frames if f != item.shown_frame]
        frames = f"\nShown frame {item.shown_frame} (0-based) of {d.frames}; other changed frames: " + (
            _short_list(others) if others else "none")
    box = "none" if item.bbox is None else "rows {}:{}, cols {}:{}".format(*item.bbox)
    metrics = (f"changed pixels {item.changed_pixels} ({100 * item.changed_fraction:.3g}%)   "
               f"max |diff| {_fmt(item.max_abs_diff)}   MSE {_fmt(item.mse)}   PSNR {_fmt(item.psnr)} dB   "
               f"SSIM {_fmt(item.ssim)}")
    lines = [f"Page {item.pdf_page}   De-identified: {d.rel_path}", f"Source: {s.rel_path}",
             f"PatientID {d.patient_id or '-'}   Modality {d.modality or '-'}   "
             f"Series {d.series_description or '-'}", metrics, f"Changed box (source coordinates, half-open): {box}"]
    if item.reason:
        lines.append(f"Note: {item.reason}")
    return "\n".join("\n".join(textwrap.wrap(line, 160)) for line in lines) + frames


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _short_list(frames: list[int], limit: int = 30) -> str:
    text = ", ".join(str(f) for f in frames[:limit])
    return text + (f" ... ({len(frames)} in all)" if len(frames) > limit else "")


def _display_step(item: PairResult) -> int:
    rows, cols = item.source.rows or 1, item.source.columns or 1
    return max(1, math.ceil(max(rows, cols) / MAX_DISPLAY))


def _panels(item: PairResult, tolerance: float) -> list[np.ndarray]:
    """The three RGB uint8 images of a pair page, downsampled for display, for the frame with most changes."""
    d_rec, s_rec = item.deid, item.source
    d_frame = read_frame(d_rec.path, d_rec.transfer_syntax_uid, item.shown_frame)
    s_frame = read_frame(s_rec.path, s_rec.transfer_syntax_uid, item.shown_frame)
    with quiet_pydicom():
        d_ds = pydicom.dcmread(d_rec.path, stop_before_pixels=True, force=True)
        s_ds = pydicom.dcmread(s_rec.path, stop_before_pixels=True, force=True)
    step = _display_step(item)
    d_img, s_img = _for_display(d_frame, d_ds)[::step, ::step], _for_display(s_frame, s_ds)[::step, ::step]
    if d_img.ndim == 2 and s_img.ndim == 2:  # one grey scale for both, so a blanked region looks blanked
        low, high = _window_of(s_ds, s_img)
        invert = s_ds.get("PhotometricInterpretation") == "MONOCHROME1"
        d01, base = (_grey01(img, low, high, invert) for img in (d_img, s_img))
        s01 = base
    else:
        d01, s01 = _rgb01(d_img), _rgb01(s_img)
        base = s01.mean(axis=-1) if s01.ndim == 3 else s01
    d_show, s_show = _to_rgb8(d01), _to_rgb8(s01)
    if d_frame.shape[:2] == s_frame.shape[:2] or item.crop is not None:
        mask = changed_mask(d_frame, s_frame, item.crop, tolerance)
    else:  # not comparable: everything changed
        mask = np.ones(s_frame.shape[:2], dtype=bool)
    overlay = _to_rgb8(0.35 * base)
    overlay[_max_pool(mask, step)] = (255, 0, 0)
    return [d_show, s_show, overlay]


def _for_display(frame: np.ndarray, ds) -> np.ndarray:
    """Grey frames through the modality LUT (float64); colour frames as RGB; palette through its LUT."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        with quiet_pydicom():
            return apply_color_lut(frame, ds)
    if frame.ndim == 3:
        return frame
    with quiet_pydicom():
        return np.asarray(apply_modality_lut(frame, ds), dtype=np.float64)


def _window_of(ds, image: np.ndarray) -> tuple[float, float]:
    """The file's first VOI window (center, width) as (low, high), else the 0.5-99.5 percentile range."""
    try:
        center, width = (float(v[0] if isinstance(v, pydicom.multival.MultiValue) else v)
                         for v in (ds.WindowCenter, ds.WindowWidth))
        if width > 0:
            return center - width / 2, center + width / 2
    except (AttributeError, TypeError, ValueError, IndexError):
        pass
    low, high = np.percentile(image, (0.5, 99.5))
    return float(low), float(high if high > low else low + 1)


def _grey01(image: np.ndarray, low: float, high: float, invert: bool) -> np.ndarray:
    """Window a grey image to [0, 1] (MONOCHROME1 inverted)."""
    scaled = np.clip((image - low) / (high - low), 0.0, 1.0)
    return 1.0 - scaled if invert else scaled


def _rgb01(image: np.ndarray) -> np.ndarray:
    """Scale an integer RGB image to [0, 1] by its dtype's range (float images by their maximum)."""
    if image.dtype.kind in "ui":
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return np.clip(image / max(float(np.nanmax(image)), 1e-9), 0, 1)


def _to_rgb8(image01: np.ndarray) -> np.ndarray:
    """A [0, 1] grey (rows, columns) or RGB image as (rows, columns, 3) uint8."""
    image = np.rint(image01 * 255).astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def _max_pool(mask: np.ndarray, step: int) -> np.ndarray:
    """Downsample a boolean mask by ``step`` so that any True pixel in a block keeps the block True."""
    if step == 1:
        return mask
    rows, cols = mask.shape
    padded = np.zeros((math.ceil(rows / step) * step, math.ceil(cols / step) * step), dtype=bool)
    padded[:rows, :cols] = mask
    return padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3))
