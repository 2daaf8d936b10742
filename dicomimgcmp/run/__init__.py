"""Running it all: the pipeline from config to outputs (:mod:`.pipeline`), the work its workers do
(:mod:`.tasks`), the outputs in order of value (:mod:`.ordered_outputs`), a Dask cluster (:mod:`.cluster`), one run per
run folder (:mod:`.runlock`) and the run's store on disk (:mod:`.store`).

Takes a :class:`~dicomimgcmp.config.Config`; gives a :class:`~.pipeline.RunOutcome` and the files written."""
