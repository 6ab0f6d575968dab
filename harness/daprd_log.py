"""What daprd says in its own log about its start: whether its name resolver came up.

daprd that fails to start its name resolver logs the error and runs on without one: its
health check answers, yet every service invocation fails with "no host found". Only the
log tells the two apart.
"""

from __future__ import annotations

import re

_RESOLVER_STARTED = "Initialized name resolution to "
_ERROR = re.compile(r'level=error msg="((?:[^"\\]|\\.)*)"')


def name_resolver_started(log_text: str) -> bool:
    return _RESOLVER_STARTED in log_text


def name_resolver_failure(log_text: str) -> str | None:
    """daprd's error when its name resolver ("nr (sqlite/v1)") failed to start, else None."""
    for message in _ERROR.findall(log_text):
        if "INIT_COMPONENT_FAILURE" in message and " for nr (" in message:
            return str(message).replace('\\"', '"')
    return None
