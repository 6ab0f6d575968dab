"""Fault injection for the local stack: the faults profile, Toxiproxy, open-model load,
the scenarios and their report."""
