"""llmcache.lab: the instruments of the cold-start investigation (never imported by ``llmcache``).

Fake loopback servers, fresh-process probes, the SDK matrix and the network guard live here so
that a production user of the cache never loads them. Modules:

- what is compared: :mod:`.designs` (the registry of cache designs), :mod:`.baselines` (the
  specimens users wrote, as written)
- how it is measured: :mod:`.measure` (loop heartbeat, timers, blocking-call recorder)
- what runs, top to bottom (imports go one way: ``tests/test_lab_layering.py``):
  :mod:`.cli` (``python -m llmcache.lab``) and :mod:`.experiments` (experiments and profiles);
  :mod:`.probe_runner` (launches one probe) -> :mod:`.process_probe` (the probe, in an SDK
  venv; its table of modes names the mode modules :mod:`.loops`, :mod:`.first_call`,
  :mod:`.app_server`, :mod:`.langgraph_server`, :mod:`.soak` (whose uvicorn servers run
  :mod:`.soak_worker`), :mod:`.fake_capacity`) -> :mod:`.sdk_under_test` (the model, its
  arguments); :mod:`.concurrency`, :mod:`.hitcost` and :mod:`.waiters` (in-process
  measurements)
- the loopback fakes: :mod:`.fake_gemini_rest`, :mod:`.fake_gemini_grpc`, :mod:`.fake_openai`,
  :mod:`.fake_metadata`, served in their own process by :mod:`.serve_fakes`
- where it runs: :mod:`.matrix` (SDK venvs), :mod:`.isolation` (network namespace),
  :mod:`.netguard` (socket guard)
- what comes out: :mod:`.tables` (derived tables), :mod:`.notebook` (where a notebook's data
  comes from), :mod:`.present` (tables and prose for a reader), :mod:`.plots` (the figures, one
  module per notebook), :mod:`.answer` (why the first call took 20 s, from the data),
  :mod:`.report`, :mod:`.html`, and :mod:`.browser` (the notebooks run in headless Chromium)
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout this lab runs from (probes put it on ``PYTHONPATH``)."""
