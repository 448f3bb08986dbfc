"""The Ray build engine: encoding in a pool of Ray Data actors, IVF lists filled by Ray tasks.

Imported only for ``engine="ray"`` (simsearch.index.engines). The driver keeps what one machine
must hold anyway (the validated documents, the SQLite store, the publish); Ray does the
costly parts, in the actors and tasks of ray_workers.py. The texts building.py hands over
become a Ray Dataset of 1,024-text blocks, each tagged with its position; ``map_batches``
runs the encoder in ``workers`` actors (CPU, or ``gpus_per_worker`` GPUs each) and every
vector is put back at its position, so the result is in input order whatever order blocks
finish in. An IVF index is trained once on the driver and its lists are filled by tasks,
one slice of the vectors each, merged in order: the same lists as a one-machine build.

Failures: Ray Data restarts a lost encoder actor and re-runs its block (``max_restarts``
and ``max_task_retries`` default to unlimited there); the IVF tasks are retried up to
``TASK_RETRIES`` times. An error in the encoder itself is not retried: it ends the build,
and building.py then removes the unfinished build folder, so the old index stays as it was.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from simsearch.errors import InvalidArgumentError, MissingDependencyError, SimsearchError
from simsearch.index.ray_workers import (
    BLOCK_TEXTS,
    EncoderWorker,
    fill_parts_on_ray,
    model_spec,
    text_blocks,
    worker_failure,
)
from simsearch.numbers import is_whole_number
from simsearch.progress import ProgressCallback

if TYPE_CHECKING:
    from simsearch.encoders import Encoder
    from simsearch.vectors import VectorIndex

log = logging.getLogger(__name__)

_LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # Ray's own: 0 makes a local node use 127.0.0.1

_PASSED_ENVIRONMENT = ("HF_HUB_OFFLINE", "HF_HOME", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM")


@contextmanager
def ray_engine(
    address: str | None = None, workers: int | None = None, gpus_per_worker: float | None = None
) -> Iterator[RayEngine]:
    """Connect to Ray at ``address`` (or start it on this machine's cores), yield the engine, shut Ray down;
    a Ray session this process holds already is used as it is and left running."""
    ray = _import_ray()
    _check_counts(workers, gpus_per_worker)
    if address is not None:
        _check_reachable(address)
    joined = ray.is_initialized()  # a caller's own Ray session (a notebook, a test) is used and left running
    if joined and address is not None:
        raise InvalidArgumentError(
            "this process is connected to Ray already; leave the Ray address out to build "
            "on that cluster, or build from a new process."
        )
    if not joined:
        start_ray(address)
    try:
        yield RayEngine(*_pool_shape(ray.cluster_resources(), workers, gpus_per_worker))
    finally:
        if not joined:
            ray.shutdown()


class RayEngine:
    """Encode on a Ray cluster; the vectors and the index equal a local build's (see the module docstring)."""

    def __init__(self, workers: int, cpus_per_worker: float, gpus_per_worker: float) -> None:
        self.workers, self.cpus_per_worker, self.gpus_per_worker = workers, cpus_per_worker, gpus_per_worker

    def encode_texts(
        self, encoder: Encoder, texts: Sequence[str], batch_size: int, on_progress: ProgressCallback | None
    ) -> np.ndarray:
        import ray.data

        vectors = np.empty((len(texts), encoder.dimension), dtype=np.float32)
        if not len(texts):
            return vectors
        encoded = ray.data.from_arrow(text_blocks(texts)).map_batches(
            EncoderWorker,
            batch_size=BLOCK_TEXTS,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.workers),
            fn_constructor_kwargs={"model": model_spec(encoder), "batch_size": batch_size},
            num_cpus=self.cpus_per_worker,
            num_gpus=self.gpus_per_worker or None,
        )
        done = 0
        try:
            for batch in encoded.iter_batches(batch_size=None, batch_format="numpy"):
                vectors[batch["position"]] = batch["vector"]
                done += len(batch["position"])
                if on_progress is not None:
                    on_progress(done, len(texts))
        except Exception as exc:  # Ray wraps a worker's error in its own types, several levels deep
            raise worker_failure(exc) from None
        if done != len(texts):  # a lost or doubled block must fail the build, never shift vectors
            raise SimsearchError(f"the Ray build returned {done} vectors for {len(texts)} texts; build again.")
        return vectors

    def fill_index(self, vectors: VectorIndex, embeddings: np.ndarray, ids: np.ndarray) -> None:
        """IVF kinds: lists filled in parallel Ray tasks; other kinds (graphs, flat) are built here."""
        from simsearch.vectors.ivf import IVFIndex

        if not isinstance(vectors, IVFIndex) or self.workers == 1:
            vectors.build(embeddings, ids)
            return
        vectors.build_from_parts(embeddings, ids, self.workers, fill_parts_on_ray)


def _keep_to_loopback() -> None:
    """Make a Ray started here listen on 127.0.0.1 only, as every other server simsearch starts.

    On Linux Ray takes the machine's outward address as its node address, and its GCS, raylet and
    worker servers then listen on every interface. ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` gives it
    the loopback address it uses on a laptop instead; Ray reads the variable when first imported
    (a caller's own value wins), and its own processes inherit it. A cluster's head, started with
    ``ray start``, is not affected.
    """
    if _LOOPBACK_SWITCH in os.environ:
        return
    if "ray" in sys.modules:  # too late to change its mind, and its processes must agree on the address
        log.warning(
            "ray was imported before simsearch started it, so this local Ray listens on every interface; "
            "set %s=0 before importing ray to keep it to 127.0.0.1",
            _LOOPBACK_SWITCH,
        )
        return
    os.environ[_LOOPBACK_SWITCH] = "0"


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("the ray engine needs Ray; pip install 'simsearch[ray]'") from None
    return ray


def _check_counts(workers: int | None, gpus_per_worker: float | None) -> None:
    if workers is not None and (not is_whole_number(workers) or workers < 1):
        raise InvalidArgumentError(f"workers must be a whole number of at least 1 (got {workers!r}).")
    if gpus_per_worker is not None and not gpus_per_worker > 0:
        raise InvalidArgumentError(f"GPUs per worker must be more than 0 (got {gpus_per_worker!r}).")


def _check_reachable(address: str) -> None:
    """Refuse a malformed or unreachable address at once: Ray itself waits a minute or more on one."""
    if address == "auto":
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidArgumentError(
            f"Ray address {address!r} is not auto, host:port or ray://host:port; "
            "give the head node's address, or none to start Ray on this machine."
        )
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InvalidArgumentError(
            f"no Ray cluster answers at {address!r} ({exc.strerror or exc}); "
            "check the head node's address and port, or give none to start Ray here."
        ) from None


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Start Ray on this machine (``num_cpus``, default all its cores) or join the cluster at ``address``,
    quietly: no dashboard, no worker logs or Ray Data bars on the terminal (the build's own bar is there).

    The ray engine calls this itself; call it first to keep one Ray session for several builds.
    """
    if address is None:
        _keep_to_loopback()
    ray = _import_ray()
    environment = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    # py_modules ships this simsearch to every worker, so a cluster runs the driver's code, not whatever it has
    runtime_env = {"py_modules": [str(Path(__file__).parent.parent)], "env_vars": environment}
    local = {"num_cpus": num_cpus or os.cpu_count() or 1, "include_dashboard": False} if address is None else {}
    # Ray's C++ core prints advisory ERROR lines to stderr (one per actor pool); real failures still
    # reach us as Python exceptions. A caller's own setting wins.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        ray.init(
            address=address,
            runtime_env=runtime_env,
            logging_level=logging.ERROR,
            log_to_driver=False,
            configure_logging=True,
            **local,
        )
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InvalidArgumentError(
            f"cannot start or join Ray at {address or 'this machine'!r} ({str(exc).splitlines()[0]})."
        ) from None
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for handler in logging.getLogger("ray.data").handlers:  # its console handler prints INFO lines; files keep all
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.ERROR)


def _pool_shape(
    resources: dict[str, float], workers: int | None, gpus_per_worker: float | None
) -> tuple[int, float, float]:
    """(workers, CPUs each, GPUs each) that the cluster can run at once; Ray would wait forever otherwise."""
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    if gpus_per_worker:
        if gpus < gpus_per_worker:
            raise InvalidArgumentError(
                f"the Ray cluster has {gpus:g} GPUs, fewer than the {gpus_per_worker:g} "
                "asked for per worker; ask for fewer, or leave GPUs out to encode on CPUs."
            )
        most = int(gpus // gpus_per_worker)
        workers = workers or most
        if workers > most:
            raise InvalidArgumentError(
                f"{workers} workers with {gpus_per_worker:g} GPUs each need "
                f"{workers * gpus_per_worker:g} GPUs; the Ray cluster has {gpus:g}."
            )
        return workers, 1.0 if cpus >= workers else cpus / workers, gpus_per_worker
    workers = workers or max(1, int(cpus))
    # More workers than cores share them: each reserves its fraction, so the whole pool starts.
    return workers, max(cpus, 1.0) / workers if workers > cpus else max(1.0, cpus // workers), 0.0
