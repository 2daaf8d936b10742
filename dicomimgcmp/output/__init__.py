"""Stage 5: what a run writes, from the rows the store holds.

Takes the rows and the run's tallies; gives ``comparison_summary.csv`` (:mod:`.csvfile`), review.html and its
thumbnails (:mod:`.review`), the PDFs (:mod:`.pdf`) and the console's closing lines (:mod:`.console`)."""
