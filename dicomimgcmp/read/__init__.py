"""Stage 1 of the data path: find every file of a tree and read its header, never its pixel data.

Takes a folder; gives a :class:`~dicomimgcmp.model.FileRecord` per file (its SOPInstanceUID, pixel format, the
layers it declares, the values the checks need) or the reason it cannot be read, and, for the header check, every
element of a header as text (:mod:`.elements`). DICOM is recognised by content (:mod:`.dicomfile`)."""
