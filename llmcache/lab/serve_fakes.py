"""Serve the lab's HTTP fakes in their own process: ``python -m llmcache.lab.serve_fakes ...``.

A probe starts this beside itself (inside the same private network namespace) so that the
servers' CPU time never shares the probe's interpreter lock. It prints one JSON line with the
ports and environment, then serves until its standard input closes or it is terminated.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ._fake_http import wait_until_stopped
from .fake_gemini_rest import GeminiRestServer
from .fake_metadata import METADATA_MODES, MetadataServer
from .fake_openai import OpenAIServer
from .fake_providers import SERVERS as PROVIDER_SERVERS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmcache.lab.serve_fakes", description=__doc__)
    parser.add_argument("--gemini", action="store_true", help="serve Gemini REST")
    parser.add_argument("--openai", action="store_true", help="serve OpenAI chat completions")
    parser.add_argument(
        "--providers",
        action="store_true",
        help="serve the adapted LangChain providers' fakes (Anthropic, chat completions, Ollama)",
    )
    parser.add_argument("--metadata", choices=METADATA_MODES, help="serve GCE metadata")
    parser.add_argument("--metadata-delay", type=float, default=0.0, help="slow-valid delay, s")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="simulated model latency, seconds"
    )
    args = parser.parse_args(argv)

    servers: list[Any] = []
    info: dict[str, Any] = {"simulated_model_latency": args.latency}
    if args.gemini:
        gemini = GeminiRestServer(simulated_model_latency=args.latency).start()
        servers.append(gemini)
        info["gemini_url"] = gemini.url
    if args.openai:
        openai = OpenAIServer(simulated_model_latency=args.latency).start()
        servers.append(openai)
        info["openai_base_url"] = openai.base_url
    if args.providers:  # fake_providers.ProviderFake.kwargs(provider_urls) points a provider
        info["provider_urls"] = {}
        for name, cls in PROVIDER_SERVERS.items():
            server = cls(simulated_model_latency=args.latency).start()
            servers.append(server)
            info["provider_urls"][name] = server.url
    if args.metadata:
        metadata = MetadataServer(args.metadata, delay=args.metadata_delay).start()
        servers.append(metadata)
        info["metadata_env"] = metadata.env
    print(json.dumps(info), flush=True)
    wait_until_stopped()
    for server in servers:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
