"""A plain (not editable) `pip install .`: every package is listed, and its console script serves the UI.

The install goes into a temporary --target folder, without dependencies (they come from
this environment), so the test sees exactly the files a wheel ships and nothing of the
source checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simsearch.testing import free_port, wait_until_serving
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_every_package_folder_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"simsearch": REPO / "simsearch", "simsearch_ui": REPO / "ui"}
    found = {".".join([top, *init.parent.relative_to(folder).parts])
             for top, folder in folders.items() for init in folder.rglob("__init__.py")}
    assert found == set(setuptools["packages"])
    assert setuptools["package-dir"]["simsearch_ui"] == "ui"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project installed into a fresh folder, built from a copy so the checkout gets no build/ or egg-info."""
    source = tmp_path_factory.mktemp("source") / "simsearch"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "indexes", "artifacts", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, timeout=300, cwd=target.parent)
    return target


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_installed_console_script_serves_the_ui_and_sigterm_stops_it(installed, tiny_model, animals, tmp_path):
    from simsearch import Index, load_encoder

    home = tmp_path / "indexes"
    Index.build("zoo", animals, encoder=load_encoder(tiny_model), index_dir=home)
    assert (installed / "simsearch_ui" / "app.py").is_file() and (installed / "simsearch_ui" / "views").is_dir()
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(installed)}
    server = subprocess.Popen([str(installed / "bin" / "simsearch"), "ui", "--port", str(port), "--index-dir",
                               str(home)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server)
        command_line = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert b"streamlit" in command_line  # `simsearch ui` became the server: same process, no child
        assert str(installed / "simsearch_ui" / "app.py").encode() in command_line
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) is not None
        with pytest.raises(ProcessLookupError):  # nothing of its process group is left
            os.killpg(server.pid, 0)
        assert not listening(port)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
