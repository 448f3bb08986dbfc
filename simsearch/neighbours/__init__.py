"""Every document against every other: near-duplicates and clusters.

``CLUSTER_COLUMN`` is public: the metadata column ``Index.clusters(save=True)`` writes. The modules
here are internal and may move.
"""

from __future__ import annotations

from simsearch.neighbours.clustering import CLUSTER_COLUMN

__all__ = ["CLUSTER_COLUMN"]
