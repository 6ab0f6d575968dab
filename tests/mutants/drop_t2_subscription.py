"""service-1 whose /dapr/subscribe no longer lists topic t2."""

import json

from starlette.routing import Route

from system_under_test.service1 import app as service1


async def subscribe_without_t2(request):
    response = await service1.dapr_subscribe(request)
    kept = [sub for sub in json.loads(response.body) if sub["topic"] != "t2"]
    return service1.JSONResponse(kept)


service1.routes[0] = Route("/dapr/subscribe", subscribe_without_t2, methods=["GET"])
app = service1.create_app()
