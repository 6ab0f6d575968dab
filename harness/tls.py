"""A throwaway certificate authority for loopback TLS (kube-apiserver, the injector webhook).

Made with the openssl command every Debian machine has; the files live in the component's
run directory and die with it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    if not shutil.which("openssl"):
        raise HarnessError("openssl is missing: apt-get install -y openssl")
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_ca(directory: Path, name: str = "dapr-suite-ca") -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    ca = KeyPair(directory / "ca.crt", directory / "ca.key")
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={name}", "-keyout", str(ca.key), "-out", str(ca.cert),
    )  # fmt: skip
    return ca


def issue(ca: KeyPair, directory: Path, name: str, dns: list[str], ips: list[str]) -> KeyPair:
    """A serving certificate for `dns` names and `ips`, signed by `ca`."""
    pair = KeyPair(directory / f"{name}.crt", directory / f"{name}.key")
    csr = directory / f"{name}.csr"
    ext = directory / f"{name}.ext"
    sans = [f"DNS:{d}" for d in dns] + [f"IP:{ip}" for ip in ips]
    ext.write_text(
        f"subjectAltName={','.join(sans)}\nextendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
    )
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", str(pair.key), "-out", str(csr),
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(pair.cert),
    )  # fmt: skip
    return pair


def private_key(path: Path) -> Path:
    """An RSA key (kube-apiserver signs service-account tokens with it)."""
    _openssl("genrsa", "-out", str(path), "2048")
    return path
