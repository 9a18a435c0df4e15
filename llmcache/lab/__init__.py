"""llmcache.lab: the instruments of the cold-start investigation (never imported by ``llmcache``).

Fake loopback servers, fresh-process probes, the SDK matrix and the network guard live here so
that a production user of the cache never loads them.
"""
