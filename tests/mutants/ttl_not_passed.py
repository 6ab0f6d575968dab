"""service-1 that drops `ttl` when publishing: expired messages are delivered after all."""

from system_under_test.service1 import app as service1
from system_under_test.service1.features import publishing

metadata_of = publishing.publish_metadata


def metadata_without_ttl(request):
    metadata = metadata_of(request)
    metadata.pop("ttlInSeconds", None)
    return metadata


publishing.publish_metadata = metadata_without_ttl
app = service1.create_app()
