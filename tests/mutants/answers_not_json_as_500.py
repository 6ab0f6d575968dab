"""service-1 that sends its non-JSON reply with status 500 instead of 200 (daprd retries it)."""

from starlette.responses import PlainTextResponse

from system_under_test.service1 import app as service1
from system_under_test.service1.features import answers

answers.REPLIES["not-json"] = ("NOT-JSON", lambda: PlainTextResponse("thanks", status_code=500))
app = service1.create_app()
