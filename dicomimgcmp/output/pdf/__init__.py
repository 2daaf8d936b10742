"""The PDFs: a summary read first, then a page per changed image or change group.

Takes a part's summary and its numbered pages (:mod:`.plan`); gives a PDF drawn in chunks (:mod:`.write`: pages
written straight into PDF by :mod:`.layout`, or drawn by matplotlib in :mod:`.figure`), joined by streaming
(:mod:`.join`), with its outline and links."""
