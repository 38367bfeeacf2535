"""Exceptions raised by project generation; each names the offending path, field or limit."""

from __future__ import annotations


def _restore(cls: type, message: str, state: dict) -> "GenerationError":
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class GenerationError(Exception):
    """Base class: generation refused or failed; nothing was left half written."""

    def __reduce__(self):  # keep the extra attributes when sent back from a worker process
        return (_restore, (type(self), str(self), dict(self.__dict__)))


class UnsafePathError(GenerationError):
    """An output path would escape the project root or is not portable."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"unsafe path {path!r}: {reason}")


class PathCollisionError(UnsafePathError):
    """Two output paths are the same on a case-insensitive file system, or a file is also a folder."""

    def __init__(self, path: str, other: str, reason: str = "collides with") -> None:
        self.other = other
        super().__init__(path, f"{reason} {other!r}")


class LimitExceededError(GenerationError):
    """A configured limit (file size, file count, project size) was exceeded."""

    def __init__(self, limit: str, value: float, maximum: float, path: str | None = None, detail: str = "") -> None:
        self.limit, self.value, self.maximum, self.path = limit, value, maximum, path
        where = f" at {path!r}" if path else ""
        why = f" ({detail})" if detail else ""
        super().__init__(f"{limit} exceeded{where}: {value:.0f} > {maximum:.0f}{why}")


class TemplateNotFoundError(GenerationError):
    """The named template does not exist in any templates folder."""


class TemplateSpecError(GenerationError):
    """The template manifest (template.yaml / cookiecutter.json) is invalid."""


class VariableError(GenerationError):
    """A template variable is missing, of the wrong type or fails its validation."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"variable {name!r}: {message}")


class RenderError(GenerationError):
    """Jinja failed on one file (syntax error, undefined variable, sandbox violation)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"cannot render {path!r}: {message}")


class StructureError(GenerationError):
    """An inline structure entry is not a string, bytes or mapping."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"invalid structure entry {path!r}: {message}")
