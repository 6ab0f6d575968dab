"""locust alone: a FastHttpUser posting one fixed message, none of the suite's accounting.

The generator benchmark runs it beside the suite's locustfile, so that locust's own cost per
publish shows apart from what the suite adds (a body per message, the journal, the outcome).
The message is `BENCH_MESSAGE_BYTES` long (256 by default), like the suite's.

    locust -f loadtests/bare_locustfile.py --headless --host http://127.0.0.1:19069
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

from loadtests.messages import encode, message_body

BODY = encode(message_body("bare", 0, 0.0, int(os.environ.get("BENCH_MESSAGE_BYTES", "256"))))
HEADERS = {"Content-Type": "application/json"}


class BarePublisher(FastHttpUser):
    wait_time = constant(0)

    @task
    def publish(self) -> None:
        self.client.post("/publish/t1", data=BODY, headers=HEADERS)  # type: ignore[arg-type]
