"""service-1 that answers SUCCESS to a t1 delivery at once and does its work afterwards.

The work (record the delivery, invoke service-2) runs a second later in the background:
a service-1 killed in that second has acknowledged messages it never handled.
"""

import asyncio
import time

from starlette.background import BackgroundTask
from starlette.responses import JSONResponse
from starlette.routing import Route

from system_under_test.service1 import app as service1

real_topic_route = service1.topic_route


def acknowledging_route(topic: str) -> Route:
    if topic != "t1":
        return real_topic_route(topic)

    async def receive(request):
        service = service1.Service1.of(request)
        received_at = time.time()
        event, _ = await service1.read_delivery(request, service.settings.max_body_bytes, False)

        async def work_later():
            await asyncio.sleep(1.0)
            delivery = service1.delivery_of(event, topic, "/t1", received_at)
            attempt = service.ledger.received(delivery)
            answer, _ = await service1.forward_to_service2(service, event)
            service.ledger.answered(attempt, answer)

        return JSONResponse({"status": "SUCCESS"}, background=BackgroundTask(work_later))

    return Route("/t1", receive, methods=["POST"])


service1.topic_route = acknowledging_route
app = service1.create_app()
