"""The system under test: service-1 and service-2 of the Dapr pub/sub tutorial, on today's APIs."""
