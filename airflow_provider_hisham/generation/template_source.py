"""Turn a template directory (native or Cookiecutter) into a Plan: walk, render names, confine."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from jinja2 import BaseLoader, TemplateNotFound
from jinja2.loaders import split_template_path

from airflow_provider_hisham.booleans import BooleanValueError, parse_bool
from airflow_provider_hisham.generation.errors import (
    LimitExceededError,
    RenderError,
    TemplateSpecError,
    UnsafePathError,
    VariableError,
)
from airflow_provider_hisham.generation.extensions import resolve_extensions
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.paths import PathChecker, check_tree, is_git_name
from airflow_provider_hisham.generation.plan import Plan, PlannedFile
from airflow_provider_hisham.generation.render import Renderer
from airflow_provider_hisham.generation.safe_load import decode_utf8, load_json, read_bytes_bounded
from airflow_provider_hisham.generation.variables import MANIFEST_NAMES, load_spec, resolve_variables


SKIPPED_NAMES = frozenset({"__pycache__"})  # bytecode pip writes into an installed template


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root + os.sep)


def _walk(root: str, limits: Limits):
    """Yield (relative path, absolute path, is_dir, executable, size) in sorted order.

    For a regular file that is no link the directory entry's type is enough: executable and size
    are None, left to the read of its bytes (which checks the size and type again anyway).

    Symbolic links are followed only when they stay inside ``root``; folder links are guarded
    against cycles. Anything that is not a regular file or folder is refused. A ``.git`` at the
    top (a template that is a git clone) and ``__pycache__`` folders are not part of the template.
    """
    real_root = os.path.realpath(root)

    def visit(abs_dir: str, real_dir: str, rel_dir: str, ancestors: frozenset[str]):
        if rel_dir.count("/") >= limits.max_depth:
            raise UnsafePathError(rel_dir, f"template folders are nested deeper than {limits.max_depth}")
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as err:
            raise TemplateSpecError(f"cannot read template folder {abs_dir}: {err}") from None
        for entry in entries:
            if entry.name in SKIPPED_NAMES or (not rel_dir and is_git_name(entry.name)):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            link = entry.is_symlink()
            if link:
                target = os.path.realpath(entry.path)
                if not _inside(target, real_root):
                    raise UnsafePathError(rel, f"template symbolic link leads outside the template ({os.readlink(entry.path)!r})")
            if not link and entry.is_file(follow_symlinks=False):
                yield rel, entry.path, False, None, None
                continue
            try:
                st = os.stat(entry.path)
            except OSError as err:
                raise TemplateSpecError(f"template entry {rel!r}: {err}") from None
            if stat.S_ISDIR(st.st_mode):
                # a folder that is no link is where its parent really is: no realpath walk needed
                real = target if link else os.path.join(real_dir, entry.name)
                if real in ancestors:
                    raise UnsafePathError(rel, "template symbolic link makes a cycle")
                yield rel, entry.path, True, False, 0
                yield from visit(entry.path, real, rel, ancestors | {real})
            elif stat.S_ISREG(st.st_mode):
                yield rel, entry.path, False, bool(st.st_mode & stat.S_IXUSR), st.st_size
            else:
                raise UnsafePathError(rel, "template entry is not a regular file or folder")

    yield from visit(root, real_root, "", frozenset({real_root}))


class ConfinedLoader(BaseLoader):
    """``{% include %}`` / ``{% import %}`` from folders, confined like the template walk.

    Jinja's FileSystemLoader follows symbolic links anywhere and would block on a FIFO; this one
    loads only regular files whose real path stays inside their search folder, at most
    ``max_bytes`` each, as UTF-8.
    """

    def __init__(self, searchpath: list[str], max_bytes: int) -> None:
        self.searchpath = [os.path.realpath(p) for p in searchpath]
        self.max_bytes = max_bytes

    def get_source(self, environment: Any, template: str):
        pieces = split_template_path(template)  # refuses ".." segments
        for base in self.searchpath:
            path = os.path.join(base, *pieces)
            if not os.path.lexists(path):
                continue
            if not _inside(os.path.realpath(path), base):
                raise TemplateSpecError(f"included template {template!r} is a symbolic link leading outside {base}")
            source = decode_utf8(read_bytes_bounded(path, self.max_bytes, "included template"), path)
            mtime = os.path.getmtime(path)
            return source, path, lambda: os.path.getmtime(path) == mtime
        raise TemplateNotFound(template)


def _glob_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """``fnmatch.fnmatch(path, p)`` for any of ``patterns``, as one compiled regular expression."""
    if not patterns:
        return lambda path: False
    match = re.compile("|".join(fnmatch.translate(os.path.normcase(p)) for p in patterns)).match
    if os.path.normcase("A") == "A":  # POSIX: normcase changes nothing
        return lambda path: match(path) is not None
    return lambda path: match(os.path.normcase(path)) is not None


class _PathRenderer:
    """Renders template-relative paths and confines the results."""

    def __init__(self, renderer: Renderer, context: dict[str, Any], paths: PathChecker) -> None:
        self.renderer, self.context, self.paths = renderer, context, paths

    def __call__(self, rel: str) -> str | None:
        """Rendered output path, or None when a segment renders empty (a conditional path)."""
        if "\r" not in rel and not self.renderer.has_syntax(rel):  # most names: nothing to render
            return self.paths.check(rel)
        out = self.renderer.render(rel, self.context, rel)
        if out == rel:
            return self.paths.check(out)
        if out.startswith(("/", "\\")):
            self.paths.check(out)  # raises: absolute
        if any(not seg for seg in out.split("/")):
            return None
        return self.paths.check(out)


def _build(
    root: str,
    renderer: Renderer,
    context: dict[str, Any],
    limits: Limits,
    *,
    skip: list[str],
    copy_only: list[str],
    conditions: dict[str, str],
) -> Plan:
    plan = Plan(context=context)
    paths = PathChecker(limits)
    render_path = _PathRenderer(renderer, context, paths)
    skipped, copied = _glob_matcher(skip), _glob_matcher(copy_only)
    dropped: tuple[str, ...] = ()  # "folder/" of every folder left out, with all below it
    copy_dirs: dict[str, str] = {}  # template dir -> rendered output dir (contents verbatim)
    compiled_conditions = []
    for glob, expr in conditions.items():
        try:
            compiled_conditions.append((glob, expr, renderer.env.compile_expression(expr)))
        except Exception as err:  # noqa: BLE001 - jinja raises several types here
            raise TemplateSpecError(f"condition for {glob!r}: cannot compile {expr!r}: {err}") from None
    for rel, abs_path, is_dir, executable, size in _walk(root, limits):
        if dropped and rel.startswith(dropped):
            continue
        if skipped(rel):
            if is_dir:
                dropped += (rel + "/",)
            continue
        keep = True
        for glob, expr, fn in compiled_conditions:
            if fnmatch.fnmatch(rel, glob):
                try:
                    keep = keep and bool(fn(**context))
                except Exception as err:  # noqa: BLE001
                    raise RenderError(rel, f"condition {expr!r} failed: {err}") from None
        if not keep:
            if is_dir:
                dropped += (rel + "/",)
            continue
        parent = next((d for d in copy_dirs if rel.startswith(d + "/")), None) if copy_dirs else None
        if parent is not None:
            out = paths.check(copy_dirs[parent] + rel[len(parent):])
        else:
            out = render_path(rel)
            if out is None:
                if is_dir:
                    dropped += (rel + "/",)
                continue
        if is_dir:
            plan.dirs.append(out)
            if len(plan.dirs) > limits.max_files:
                raise LimitExceededError("max_files", len(plan.dirs), limits.max_files, out, "folders")
            if parent is None and copied(rel):
                copy_dirs[rel] = out
            continue
        if size is not None and size > limits.max_file_bytes:
            raise LimitExceededError("max_file_bytes", size, limits.max_file_bytes, out)
        plan.files.append(
            PlannedFile(out, source=abs_path, render=parent is None and not copied(rel), executable=executable)
        )
        if len(plan.files) > limits.max_files:
            raise LimitExceededError("max_files", len(plan.files), limits.max_files)
    check_tree((f.path for f in plan.files), plan.dirs)
    plan.files.sort(key=lambda f: f.path)
    plan.dirs.sort()
    return plan


def plan_native(template_dir: str, given: dict[str, Any] | None, limits: Limits, renderer_factory) -> tuple[Plan, Renderer]:
    """Plan a native template: ``template.yaml`` + files with Jinja in contents and names."""
    spec = load_spec(template_dir, limits.max_template_bytes)
    renderer: Renderer = renderer_factory(extensions=resolve_extensions(spec.extensions, template_dir))
    renderer.env.loader = ConfinedLoader([template_dir], limits.max_file_bytes)
    context = resolve_variables(spec, given, renderer)
    skip = list(MANIFEST_NAMES) + spec.exclude
    plan = _build(template_dir, renderer, context, limits, skip=skip, copy_only=spec.copy_without_render, conditions=spec.conditions)
    plan.template = spec.name
    return plan, renderer


# --- Cookiecutter ------------------------------------------------------------------------------


def is_cookiecutter(template_dir: str) -> bool:
    return os.path.isfile(os.path.join(template_dir, "cookiecutter.json"))


def _apply_overwrites(context: dict[str, Any], overwrite: dict[str, Any], nested: bool = False) -> None:
    """Cookiecutter's ``apply_overwrites_to_context``: choices move the chosen value first."""
    for name, value in overwrite.items():
        if name not in context:
            if not nested:
                continue
            context[name] = value
        current = context[name]
        if isinstance(current, list):
            if nested:
                context[name] = value
            elif isinstance(value, list):
                if not set(value).issubset(set(current)):
                    raise VariableError(name, f"{value!r} provided for a multi-choice variable, valid choices are {current!r}")
                context[name] = value
            elif value in current:
                current.remove(value)
                current.insert(0, value)
            else:
                raise VariableError(name, f"{value!r} provided for a choice variable, but the choices are {current!r}")
        elif isinstance(current, dict) and isinstance(value, dict):
            _apply_overwrites(current, value, nested=True)
        elif isinstance(current, bool) and isinstance(value, str):
            try:
                context[name] = parse_bool(value, name)
            except BooleanValueError as exc:
                raise VariableError(name, exc.reason) from None
        else:
            context[name] = value


def _render_variable(renderer: Renderer, raw: Any, values: dict[str, Any], key: str) -> Any:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, dict):
        return {
            _render_variable(renderer, k, values, key): _render_variable(renderer, v, values, key) for k, v in raw.items()
        }
    if isinstance(raw, list):
        return [_render_variable(renderer, v, values, key) for v in raw]
    try:
        return renderer.render(str(raw), {"cookiecutter": values}, f"cookiecutter.json:{key}")
    except RenderError as err:
        raise VariableError(key, f"unable to render: {err}") from None


def _cookiecutter_values(obj: dict[str, Any], renderer: Renderer) -> OrderedDict:
    """Cookiecutter's ``prompt_for_config(no_input=True)``."""
    values: OrderedDict[str, Any] = OrderedDict()
    obj.pop("__prompts__", None)
    for key, raw in obj.items():
        if key.startswith("_") and not key.startswith("__"):
            values[key] = raw
        elif key.startswith("__"):
            values[key] = _render_variable(renderer, raw, values, key)
        elif isinstance(raw, list):
            rendered = [_render_variable(renderer, r, values, key) for r in raw]
            if not rendered:
                raise VariableError(key, "the list of choices is empty")
            values[key] = rendered[0]
        elif not isinstance(raw, dict):
            values[key] = _render_variable(renderer, raw, values, key)
    for key, raw in obj.items():
        if key.startswith("_") and not key.startswith("__"):
            continue
        if isinstance(raw, dict):
            values[key] = _render_variable(renderer, raw, values, key)
    return values


def find_cookiecutter_dir(template_dir: str) -> str:
    for name in sorted(os.listdir(template_dir)):
        if "cookiecutter" in name and "{{" in name and "}}" in name and os.path.isdir(os.path.join(template_dir, name)):
            return name
    raise TemplateSpecError(f"{template_dir}: no '{{{{cookiecutter.*}}}}' project folder next to cookiecutter.json")


def plan_cookiecutter(template_dir: str, given: dict[str, Any] | None, limits: Limits, renderer_factory) -> tuple[Plan, Renderer]:
    """Plan a Cookiecutter template with the values ``cookiecutter --no-input`` would use.

    Hooks (``hooks/``) are not run: they are arbitrary code. Their presence is reported as a warning.
    """
    path = os.path.join(template_dir, "cookiecutter.json")
    obj = load_json(read_bytes_bounded(path, limits.max_template_bytes, "cookiecutter.json"), path)
    if not isinstance(obj, dict):
        raise TemplateSpecError(f"{path}: must be a JSON object")
    if {"template", "templates"} & set(obj):
        raise TemplateSpecError(f"{path}: nested templates ('templates') are not supported")
    if given:
        _apply_overwrites(obj, dict(given))
    env_vars = obj.get("_jinja2_env_vars") or {}
    if not isinstance(env_vars, dict):
        raise TemplateSpecError(f"{path}: _jinja2_env_vars must be an object")
    renderer: Renderer = renderer_factory(
        extensions=resolve_extensions(list(obj.get("_extensions") or []), path),
        env_options=dict(env_vars),
        cookiecutter_helpers=True,
    )
    original = {k: v for k, v in obj.items() if not k.startswith("_")}
    values = _cookiecutter_values(obj, renderer)
    values.update({"_template": template_dir, "_output_dir": "", "_repo_dir": template_dir, "_checkout": None})
    context = {"cookiecutter": values, "_cookiecutter": original}
    project_dir_name = find_cookiecutter_dir(template_dir)
    project_root = os.path.join(template_dir, project_dir_name)
    renderer.env.loader = ConfinedLoader([project_root, os.path.join(template_dir, "templates")], limits.max_file_bytes)
    new_lines = values.get("_new_lines") or None
    copy_only = [str(p) for p in values.get("_copy_without_render") or []]
    plan = _build(project_root, renderer, context, limits, skip=[], copy_only=copy_only, conditions={})
    plan.newline_mode = "cookiecutter"
    plan.forced_newline = new_lines
    plan.template = os.path.basename(os.path.normpath(template_dir))
    if os.path.isdir(os.path.join(template_dir, "hooks")):
        plan.warnings.append(f"{template_dir}/hooks: cookiecutter hooks are not run")
    return plan, renderer

