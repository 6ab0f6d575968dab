"""Ports of the local stack: a taken port is named with the process holding it."""

from __future__ import annotations

import os
import socket

import pytest

from harness.errors import HarnessError
from harness.ports import describe_ss_users, ensure_ports_free, is_port_free


def test_a_taken_port_is_named_with_its_holder():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert not is_port_free(port)
        holder = rf"port {port} \(redis\) is already taken by \S+ \(pid {os.getpid()}\)"
        with pytest.raises(HarnessError, match=holder):
            ensure_ports_free({"redis": port})
    assert is_port_free(port)


def test_ss_output_is_read_for_the_holder():
    line = 'LISTEN 0 511 127.0.0.1:6390 0.0.0.0:* users:(("redis-server",pid=42,fd=6))'
    assert describe_ss_users(line) == "redis-server (pid 42)"
    assert describe_ss_users("") == "unknown process"
