"""Stage 2: which source file each de-identified file is compared with.

Takes the UID mapping file (:mod:`.mapping`, read and validated before any DICOM file) and the records; gives a
:class:`~dicomimgcmp.model.Pair` to compare, or the status decided without comparing (unmapped, missing_pre,
duplicate_uid, source_only: :mod:`.rules`)."""
