"""What service-1 and service-2 share, one module per concept.

Both services are thin on purpose: every call to Dapr goes through `daprd.DaprClient`, every
request body through `bodies.read_json_object`, and every failure ends as a JSON answer
(`errors`), never a traceback. Nothing here imports the suite's harness (the services parse
their own environment, apart from `harness.env`): the services ship alone, unchanged in a
container or on a cluster.
"""
