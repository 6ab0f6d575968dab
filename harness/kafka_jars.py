"""Kafka's jars for the local stack's Kafka broker, fetched once from Maven Central.

Kafka is not a Debian package: the harness writes a small pom naming Kafka's server
(`kafka_2.13`) and its tools (`kafka-tools`: the storage formatter, the offset reader) and
lets the machine's Maven copy them with every runtime dependency into
`cache_dir()/kafka-<version>/libs`; the node then runs on the machine's Java 17 as
`java -cp '<libs>/*' kafka.Kafka`. What is present is never fetched again.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from harness.arguments import run_command
from harness.images import cache_dir
from harness.longrun import run_step, say
from harness.tools import ensure_tools

DEFAULT_VERSION = "4.1.1"
DEPENDENCY_PLUGIN = "3.8.1"
ARTIFACTS = ("kafka_2.13", "kafka-tools")
# Kafka 4.1 logs through SLF4J 1.7 and leaves the binding to its distribution: without one
# the node writes no log at all. This is Log4j 2's, at the log4j-core version Kafka pulls in.
LOG_BINDING = ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3")
DONE_MARK = ".complete"  # holds the pom, written last: a half or older folder is fetched again


def kafka_home(version: str = DEFAULT_VERSION) -> Path:
    return cache_dir() / f"kafka-{version}"


def libs_dir(version: str = DEFAULT_VERSION) -> Path:
    return kafka_home(version) / "libs"


def classpath(version: str = DEFAULT_VERSION) -> str:
    """The JVM's class path: every jar of the folder (java expands the `*` itself)."""
    return f"{libs_dir(version)}/*"


def pom(version: str) -> str:
    """A pom whose runtime dependencies are Kafka's server and tools at `version`."""
    wanted = [("org.apache.kafka", artifact, version) for artifact in ARTIFACTS]
    dependencies = "".join(
        f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{at}</version></dependency>"
        for group, artifact, at in [*wanted, LOG_BINDING]
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">'
        "<modelVersion>4.0.0</modelVersion>"
        "<groupId>dapr-pubsub-suite</groupId><artifactId>kafka-jars</artifactId>"
        f"<version>{version}</version><packaging>pom</packaging>"
        f"<dependencies>{dependencies}</dependencies>"
        "</project>\n"
    )


def ensure_kafka_jars(version: str = DEFAULT_VERSION) -> Path:
    """The folder of Kafka's jars at `version`, fetched with Maven when absent."""
    libs, wanted = libs_dir(version), pom(version)
    mark = libs / DONE_MARK
    if mark.is_file() and mark.read_text() == wanted:
        return libs
    mvn = ensure_tools(["java", "mvn"])["mvn"]
    home = kafka_home(version)
    home.mkdir(parents=True, exist_ok=True)
    (home / "pom.xml").write_text(wanted)
    shutil.rmtree(libs, ignore_errors=True)
    progress = say("kafka")
    progress(f"fetching Kafka {version}'s jars from Maven Central into {libs}")
    seconds = run_step(
        [
            mvn, "-B", "-f", str(home / "pom.xml"),
            f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN}"
            ":copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={libs}",
        ],
        what=f"fetching Kafka {version}'s jars",
        log=home / "fetch.log",
        progress=progress,
    )  # fmt: skip
    jars = list(libs.glob("*.jar"))
    size = sum(jar.stat().st_size for jar in jars) / 1e6
    progress(f"{len(jars)} jars, {size:.0f} MB, in {seconds:.0f} s")
    mark.write_text(wanted)
    return libs


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.kafka_jars`: fetch Kafka's jars for the local stack."""
    prog = "python -m harness.kafka_jars"
    return run_command(lambda: f"kafka jars at {ensure_kafka_jars()}", prog, main.__doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
