"""Running many independent sensitivity measurements at once, in this process or on a Dask cluster.

Every measurement (one ``OnGrid`` -> one output SQNR) depends only on the graph, the samples and
what it puts on the grid, so a sweep is a list of measurements whose results can come back in any
order. With one worker they run here, one after the other, and dask is never imported. With more, a
local Dask cluster of process workers (the ``[scale]`` extra) gets the graph and the samples once;
each worker builds its own ``SensitivityRunner`` (the float run it perturbs) on its first task and
keeps it for the rest. A measurement is the same arithmetic wherever it runs, so the numbers are
identical whatever the worker count (tests/analysis/test_distribute.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qcc.analysis.sensitivity import OnGrid, SensitivityRunner
from qcc.errors import QccError

SCALE_EXTRA = "pip install 'qcc[scale]'"

# The runner each worker process built, by the id of the pool that sent its graph.
_WORKER_RUNNERS: dict[str, SensitivityRunner] = {}


class Measurements:
    """Output SQNRs of many grids on one runner's graph and samples."""

    def __init__(self, runner: SensitivityRunner, client: Any = None) -> None:
        self.runner = runner
        self._client = client
        self._pool_id = uuid.uuid4().hex
        self._spec: Any = None

    def sqnr_many(self, grids: Sequence[OnGrid]) -> list[float]:
        """Each grid's output SQNR, in the order given."""
        if self._client is None:
            return [self.runner.sqnr_db(grid) for grid in grids]
        if self._spec is None:
            spec = (self.runner.graph, self.runner.samples, self.runner.batch_bytes)
            self._spec = self._client.scatter(spec, broadcast=True, hash=False)
        futures = [self._client.submit(_remote_sqnr, self._pool_id, self._spec, grid, pure=False) for grid in grids]
        return [float(value) for value in self._client.gather(futures)]


def _remote_sqnr(pool_id: str, spec: tuple[Any, Any, int], grid: OnGrid) -> float:
    """One measurement on a worker (its runner built once per pool)."""
    runner = _WORKER_RUNNERS.get(pool_id)
    if runner is None:
        _WORKER_RUNNERS.clear()  # an earlier pool's graph is not needed any more
        graph, samples, batch_bytes = spec
        runner = _WORKER_RUNNERS[pool_id] = SensitivityRunner(graph, samples, batch_bytes)
    return runner.sqnr_db(grid)


def check_workers(workers: int, where: str) -> None:
    """A worker count is at least 1, and more than 1 needs dask (a one-line error naming the extra)."""
    if workers < 1:
        raise QccError(f"{where}: workers={workers} must be >= 1")
    if workers > 1:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise QccError(f"{where}: workers={workers} runs on a local Dask cluster; install it with {SCALE_EXTRA}") from None


@contextmanager
def measurements(runner: SensitivityRunner, workers: int = 1) -> Iterator[Measurements]:
    """Measurements on ``workers`` processes (1: here, without dask); the cluster closes on exit."""
    check_workers(workers, "sensitivity")
    if workers == 1:
        yield Measurements(runner)
        return
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
        yield Measurements(runner, client)

