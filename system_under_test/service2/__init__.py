"""service-2: answers service-1's invocations and remembers them per run."""
