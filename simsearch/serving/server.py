"""`simsearch serve`: the app of ``serving.app`` on uvicorn, in one worker process or several sharing the port."""

from __future__ import annotations

import os

from simsearch.encoders.onnx_encoder import THREADS_VARIABLE
from simsearch.errors import InvalidArgumentError
from simsearch.extras import missing_extra_error
from simsearch.serving.state import ServerSettings

# Idle seconds a kept-alive connection stays open (uvicorn's own default is 5, nginx's 75): a client's pooled
# connection outlives a pause such as another worker loading a model for its first add.
KEEP_ALIVE_S = 75


def run_server(host: str, port: int, settings: ServerSettings, workers: int = 1) -> None:
    """Serve until interrupted: uvicorn with ``workers`` processes sharing the port.

    Every worker opens the indexes itself; a write through one is seen by the others at
    their next request (an index reopens when stale), and two writers at once get 409.
    """
    try:
        import uvicorn
    except ImportError:
        raise missing_extra_error("serve", "the HTTP server") from None
    if workers < 1:
        raise InvalidArgumentError(f"workers must be at least 1 (got {workers}).")
    if settings.rerank is not None:
        from simsearch.query import check_cross_encoder

        check_cross_encoder(settings.rerank)  # a wrong folder stops the server here, before any worker starts
    settings.to_environment()
    # Concurrent requests, not threads inside one model call, use the cores: on 2 cores, 8 concurrent
    # short queries over 100k documents got 223 q/s from one worker with one ONNX thread per call and
    # 173 q/s with one per core (README, "Under load"). Workers inherit it; a value set by the user stays.
    os.environ.setdefault(THREADS_VARIABLE, "1")
    uvicorn.run(
        "simsearch.serving.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_keep_alive=KEEP_ALIVE_S,
    )
