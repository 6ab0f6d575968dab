"""service-1 whose gRPC streaming subscription opens on the wrong topic."""

from functools import partial

from system_under_test.service1 import app as service1
from system_under_test.service1.features import streaming

streaming.streaming = partial(streaming.streaming, topic="streamed-elsewhere")
app = service1.create_app()
