"""Stage 3: whether anything changed in the decoded pixel values of a pair, and how.

Takes a :class:`~dicomimgcmp.model.Pair`; gives a :class:`~dicomimgcmp.model.PairResult`: identical, changed
(where: box, mask, frames; how much: MSE, PSNR, SSIM; what kind: blanked, cropped, lossy...; its change group),
or unreadable with the reason (:mod:`.pair`)."""
