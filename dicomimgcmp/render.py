"""Write a PDF: summary page(s), then one page per changed pair (de-identified | source | changed area).

Images are shown as a radiologist would see them: the source file's modality LUT and VOI transform (its first
window or VOI LUT, through pydicom; a robust percentile window when it has none) on both sides so that both
panels share one grey scale and a blanked region looks blanked, each side's MONOCHROME1 inverted, colour in colour.
Images are downsampled for display only; the changed-pixel mask is max-pooled so that a one-pixel change
stays visible. matplotlib is imported here only, so the command line starts fast.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from .atomic import atomic_output, temporary_name
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


def assign_pages(items: list[PairResult], pdf_file: str) -> list[PairResult]:
    """The changed pairs of one PDF, in page order, with their PDF name and 1-based page (after the summary)."""
    offset = summary_page_count(len(items))
    return [item.replace(pdf_file=pdf_file, pdf_page=offset + i + 1) for i, item in enumerate(items)]


def write_pdf(path: Path, summary: Summary, items: list[PairResult], tolerance: float) -> None:
    """Write the PDF at ``path`` atomically.

    ``items`` are the changed pairs of this PDF as :func:`assign_pages` numbered them. matplotlib keeps every
    page's images in memory until its file is closed, so pages go to chunk files of :data:`PAGES_PER_CHUNK`
    pages, which pikepdf joins (copying the image streams from disk as it writes): memory does not grow with
    the number of pages.
    """
    import pikepdf
    from matplotlib.backends.backend_pdf import PdfPages

    pages = [lambda fig, lines=lines: fig.text_page(lines) for lines in _summary_pages(summary, items)]
    pages += [lambda fig, item=item: fig.pair_page(item, tolerance) for item in items]
    chunks = [temporary_name(path, f".chunk{k}") for k in range(math.ceil(len(pages) / PAGES_PER_CHUNK))]
    try:
        figure = _Figure()
        for k, chunk in enumerate(chunks):
            with PdfPages(chunk, metadata={"CreationDate": None}) as pdf:
                for draw in pages[k * PAGES_PER_CHUNK:(k + 1) * PAGES_PER_CHUNK]:
                    pdf.savefig(draw(figure))
        with atomic_output(path) as tmp, contextlib.ExitStack() as stack:
            out = stack.enter_context(pikepdf.new())
            for chunk in chunks:
                out.pages.extend(stack.enter_context(pikepdf.open(chunk)).pages)
            out.docinfo["/Title"] = f"DICOMImgCmp {summary.run_name}"
            out.save(tmp, deterministic_id=True, compress_streams=True)
    finally:
        for chunk in chunks:
            chunk.unlink(missing_ok=True)


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
    d_frames, s_frames = d.format.frames or 1, s.format.frames or 1
    frames = ""
    if d_frames != s_frames:
        frames = (f"\nFrames: source {s_frames}, de-identified {d_frames}; shown frame {item.shown_frame} (0-based), "
                  "one both files have")
    elif item.changed_frames and d_frames > 1:
        others = [f for f in item.changed_frames if f != item.shown_frame]
        frames = f"\nShown frame {item.shown_frame} (0-based) of {d_frames}; other changed frames: " + (
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
    rows, cols = item.source.format.rows or 1, item.source.format.columns or 1
    return max(1, math.ceil(max(rows, cols) / MAX_DISPLAY))


def _panels(item: PairResult, tolerance: float) -> list[np.ndarray]:
    """The three RGB uint8 images of a pair page, downsampled for display, for the frame with most changes."""
    d_frame, s_frame = (read_frame(rec, item.shown_frame) for rec in (item.deid, item.source))
    with quiet_pydicom():
        d_ds, s_ds = (pydicom.dcmread(rec.path, stop_before_pixels=True, force=True)
                      for rec in (item.deid, item.source))
    step = _display_step(item)
    d01, s01 = display_pair(d_frame, d_ds, s_frame, s_ds)
    d01, s01 = d01[::step, ::step], s01[::step, ::step]
    base = s01.mean(axis=-1) if s01.ndim == 3 else s01
    if d_frame.shape[:2] == s_frame.shape[:2] or item.crop is not None:
        mask = changed_mask(d_frame, s_frame, item.crop, tolerance)
    else:  # not comparable: everything changed
        mask = np.ones(s_frame.shape[:2], dtype=bool)
    overlay = _to_rgb8(0.35 * base)
    overlay[_max_pool(mask, step)] = (255, 0, 0)
    return [_to_rgb8(d01), _to_rgb8(s01)] + [overlay]


def display_pair(d_frame: np.ndarray, d_ds, s_frame: np.ndarray, s_ds) -> tuple[np.ndarray, np.ndarray]:
    """Both frames as shown on the page, float64 in [0, 1]: (rows, columns) grey or (rows, columns, 3) RGB.

    Grey frames go through the *source's* modality LUT and VOI transform on both sides (one grey scale, so a
    blanked region looks blanked), then each side's MONOCHROME1 is inverted by its own PhotometricInterpretation
    (a de-identified MONOCHROME1 copy of a MONOCHROME2 source looks the same, not as a negative).
    """
    d_img, s_img = _colour_or_modality(d_frame, d_ds, s_ds), _colour_or_modality(s_frame, s_ds, s_ds)
    if d_img.ndim == 3 or s_img.ndim == 3:
        return _rgb01(d_img), _rgb01(s_img)
    with quiet_pydicom():
        window = _voi_window(s_ds, s_img)
        d01, s01 = (window(img) for img in (d_img, s_img))
    return tuple(1.0 - img if ds.get("PhotometricInterpretation") == "MONOCHROME1" else img
                 for img, ds in ((d01, d_ds), (s01, s_ds)))


def _colour_or_modality(frame: np.ndarray, own_ds, source_ds) -> np.ndarray:
    """Colour frames as RGB (a palette through the file's own LUT); grey frames through the source's modality
    LUT (integers stay integers, so that a VOI LUT indexes them exactly)."""
    from pydicom.pixels import apply_color_lut, apply_modality_lut

    with quiet_pydicom():
        if own_ds.get("PhotometricInterpretation") == "PALETTE COLOR":
            return apply_color_lut(frame, own_ds)
        if frame.ndim == 3:
            return frame
        return apply_modality_lut(frame, source_ds)


def _voi_window(ds, image: np.ndarray):
    """A function mapping modality values to [0, 1] by the dataset's first VOI LUT or window (pydicom's
    ``apply_voi_lut``, SIGMOID included), scaled by that transform's output range; by the image's 0.5-99.5
    percentile range when the dataset has neither (or an unusable one)."""
    from pydicom.pixels import apply_voi_lut

    try:
        low, high = _voi_output_range(ds)
        if high > low:
            return lambda img: np.clip((np.asarray(apply_voi_lut(img, ds), np.float64) - low) / (high - low), 0, 1)
    except (AttributeError, TypeError, ValueError, IndexError, KeyError, NotImplementedError):
        pass
    finite = image[np.isfinite(image)]
    low, high = np.percentile(finite, (0.5, 99.5)) if finite.size else (0.0, 1.0)
    high = high if high > low else low + 1
    return lambda img: np.clip((img - low) / (high - low), 0.0, 1.0)


def _voi_output_range(ds) -> tuple[float, float]:
    """The least and greatest value the dataset's VOI transform gives: its LUT's entries, or the window's
    output range; raises ValueError when the dataset has none."""
    from pydicom.pixels import apply_voi_lut

    seq = ds.get("VOILUTSequence")
    if seq and "LUTDescriptor" in seq[0] and "LUTData" in seq[0]:
        entries, first, _bits = seq[0].LUTDescriptor
        out = apply_voi_lut(np.arange(first, first + (entries or 1 << 16)), ds)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        with np.errstate(over="ignore"):
            out = apply_voi_lut(np.array([-1e300, 1e300]), ds)
    else:
        raise ValueError("no VOI transform")
    return float(np.min(out)), float(np.max(out))


def _rgb01(image: np.ndarray) -> np.ndarray:
    """Scale an integer RGB image to [0, 1] by its dtype's range (float images by their maximum)."""
    if image.dtype.kind in "ui":
        return image.astype(np.float64) / np.iinfo(image.dtype).max
    return np.clip(image / max(float(np.nanmax(image)), 1e-9), 0, 1)


def _to_rgb8(image01: np.ndarray) -> np.ndarray:
    """A [0, 1] grey (rows, columns) or RGB image as (rows, columns, 3) uint8."""
    image = np.rint(np.nan_to_num(image01) * 255).astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def _max_pool(mask: np.ndarray, step: int) -> np.ndarray:
    """Downsample a boolean mask by ``step`` so that any True pixel in a block keeps the block True."""
    if step == 1:
        return mask
    rows, cols = mask.shape
    padded = np.zeros((math.ceil(rows / step) * step, math.ceil(cols / step) * step), dtype=bool)
    padded[:rows, :cols] = mask
    return padded.reshape(padded.shape[0] // step, step, -1, step).any(axis=(1, 3))
