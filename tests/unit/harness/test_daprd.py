"""Finding, version-checking and building daprd, without building it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import daprd
from harness.errors import HarnessError

GOMOD = """module github.com/dapr/dapr

go 1.26.6

require (
\tgithub.com/dapr/kit v0.18.3
)

replace (
\t// a fork
\tdubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3
\tgithub.com/apache/pulsar-client-go v0.18.0 => github.com/twmb/pulsar-client-go v0.20.1
)

replace github.com/gobwas/pool => github.com/gobwas/pool v0.2.1

// replace github.com/dapr/kit => ../kit
"""


def fake_daprd(path: Path, version: str) -> Path:
    """A script that answers `--version` like daprd does."""
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("raw", ["1.18.3", "v1.18.3", " 1.18.3 ", "1.19.0-rc.1"])
def test_release_numbers_are_accepted(raw):
    assert daprd.check_version_string(raw) == raw.strip().lstrip("v")


@pytest.mark.parametrize("raw", ["latest", "1.18", "1.18.3.4", "", "1.x.0"])
def test_other_versions_are_refused_with_one_line(raw):
    with pytest.raises(HarnessError, match="is not a Dapr release number like 1.18.3"):
        daprd.check_version_string(raw)


def test_daprd_env_of_the_right_version_is_used(tmp_path):
    binary = fake_daprd(tmp_path / "daprd", "1.18.3")
    assert daprd.locate("1.18.3", {"DAPRD": str(binary), "PATH": ""}) == binary


def test_daprd_env_of_another_version_is_an_error(tmp_path):
    binary = fake_daprd(tmp_path / "daprd", "1.16.0")
    with pytest.raises(HarnessError, match=r"is version 1.16.0, the stack is pinned to 1.18.3"):
        daprd.locate("1.18.3", {"DAPRD": str(binary), "PATH": ""})


def test_daprd_that_is_not_executable_is_an_error(tmp_path):
    binary = fake_daprd(tmp_path / "daprd", "1.18.3")
    binary.chmod(0o644)
    with pytest.raises(HarnessError, match="is not executable"):
        daprd.locate("1.18.3", {"DAPRD": str(binary), "PATH": ""})


def test_missing_daprd_env_is_an_error(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        daprd.locate("1.18.3", {"DAPRD": str(tmp_path / "nope"), "PATH": ""})


def test_path_is_searched_before_the_default_install(tmp_path, monkeypatch):
    monkeypatch.setattr(daprd, "DEFAULT_INSTALL", tmp_path / "absent" / "daprd")
    binary = fake_daprd(tmp_path / "daprd", "1.18.3")
    assert daprd.locate("1.18.3", {"PATH": str(tmp_path)}) == binary
    assert daprd.locate("1.17.0", {"PATH": str(tmp_path)}) is None


def test_replace_lines_are_read_from_blocks_and_single_lines():
    assert daprd.replace_lines(GOMOD) == [
        "dubbo.apache.org/dubbo-go/v3 => dubbo.apache.org/dubbo-go/v3 v3.0.3",
        "github.com/apache/pulsar-client-go v0.18.0 => github.com/twmb/pulsar-client-go v0.20.1",
        "github.com/gobwas/pool => github.com/gobwas/pool v0.2.1",
    ]


def wrapper(tmp_path: Path, substitutes: dict[str, str]) -> str:
    gomod = tmp_path / "dapr.mod"
    gomod.write_text(GOMOD)
    info = daprd.ModuleInfo("1.18.3", "abc123", gomod)
    return daprd.wrapper_gomod(info, daprd.go_directive(GOMOD), substitutes)


def test_wrapper_module_requires_dapr_with_its_own_replaces(tmp_path):
    text = wrapper(tmp_path, {})
    assert "go 1.26.6" in text
    assert "require github.com/dapr/dapr v1.18.3" in text
    assert "\tgithub.com/gobwas/pool => github.com/gobwas/pool v0.2.1" in text
    assert "twmb/pulsar-client-go" in text


def test_substitutes_replace_or_drop_lines(tmp_path):
    text = wrapper(
        tmp_path,
        {
            "github.com/apache/pulsar-client-go": "",
            "github.com/iskorotkov/avro/v2": "local:avro",
            "github.com/dapr/durabletask-go": "github.com/dapr/durabletask-go v0.12.1",
        },
    )
    assert "twmb/pulsar-client-go" not in text
    assert "\tgithub.com/iskorotkov/avro/v2 => ./avro" in text
    assert "\tgithub.com/dapr/durabletask-go => github.com/dapr/durabletask-go v0.12.1" in text


def test_ldflags_carry_the_version_like_the_release_build():
    info = daprd.ModuleInfo("1.18.3", "abc123", Path("unused"))
    flags = daprd.ldflags(info)
    assert "-X github.com/dapr/dapr/pkg/buildinfo.version=1.18.3" in flags
    assert "-X github.com/dapr/dapr/pkg/buildinfo.gitcommit=abc123" in flags
    assert "-X github.com/dapr/kit/logger.DaprVersion=1.18.3" in flags


def test_refused_modules_are_read_from_go_output():
    stderr = (
        "\tgithub.com/x/y: github.com/dapr/durabletask-go@v0.12.4: reading "
        "https://proxy.example/github.com/dapr/durabletask-go/@v/v0.12.4.zip: 403 Forbidden\n"
        "\tserver response: This module version is not available.\n"
    )
    assert daprd.refused_modules(stderr) == {"github.com/dapr/durabletask-go"}


def test_every_known_substitute_is_used_only_when_refused():
    for version, table in daprd.SUBSTITUTES.items():
        assert daprd.VERSION_PATTERN.match(version)
        for refused, new in table.values():
            assert refused and (new == "" or new.startswith("local:") or " v" in new)


def test_other_releases_are_installed_beside_the_pinned_one(monkeypatch, tmp_path):
    monkeypatch.setattr(daprd, "DEFAULT_INSTALL", tmp_path / "daprd")
    assert daprd.install_path("1.18.3") == tmp_path / "daprd"
    assert daprd.install_path("1.16.0") == tmp_path / "daprd-1.16.0"
    assert daprd.build_record_path(tmp_path / "daprd-1.16.0").name == "daprd-1.16.0.build.json"
    assert daprd.build_record_path(tmp_path / "daprd").name == "daprd.build.json"


def test_a_release_is_found_at_its_own_install_path(monkeypatch, tmp_path):
    monkeypatch.setattr(daprd, "DEFAULT_INSTALL", fake_daprd(tmp_path / "daprd", "1.18.3"))
    other = fake_daprd(tmp_path / "daprd-1.16.0", "1.16.0")
    assert daprd.locate("1.16.0", {"PATH": ""}) == other
    assert daprd.locate("1.18.3", {"PATH": ""}) == tmp_path / "daprd"


def test_a_binary_of_another_version_is_not_installed(tmp_path):
    target = tmp_path / "daprd-1.16.0"
    script = b"#!/bin/sh\necho 1.18.3\n"
    with pytest.raises(HarnessError, match="built for 1.16.0 reports '1.18.3'; not installed"):
        daprd._install_bytes(script, target, "1.16.0")
    assert list(tmp_path.iterdir()) == []  # neither the binary nor its partial copy


def test_a_binary_of_the_right_version_is_installed(tmp_path):
    target = tmp_path / "daprd-1.16.0"
    daprd._install_bytes(b"#!/bin/sh\necho 1.16.0\n", target, "1.16.0")
    assert [p.name for p in tmp_path.iterdir()] == ["daprd-1.16.0"]


def test_the_proxy_answer_is_one_line():
    error = (
        "github.com/dapr/dapr@v1.17.1: reading https://proxy.golang.org/github.com/dapr/dapr/"
        "@v/v1.17.1.info: 403 Forbidden\n\tserver response: This module version is not available."
    )
    assert daprd.proxy_answer(error) == "403 Forbidden: This module version is not available."
    assert daprd.proxy_answer("go: something else\nlast words") == "last words"


def test_release_order():
    assert daprd.version_key("1.9.0") < daprd.version_key("1.16.0") < daprd.version_key("1.18.3")
    assert daprd.version_key("v1.19.0-rc.1") == (1, 19, 0)


@pytest.mark.parametrize("raw", ["latest", "1.x", "1.18"])
def test_a_malformed_version_on_the_command_line_is_one_line(raw, capsys):
    assert daprd.main(["--version", raw]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not a Dapr release number" in err


def test_a_refused_version_names_what_the_proxy_answered(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(daprd, "DEFAULT_INSTALL", tmp_path / "daprd")
    answer = (
        "github.com/dapr/dapr@v1.17.1: reading https://proxy/x: 403 Forbidden\n"
        "\tserver response: This module version is not available."
    )
    refused = subprocess.CompletedProcess([], 1, json.dumps({"Error": answer}), "")
    monkeypatch.setattr(daprd, "_go", lambda *a, **k: refused)
    assert daprd.main(["--version", "1.17.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "error: unknown Dapr version 1.17.1: the Go module proxy does not serve "
        "github.com/dapr/dapr@v1.17.1 (403 Forbidden: This module version is not available.)"
    )
    assert list(tmp_path.iterdir()) == []


def test_without_go_an_absent_daprd_is_named_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(daprd, "DEFAULT_INSTALL", tmp_path / "daprd")
    monkeypatch.setattr(daprd, "locate", lambda version: None)
    monkeypatch.setattr(daprd.shutil, "which", lambda name: None)
    assert daprd.main(["--version", "1.16.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: daprd 1.16.0 is not installed and `go` is not on PATH to build it from the "
        "Go module proxy; install Go, or point DAPRD at a daprd binary"
    ]
    assert list(tmp_path.iterdir()) == []


def test_upgrades_replace_modules_that_no_longer_compile(tmp_path):
    text = wrapper(tmp_path, daprd.UPGRADES["1.16.0"])
    assert "\tgithub.com/choleraehyq/pid => github.com/choleraehyq/pid v0.0.24" in text
