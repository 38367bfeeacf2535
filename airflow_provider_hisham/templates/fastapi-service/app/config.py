"""Settings from the environment, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    service_name: str = {{ service_name | pyrepr }}
    api_prefix: str = {{ api_prefix | pyrepr }}
    max_{{ resource }}s: int = 1000

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(max_{{ resource }}s=int(os.environ.get("MAX_{{ resource | upper }}S", "1000")))
