"""Plain-Python project generation (no Airflow imports): templates, inline structures, Cookiecutter."""

from airflow_provider_hisham.generation.errors import (
    GenerationError,
    LimitExceededError,
    PathCollisionError,
    RenderError,
    StructureError,
    TemplateNotFoundError,
    TemplateSpecError,
    UnsafePathError,
    VariableError,
)
from airflow_provider_hisham.generation.generator import (
    GenerationResult,
    ProjectGenerator,
    available_templates,
    find_template,
    generate_project,
    shipped_templates_dir,
)
from airflow_provider_hisham.generation.limits import Limits

__all__ = [
    "GenerationError",
    "GenerationResult",
    "LimitExceededError",
    "Limits",
    "PathCollisionError",
    "ProjectGenerator",
    "RenderError",
    "StructureError",
    "TemplateNotFoundError",
    "TemplateSpecError",
    "UnsafePathError",
    "VariableError",
    "available_templates",
    "find_template",
    "generate_project",
    "shipped_templates_dir",
]
