"""The README's examples run as written, with the real default model.

Every ```bash and ```python block runs (```console blocks, such as `make run`, are the
commands the rest of the suite stands for, and do not). The bash blocks run in order in
one fresh folder, as a reader would type them; the server's port 8000 is swapped for a
free one, the only change, so a busy port on the test machine cannot fail the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simsearch.testing import free_port
from tests.conftest import REPO

pytestmark = pytest.mark.slow
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_blocks(language: str) -> list[str]:
    return [
        body
        for found_language, body in _BLOCK.findall((REPO / "README.md").read_text(encoding="utf-8"))
        if found_language == language
    ]


def reader_env() -> dict[str, str]:
    """A shell where `simsearch` is this checkout's, as after `make install`."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "SIMSEARCH_API_KEY": ""}


def test_the_readme_has_its_three_ways_in():
    assert len(readme_blocks("bash")) == 3 and len(readme_blocks("python")) == 1
    assert any("make run" in block and "make test" in block for block in readme_blocks("console"))


def test_the_readme_shell_examples_run_in_order(tmp_path):
    port = str(free_port())
    for block in readme_blocks("bash"):
        script = "set -euo pipefail\n" + block.replace("8000", port)
        shell = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=reader_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = shell.communicate(timeout=600)
        finally:
            stop_group(shell.pid)  # a server the block started in the background ends with it
        assert shell.returncode == 0, f"{block}\n---\n{stdout[-2000:]}\n{stderr[-3000:]}"
        assert "train" in stdout.lower(), stdout  # each block ends by showing the train hits
        if "simsearch sync" in block:  # the edited file: n1 kept, n2 gone, n3's text changed, n4 new
            assert "1 added, 1 changed, 1 removed, 1 unchanged" in stdout, stdout


def stop_group(group: int) -> None:
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_the_readme_python_example_runs_and_finds_the_train(tmp_path):
    (python_block,) = readme_blocks("python")
    done = subprocess.run(
        [sys.executable, "-c", python_block],
        cwd=tmp_path,
        env=reader_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all("train" in line.lower() or "rail" in line.lower() for line in lines), done.stdout
    assert list(tmp_path.iterdir()) == []  # its files went to a temporary folder, not the working one
