"""service-1 whose subscriptions have no dead-letter topic: exhausted deliveries vanish."""

import json

from starlette.routing import Route

from system_under_test.service1 import app as service1


async def subscribe_without_dead_letters(request):
    response = await service1.dapr_subscribe(request)
    kept = [sub for sub in json.loads(response.body) if not sub["topic"].endswith("-dead-letter")]
    for sub in kept:
        sub.pop("deadLetterTopic", None)
    return service1.JSONResponse(kept)


service1.routes[0] = Route("/dapr/subscribe", subscribe_without_dead_letters, methods=["GET"])
app = service1.create_app()
