"""service-1: publishes, subscribes to t1/t2, invokes service-2, keeps the delivery ledger."""
