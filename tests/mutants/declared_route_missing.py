"""service-1 without the route its declarative Subscription delivers to (daprd gets 404s)."""

from system_under_test.service1 import app as service1
from system_under_test.service1.features import declared

service1.routes[:] = [r for r in service1.routes if getattr(r, "path", "") != declared.ROUTE]
app = service1.create_app()
