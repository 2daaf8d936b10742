"""Decoded pixel values and how they are shown, for the comparison and the pages.

Takes a :class:`~dicomimgcmp.model.FileRecord`; gives its frames as stored values, decoded one at a time with a
decoder chosen the same way on every machine (:mod:`.decode`), its hidden layers (overlays, stray high bits:
:mod:`.layers`) and its values as a page shows them (modality LUT, window, palette: :mod:`.display`)."""
