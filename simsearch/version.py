"""The version of simsearch: written here only; pyproject.toml and the manifests read it."""

from __future__ import annotations

__version__ = "0.1.0"
