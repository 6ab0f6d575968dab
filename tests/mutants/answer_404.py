"""service-1 that answers every t1 and t2 delivery with HTTP 404 (Dapr drops them)."""

from starlette.responses import JSONResponse

from system_under_test.service1 import app as service1


async def not_found(service, event):
    return "404", JSONResponse({"error": "mutant: not found"}, status_code=404)


service1.BEHAVIOURS.update({"t1": not_found, "t2": not_found})
app = service1.create_app()
