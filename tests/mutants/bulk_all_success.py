"""service-1 that answers SUCCESS for every entry of a bulk delivery, whatever the entry asks."""

from system_under_test.service1 import app as service1
from system_under_test.service1.features import bulk

bulk.entry_answer = lambda message: "SUCCESS"
app = service1.create_app()
