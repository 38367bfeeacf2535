"""What a generation will write: output paths with where their bytes come from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class PlannedFile:
    """One output file. ``source`` is a template file to read; ``data`` is inline content.

    ``executable`` None: as the source file's owner-execute bit, taken when its bytes are read
    (a template walk then needs no ``stat`` of its own per file).
    """

    path: str
    source: str | None = None
    data: bytes | str | None = None
    render: bool = True
    executable: bool | None = False


@dataclass
class Plan:
    """Files and (possibly empty) folders of one project, plus how text is rendered."""

    files: list[PlannedFile] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)
    context: dict = field(default_factory=dict)
    # "keep": rendered text keeps the source's first newline style, static files are copied;
    # "cookiecutter": every text file is normalised exactly as cookiecutter writes it.
    newline_mode: str = "keep"
    forced_newline: str | None = None
    template: str | None = None
    warnings: list[str] = field(default_factory=list)
