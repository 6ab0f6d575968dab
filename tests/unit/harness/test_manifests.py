"""Reading the objects of a manifest file."""

from __future__ import annotations

from pathlib import Path

from harness.manifests import documents, objects_in


def test_every_object_of_a_manifest_is_read_and_empty_documents_are_left_out(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text("---\nkind: Service\n---\n---\nkind: Job\nmetadata: {name: ü}\n---\n")
    assert documents(manifest) == [{"kind": "Service"}, {"kind": "Job", "metadata": {"name": "ü"}}]


def test_a_stream_without_objects_has_none() -> None:
    assert objects_in("---\n# nothing\n") == []
