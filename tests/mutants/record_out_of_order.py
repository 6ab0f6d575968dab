"""service-1 that answers SUCCESS to a t1 delivery at once and records it afterwards, the
odd-numbered ones later than the even: what daprd handed over in order is recorded out of it
(an app that hands its deliveries to a pool of workers)."""

import asyncio
import time

from starlette.background import BackgroundTask
from starlette.responses import JSONResponse
from starlette.routing import Route

from system_under_test.service1 import app as service1

real_topic_route = service1.topic_route


def reordering_route(topic: str) -> Route:
    if topic != "t1":
        return real_topic_route(topic)

    async def receive(request):
        service = service1.Service1.of(request)
        received_at = time.time()
        event, _ = await service1.read_delivery(request, service.settings.max_body_bytes, False)

        async def record_later():
            seq = event.message.get("seq") or 0
            await asyncio.sleep(0.3 if seq % 2 else 0.0)
            delivery = service1.delivery_of(event, topic, "/t1", received_at)
            attempt = service.ledger.received(delivery)
            answer, _ = await service1.forward_to_service2(service, event)
            service.ledger.answered(attempt, answer)

        return JSONResponse({"status": "SUCCESS"}, background=BackgroundTask(record_later))

    return Route("/t1", receive, methods=["POST"])


service1.topic_route = reordering_route
app = service1.create_app()
