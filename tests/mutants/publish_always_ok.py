"""service-1 whose publish API answers 200 even when daprd refused or failed the publish."""

from starlette.responses import JSONResponse
from starlette.routing import Route

from system_under_test.common.errors import DaprError
from system_under_test.service1 import app as service1


async def publish_and_say_ok(request):
    try:
        return await service1.publish(request)
    except DaprError:
        return JSONResponse({"message": "published"})


service1.routes[1] = Route("/publish/{topic}", publish_and_say_ok, methods=["POST"])
app = service1.create_app()
