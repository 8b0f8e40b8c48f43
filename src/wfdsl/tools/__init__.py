"""Authoring and operating tools built on the pipeline: fmt, graph, deploy plans,
diagnostic output formats, JSON Schemas, HubSpot import/export and the language server.
"""
