"""The services' daprd client over its real transport (aiohttp's pool), on loopback."""

from __future__ import annotations

import asyncio
import socket

import pytest

from system_under_test.common.daprd import DaprClient, daprd_transport
from system_under_test.common.errors import DaprError


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_refused_connection_is_named_as_such_not_as_a_timeout():
    async def read_state() -> None:
        endpoint = f"http://127.0.0.1:{closed_port()}"
        async with daprd_transport() as transport:
            await DaprClient(endpoint, "", 5.0, transport).get_state("statestore", "key")

    with pytest.raises(DaprError) as raised:
        asyncio.run(read_state())
    assert raised.value.status is None
    assert "ClientConnectorError" in str(raised.value)
    assert "Timeout" not in str(raised.value)
