"""Run the pipeline on a Dask cluster through its ``concurrent.futures`` executor (``Client.get_executor``).

Nothing else in the package knows which executor runs it. Dask reschedules the tasks of a worker that dies;
workers read the inputs and write PDF parts on paths they must all see (a shared file system), which is checked
before any work starts.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from dicomimgcmp.base.workers import Workers
from dicomimgcmp.config import Config
from dicomimgcmp.errors import ConfigError
from dicomimgcmp.optional import require

if TYPE_CHECKING:  # distributed is imported when the config asks for Dask
    from distributed import Client


def dask_workers(cfg: Config) -> Workers:
    """Workers on the scheduler at ``cfg.dask_scheduler_address``, or on a new ``LocalCluster`` of
    ``multiprocessing_cpus`` worker processes when there is no address. Raises :class:`ConfigError` when Dask
    is missing, the scheduler cannot be reached, or a worker cannot see the input and output folders."""
    distributed = require("distributed", "config key 'executor' is \"dask\"")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    cluster = None
    try:
        if cfg.dask_scheduler_address:
            client = Client(cfg.dask_scheduler_address, timeout="20s")
        else:
            # CRITICAL: a worker still sending its heartbeat while the cluster closes logs a traceback at ERROR
            # level; what fails in a task reaches the client as its exception and the report as a reason
            cluster = LocalCluster(n_workers=cfg.multiprocessing_cpus, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL)
            client = Client(cluster)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"config key 'dask_scheduler_address': cannot reach {cfg.dask_scheduler_address}: "
                          f"{exc}") from None

    def close() -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    try:
        _check_shared_paths(client, cfg)
    except ConfigError:
        close()
        raise
    executor = client.get_executor(pure=False)  # pure=False: a retried task is run again, not looked up
    return Workers(lambda: executor, close=close)


def _check_shared_paths(client: Client, cfg: Config) -> None:
    folders = {"input_data_path": cfg.input_data_path, "pre_deID_data_path": cfg.pre_deID_data_path,
               "output_data_path": cfg.output_data_path}
    if not client.scheduler_info()["workers"]:
        raise ConfigError("the Dask cluster has no workers")
    seen = client.run(_missing_folders, {key: str(path) for key, path in folders.items()})
    for worker, missing in sorted(seen.items()):
        if missing:
            raise ConfigError(f"Dask worker {worker} cannot see {', '.join(missing)}: every worker must see the "
                              "same paths (a shared file system)")


def _missing_folders(folders: dict[str, str]) -> list[str]:
    """Run on each worker: the config keys whose folder this worker cannot see."""
    return [f"{key} ({path})" for key, path in folders.items() if not os.path.isdir(path)]
