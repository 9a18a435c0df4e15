"""Old import path of the loopback fakes, kept for existing imports: new code imports
:mod:`~llmcache.lab.fake_gemini_rest`, :mod:`~llmcache.lab.fake_openai` and
:mod:`~llmcache.lab.fake_metadata` directly."""

from __future__ import annotations

from .fake_gemini_rest import GeminiRestServer, gemini_response
from .fake_metadata import METADATA_MODES, MetadataMode, MetadataServer
from .fake_openai import OpenAIServer

__all__ = [
    "METADATA_MODES",
    "GeminiRestServer",
    "MetadataMode",
    "MetadataServer",
    "OpenAIServer",
    "gemini_response",
]
