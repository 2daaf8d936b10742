"""The file classifier: sorts a messy tree into ``{PatientName}_{PatientID}/{SeriesDescription}_{SeriesNumber}/``.

Takes a source folder and a pattern; plans every destination first, collisions included (:mod:`.destinations`), then
copies, moves or links each file (:mod:`.act`). Independent of the comparison: it shares only the header reader
and the worker pools."""
