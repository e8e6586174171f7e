"""The FerretDB patch of the local build applies only to the code it was written for."""

from pathlib import Path

import pytest

from local_infra.provision import _EDITS, _PATCH_FILES, PATCH_DIR, ProvisionError, apply_edits


def tree(tmp_path: Path, text: str) -> Path:
    (tmp_path / "internal").mkdir()
    (tmp_path / "internal" / "a.go").write_text(text)
    return tmp_path


def test_each_edit_replaces_its_one_occurrence(tmp_path: Path) -> None:
    root = tree(tmp_path, "func Query() {\n\treturn\n}\n")
    apply_edits(root, [("internal/a.go", "func Query() {\n", "func queryScan() {\n")], "v1")
    assert (root / "internal" / "a.go").read_text() == "func queryScan() {\n\treturn\n}\n"


@pytest.mark.parametrize("text", ["func Other() {}\n", "func Query() {\nfunc Query() {\n"])
def test_code_the_patch_does_not_expect_fails_provisioning_clearly(
    tmp_path: Path, text: str
) -> None:
    root = tree(tmp_path, text)
    with pytest.raises(ProvisionError, match=r"internal/a\.go is not the code.*update the patch"):
        apply_edits(root, [("internal/a.go", "func Query() {\n", "func queryScan() {\n")], "v9")
    assert (root / "internal" / "a.go").read_text() == text  # nothing half-applied


def test_every_patch_file_exists_and_every_edit_changes_something() -> None:
    assert all((PATCH_DIR / name).is_file() for name in _PATCH_FILES)
    assert all(old != new and old for _, old, new in _EDITS)
