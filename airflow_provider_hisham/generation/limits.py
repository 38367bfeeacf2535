"""Generation limits, configurable through the provider's ``[hisham]`` section."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Upper bounds that keep one generation from filling a worker's disk or memory."""

    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 50_000
    max_project_bytes: int = 512 * 1024 * 1024
    max_name_bytes: int = 255
    max_path_bytes: int = 4096
    max_depth: int = 64
    # the work of rendering: a time budget for the whole generation, and what is compiled at all
    max_render_seconds: float = 120.0
    max_template_bytes: int = 1024 * 1024
    max_template_tags: int = 10_000

    def __post_init__(self) -> None:
        for name in (
            "max_file_bytes", "max_files", "max_project_bytes", "max_name_bytes", "max_path_bytes",
            "max_render_seconds", "max_template_bytes", "max_template_tags",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
