"""Hosts: what drives the engine for a command: simulate, explain, test, run, ingest, serve.

Each host parses its inputs, opens the stores and adapters it is given and
feeds events and time to `wfdsl.runtime`; none of them prints.
"""
