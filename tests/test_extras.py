"""A feature whose extra is not installed stops with one line naming the `pip install` that brings it.

The stack is made unimportable the way Python itself spells it (``sys.modules[name] = None``)
in a fresh interpreter running the real CLI, so nothing else about the install changes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from simsearch.errors import MissingDependencyError
from simsearch.extras import EXTRA_MODULES, missing_modules, require_extra
from tests.conftest import REPO

RUN_WITHOUT = (
    "import sys\nfor name in sys.argv[1].split(','):\n    sys.modules[name] = None\n"
    "from simsearch.cli import main\nsys.argv = ['simsearch', *sys.argv[2:]]\nmain()\n"
)


def cli_without(modules: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT, ",".join(modules), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": ""},
    )


@pytest.mark.parametrize(
    ("extra", "command"),
    [("serve", ["serve"]), ("ui", ["ui"]), ("train", ["train", "--pairs", "p.csv", "--output", "out"])],
)
def test_a_command_without_its_extra_names_the_install_in_one_line(extra, command):
    result = cli_without(EXTRA_MODULES[extra], *command)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"pip install 'simsearch[{extra}]'" in lines[0], result.stderr


def test_only_the_missing_modules_are_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "accelerate", None)
    assert missing_modules("train") == ["accelerate"]
    with pytest.raises(MissingDependencyError, match=r"fine-tuning needs accelerate, .*simsearch\[train\]"):
        require_extra("train", "fine-tuning")


def test_the_python_api_names_the_extra_too(monkeypatch, tmp_path):
    from simsearch.training.bi_encoder import train_model

    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(MissingDependencyError, match=r"simsearch\[train\]"):
        train_model(tmp_path / "pairs.csv", tmp_path / "out")
