"""Stage 4: what the de-identified file still holds of its source's identity, and whether it was changed as the
recipe says.

Takes a compared :class:`~dicomimgcmp.model.PairResult`; gives it back with the source's identity values found in
the de-identified header (:mod:`.header_identity`, with :mod:`.roles` and :mod:`.dates`, from the standard's table in
:mod:`.profile`), every attribute judged against that table and its options (:mod:`.header_profile`), the text read
in its pixels that matches them (:mod:`.text`) and its recipe verdict (:mod:`.recipe`)."""
