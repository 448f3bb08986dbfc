"""The staged publish of a folder (simsearch.atomic): builds, trained models and ONNX exports go through it."""

from __future__ import annotations

import pytest

from simsearch.atomic import publish_folder, staged_folder


def test_a_block_that_fails_leaves_no_staged_folder_and_the_target_untouched(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(tmp_path, ".model.partial-") as staging:
        (staging / "weights").write_text("half")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert (target / "weights").read_text() == "old"


def test_publishing_replaces_an_old_folder_and_leaves_no_leftovers(tmp_path):
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale").write_text("old")
    with staged_folder(tmp_path, ".model.partial-") as staging:
        (staging / "sub").mkdir()
        (staging / "sub" / "weights").write_text("new")
        publish_folder(staging, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert [p.name for p in target.iterdir()] == ["sub"] and (target / "sub" / "weights").read_text() == "new"


def test_without_replace_a_folder_published_first_by_another_process_is_kept(tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "meta.json").write_text("first")
    with staged_folder(tmp_path, ".export.partial-") as staging:
        (staging / "meta.json").write_text("second")
        publish_folder(staging, target, replace=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
    assert (target / "meta.json").read_text() == "first"


def test_a_staged_folder_is_new_each_time_beside_its_target(tmp_path):
    with staged_folder(tmp_path, "x@") as first, staged_folder(tmp_path, "x@") as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.name.startswith("x@") and len(first.name) == len("x@") + 12
