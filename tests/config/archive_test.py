"""Bundle archives: the files unchanged, versions, secret references only, bounded."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from docflow.config.archive import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_FILES,
    ArchiveError,
    BundleArchive,
    LiteralSecretsError,
)
from docflow.config.bundle import load_bundle
from docflow.config.diff import diff_bundles, read_bundle_files
from docflow.settings import DEFAULT_CONFIG_DIR


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for profile in ("dev", "test", "prod"):
        shutil.copytree(DEFAULT_CONFIG_DIR / profile, tmp_path / "config" / profile)
    return tmp_path / "config"


def test_round_trip_reproduces_the_bundle(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OTCS_PASSWORD", "not-shown")
    monkeypatch.delenv("TEST_DOCFLOW_API_KEY_CRM", raising=False)
    # CRLF and comments survive: the files travel byte for byte.
    settings = config_dir / "test" / "settings.toml"
    settings.write_bytes(settings.read_bytes().replace(b"\n", b"\r\n"))
    archive = BundleArchive.from_directory(
        config_dir / "test", now=datetime(2026, 12, 8, tzinfo=UTC)
    )
    bundle = load_bundle("test", config_dir, check_secrets=False)
    assert (archive.profile, archive.version) == ("test", bundle.version)
    assert archive.file_versions == bundle.file_versions
    refs = {(r.file, r.path): r for r in archive.secret_references}
    assert refs[("settings.toml", "content_server.password")].resolves is True
    assert refs[("settings.toml", "api.api_keys[0].key")].resolves is False
    assert "not-shown" not in archive.to_json()

    path = tmp_path / "test.json"
    path.write_text(archive.to_json())
    again = BundleArchive.read(path)
    assert again == archive
    target = tmp_path / "imported" / "test"
    again.write_to(target)
    for name in archive.files:
        assert (target / name).read_bytes() == (config_dir / "test" / name).read_bytes()
    assert load_bundle("test", target.parent, check_secrets=False).version == archive.version
    assert diff_bundles(again.to_files(), read_bundle_files(config_dir / "test")).same


def test_unchecked_secrets_are_unknown(config_dir: Path) -> None:
    archive = BundleArchive.from_directory(config_dir / "prod", check_secrets=False)
    assert archive.secret_references
    assert {r.resolves for r in archive.secret_references} == {None}


def test_literal_secrets_are_refused_unless_allowed(config_dir: Path) -> None:
    with pytest.raises(LiteralSecretsError) as error:
        BundleArchive.from_directory(config_dir / "dev")
    assert "settings.toml: core_signature.client_secret" in str(error.value)
    assert "dev-core-signature-secret" not in str(error.value)
    archive = BundleArchive.from_directory(config_dir / "dev", allow_literals=True)
    literal = [r for r in archive.secret_references if r.reference.startswith("value:")]
    assert literal and {r.reference for r in literal} == {"value:<literal>"}
    # The files themselves are unchanged (that is what --allow-literals accepts).
    assert archive.files == read_bundle_files(config_dir / "dev")


def test_an_invalid_bundle_is_not_archived(config_dir: Path) -> None:
    from docflow.config.bundle import BundleError

    (config_dir / "prod" / "records.json").write_text("{")
    with pytest.raises(BundleError):
        BundleArchive.from_directory(config_dir / "prod")


def _archive(files: dict[str, str]) -> BundleArchive:
    return BundleArchive(
        profile="test",
        version="v",
        file_versions={},
        exported_at=datetime(2026, 12, 8, tzinfo=UTC),
        files=files,
    )


def test_size_and_names_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="at most 64 files"):
        _archive({f"f{i}.json": "{}" for i in range(MAX_ARCHIVE_FILES + 1)})
    with pytest.raises(ValidationError, match=f"at most {MAX_ARCHIVE_BYTES} bytes"):
        _archive({"a.json": "x" * (MAX_ARCHIVE_BYTES // 2), "b.json": "y" * MAX_ARCHIVE_BYTES})
    with pytest.raises(ValidationError, match="plain names"):
        _archive({"../settings.toml": ""})
    assert _archive({"a.json": "x" * (MAX_ARCHIVE_BYTES - 10)}).files

    huge = tmp_path / "huge.json"
    huge.write_text(" " * (3 * MAX_ARCHIVE_BYTES + 1))
    with pytest.raises(ArchiveError, match="an archive is at most"):
        BundleArchive.read(huge)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ArchiveError, match="not a bundle archive"):
        BundleArchive.read(other)


def test_a_literal_is_never_listed_as_a_reference() -> None:
    with pytest.raises(ValidationError, match="a literal secret is never listed"):
        BundleArchive.model_validate(
            {
                **_archive({}).model_dump(),
                "secret_references": [
                    {"file": "settings.toml", "path": "x", "reference": "value:secret"}
                ],
            }
        )
