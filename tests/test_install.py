"""A plain (not editable) `pip install .` from an unrelated folder: build, search, `simsearch serve`, `simsearch ui`.

The install goes into a fresh virtual environment that sees this environment's packages
through a path file (so nothing is downloaded) but not its editable install of the
checkout: what runs is exactly what the wheel ships.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from simsearch.testing import free_port, wait_until_serving
from tests.conftest import REPO

pytestmark = pytest.mark.slow
# Python's own warning categories (BuildBackendWarning, SetuptoolsDeprecationWarning, ...), not pip's "WARNING:"
PACKAGING_WARNING = re.compile(r"\b[A-Z]\w*Warning\b")


def test_every_package_folder_is_listed_in_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"simsearch": REPO / "simsearch", "simsearch_ui": REPO / "ui"}
    found = {
        ".".join([top, *folder.relative_to(root).parts])
        for top, root in folders.items()
        for folder in [root, *root.rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(p.is_file() for p in folder.iterdir())
    }
    assert found == set(setuptools["packages"])
    assert setuptools["package-dir"]["simsearch_ui"] == "ui"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the checkout to install from, so the checkout itself gets no build/ or egg-info."""
    copy = tmp_path_factory.mktemp("source") / "simsearch"
    shutil.copytree(
        REPO,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "indexes", "artifacts", "build", "site", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    return copy


def installed_venv(folder: Path, source: Path, shared: list[Path]) -> subprocess.CompletedProcess[str]:
    """``pip install .`` (not editable) into a fresh venv at ``folder`` that sees the packages in ``shared``.

    The shared folders are plain path lines: their packages become importable, but their .pth
    hooks (the editable checkout's finder among them) do not run.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    (site_packages,) = folder.glob("lib/python*/site-packages")
    (site_packages / "shared.pth").write_text("".join(f"{path}\n" for path in shared))
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(folder / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-cache-dir",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return installed


@pytest.fixture(scope="module")
def venv(tmp_path_factory, source) -> Path:
    """simsearch with every extra: this environment's packages, all of them."""
    folder = tmp_path_factory.mktemp("venv")
    installed = installed_venv(folder, source, [Path(path) for path in site.getsitepackages()])
    assert not PACKAGING_WARNING.search(installed.stdout + installed.stderr), installed.stdout + installed.stderr
    return folder


EXTRA_DISTRIBUTIONS = (
    "streamlit",
    "fastapi",
    "uvicorn",
    "httptools",
    "uvloop",
    "datasets",
    "accelerate",
    "matplotlib",
    "ray",
)


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory, source) -> Path:
    """simsearch without its extras: it sees a copy of this environment's packages less the extras' own."""
    core_site = tmp_path_factory.mktemp("core-site")
    for shared in map(Path, site.getsitepackages()):
        for entry in shared.iterdir():
            distribution = re.split(r"[-.]", entry.name.lower(), maxsplit=1)[0]
            if distribution not in EXTRA_DISTRIBUTIONS and not entry.name.startswith(("__editable__", "simsearch")):
                (core_site / entry.name).symlink_to(entry)
    folder = tmp_path_factory.mktemp("core-venv")
    installed_venv(folder, source, [core_site])
    return folder


def run_installed(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "simsearch"), *args],
        cwd=cwd,
        env=installed_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def installed_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**env, "HF_HUB_OFFLINE": "1", "SIMSEARCH_API_KEY": ""}


def test_the_installed_package_is_the_wheel_not_the_checkout(venv, tmp_path):
    found = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import simsearch, simsearch_ui; print(simsearch.__file__); print(simsearch_ui.__file__)",
        ],
        cwd=tmp_path,
        env=installed_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    for path in found.stdout.split():
        assert Path(path).is_relative_to(venv), path
    assert (next(venv.glob("lib/python*/site-packages/simsearch/data")) / "demo.csv").is_file()


@pytest.fixture
def built_home(venv, tiny_model, animals, tmp_path) -> Path:
    corpus = tmp_path / "animals.csv"
    with corpus.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["id", "text", "category"])
        writer.writeheader()
        writer.writerows(animals)
    home = tmp_path / "indexes"
    built = run_installed(
        venv,
        "build",
        "zoo",
        "--input",
        str(corpus),
        "--id-column",
        "id",
        "--model",
        tiny_model,
        "--index-dir",
        str(home),
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    return home


def test_installed_cli_builds_and_searches(venv, built_home, tmp_path):
    found = run_installed(
        venv,
        "search",
        "zoo",
        "The cat sleeps on the warm windowsill.",
        "--index-dir",
        str(built_home),
        "-k",
        "1",
        cwd=tmp_path,
    )
    assert found.returncode == 0, found.stderr
    assert "windowsill" in found.stdout


def test_installed_serve_answers_a_search_over_http(venv, built_home, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "simsearch"), "serve", "--port", str(port), "--index-dir", str(built_home)],
        cwd=tmp_path,
        env=installed_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", server)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/indexes/zoo/search",
            method="POST",
            data=json.dumps({"query": "Heavy rain flooded the mountain trail.", "k": 1}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert answer["hits"][0]["id"] == "a8"
    finally:
        stop(server)


def wait_for_http(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    for _ in range(int(timeout / 0.25)):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"nothing answered at {url} within {timeout:.0f} s")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_installed_console_script_serves_the_ui_and_sigterm_stops_it(venv, built_home, tmp_path):
    (site_packages,) = venv.glob("lib/python*/site-packages")
    assert (site_packages / "simsearch_ui" / "app.py").is_file() and (site_packages / "simsearch_ui" / "views").is_dir()
    port = free_port()
    server = subprocess.Popen(
        [str(venv / "bin" / "simsearch"), "ui", "--port", str(port), "--index-dir", str(built_home)],
        cwd=tmp_path,
        env=installed_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server)
        command_line = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert b"streamlit" in command_line  # `simsearch ui` became the server: same process, no child
        assert str(site_packages / "simsearch_ui" / "app.py").encode() in command_line
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) is not None
        with pytest.raises(ProcessLookupError):  # nothing of its process group is left
            os.killpg(server.pid, 0)
        assert not listening(port)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_the_core_install_builds_and_searches_and_names_each_missing_extra(core_venv, tiny_model, tmp_path):
    corpus = tmp_path / "notes.txt"
    corpus.write_text("The train was two hours late.\nI love jazz.\nOur rail trip ran late.\n")
    home = str(tmp_path / "indexes")
    built = run_installed(
        core_venv, "build", "notes", "--input", str(corpus), "--model", tiny_model, "--index-dir", home, cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    found = run_installed(
        core_venv,
        "search",
        "notes",
        "two hours late",
        "--mode",
        "lexical",
        "--index-dir",
        home,
        "-k",
        "1",
        cwd=tmp_path,
    )  # the tiny random model ranks by chance; BM25 does not
    assert found.returncode == 0 and "two hours late" in found.stdout, found.stderr
    for extra, command in [("serve", ["serve"]), ("ui", ["ui"]), ("train", ["train", "--pairs", "p.csv", "-o", "m"])]:
        refused = run_installed(core_venv, *command, cwd=tmp_path)
        lines = refused.stderr.strip().splitlines()
        assert refused.returncode != 0 and len(lines) == 1, refused.stderr
        assert f"pip install 'simsearch[{extra}]'" in lines[0]
