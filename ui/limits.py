"""The upload cap, read without importing Streamlit: `simsearch ui` passes it to the server, the Build page shows it."""

from __future__ import annotations

import math
import os

from simsearch.errors import InputError

DEFAULT_MAX_UPLOAD_MB = 50


def max_upload_bytes() -> int:
    """Upload cap: $SIMSEARCH_UI_MAX_UPLOAD_MB (default 50 MB); bigger files belong to `simsearch build`."""
    raw = os.environ.get("SIMSEARCH_UI_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = float("nan")
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise InputError(f"SIMSEARCH_UI_MAX_UPLOAD_MB={raw!r} is not a positive number; set it to megabytes, e.g. 50.")
    return int(megabytes * 1024 * 1024)


def server_max_upload_mb() -> int:
    """The cap as Streamlit's ``server.maxUploadSize`` (whole megabytes, at least 1): the server refuses a
    bigger request body itself, before reading it into memory, whatever a client claims."""
    return max(1, math.ceil(max_upload_bytes() / 2**20))
