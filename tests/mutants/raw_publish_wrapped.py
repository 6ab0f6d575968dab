"""service-1 that ignores `raw=true` when publishing: the raw topic gets CloudEvents."""

from system_under_test.service1 import app as service1
from system_under_test.service1.features import publishing

metadata_of = publishing.publish_metadata


def metadata_without_raw(request):
    metadata = metadata_of(request)
    metadata.pop("rawPayload", None)
    return metadata


publishing.publish_metadata = metadata_without_raw
app = service1.create_app()
