"""service-1 that keeps only the first arrival of a message in its ledger: a redelivery
is answered SUCCESS and left out, so the ledger hides Dapr's duplicates."""

from starlette.responses import JSONResponse

from system_under_test.service1 import app as service1
from system_under_test.service1.delivery import read_cloud_event

real_handle_delivery = service1.handle_delivery


async def handle_first_delivery_only(request, topic, route, behaviour, controllable):
    service = service1.Service1.of(request)
    body = await request.body()  # cached by Starlette: the real handler reads it again
    try:
        event = await read_cloud_event(request, service.settings.max_body_bytes)
    except Exception:  # noqa: BLE001 - the real handler rejects what it cannot read
        event = None
    if event is not None and body and service.ledger.attempts(event.event_id, topic) > 0:
        return JSONResponse({"status": "SUCCESS"})
    return await real_handle_delivery(request, topic, route, behaviour, controllable)


service1.handle_delivery = handle_first_delivery_only
app = service1.create_app()
