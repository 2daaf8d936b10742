"""What every stage uses and that imports no stage: atomic writes (:mod:`.atomic`), who may read them
(:mod:`.access`), the logger (:mod:`.log`), worker pools that survive a dead worker and batches (:mod:`.workers`),
a stage's progress (:mod:`.progress`), grey as RGB (:mod:`.colour`)."""
