"""service-1 that acknowledges t1 events without invoking service-2."""

from system_under_test.service1 import app as service1

service1.BEHAVIOURS["t1"] = service1.succeed
app = service1.create_app()
