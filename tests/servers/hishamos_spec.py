"""The part of HishamOS's OpenAPI schema that the provider uses, vendored for the stand-in.

``hishamos_openapi.yaml`` next to this module is ``trim(<shared openapi.yaml>)``: the path items
of ``USED`` (the (method, path) pairs the hook sends) and ``CONTRACT`` verbatim plus every
component they reference, transitively. ``tests/servers/test_hishamos_routes.py`` checks that the
hook sends exactly ``USED`` and that the stand-in serves exactly ``USED``, ``SCHEMA_VIEW`` and
``CONTRACT``, method by method. It is kept in the repository so the stand-in (and the quickstart)
run without ``../shared``; ``tests/servers/test_hishamos_server.py`` checks it still equals the
shared schema for those paths.
Regenerate with ``python -m tests.servers.hishamos_spec ../shared/hishamos/openapi.yaml``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(__file__).with_name("hishamos_openapi.yaml")

#: (method, path template) that ``HishamOSHook``'s public methods send
USED = (
    ("POST", "/api/v1/auth/login/"),
    ("POST", "/api/v1/auth/token/refresh/"),
    ("GET", "/api/v1/auth/me/"),
    ("GET", "/api/v1/projects/"),
    ("POST", "/api/v1/projects/"),
    ("GET", "/api/v1/projects/{id}/"),
    ("PATCH", "/api/v1/projects/{id}/"),
    ("GET", "/api/v1/projects/stories/"),
    ("POST", "/api/v1/projects/stories/"),
    ("GET", "/api/v1/projects/stories/{id}/"),
    ("POST", "/api/v1/projects/stories/bulk-update-status/"),
    ("GET", "/api/v1/projects/sprints/"),
    ("POST", "/api/v1/projects/sprints/"),
    ("PATCH", "/api/v1/projects/sprints/{id}/"),
    ("GET", "/api/v1/agents/"),
    ("GET", "/api/v1/agents/{id}/"),
    ("POST", "/api/v1/agents/{id}/execute/"),
    ("GET", "/api/v1/agents/executions/"),
    ("GET", "/api/v1/projects/generated-projects/"),
    ("POST", "/api/v1/projects/generated-projects/"),
    ("PATCH", "/api/v1/projects/generated-projects/{id}/"),
    ("GET", "/api/v1/projects/repository-exports/"),
    ("POST", "/api/v1/projects/repository-exports/"),
)
#: drf-spectacular's view of the schema itself (``GET``, ``HishamOSHook.discover_endpoints``); the
#: schema it serves does not list it
SCHEMA_VIEW = "/api/schema/"
#: (method, path) the provider never sends, served only for the named test (``file::test``) that
#: proves a README behaviour the provider is built around
CONTRACT = {
    # the known 500 of a story update: why the hook changes a status through bulk-update-status
    ("PATCH", "/api/v1/projects/stories/{id}/"):
        "tests/servers/test_hishamos_server.py::test_story_patch_500_and_bulk_update_status",
    # HishamOS answers 403 to an export's own creator: that is why the hook lists exports
    # (?generated_project=) and sends the final state on create instead of reading one back
    ("GET", "/api/v1/projects/repository-exports/{id}/"):
        "tests/servers/test_hishamos_contract.py::test_repository_export_by_id_is_403_to_its_creator_and_listing_works",
    ("PATCH", "/api/v1/projects/repository-exports/{id}/"):
        "tests/servers/test_hishamos_contract.py::test_repository_export_by_id_is_403_to_its_creator_and_listing_works",
}
#: the path items vendored (in the order above, as in ``hishamos_openapi.yaml``)
VENDORED_PATHS = tuple(dict.fromkeys(path for _method, path in USED + tuple(CONTRACT)))

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def trim(full: dict[str, Any], paths: tuple[str, ...] = VENDORED_PATHS) -> dict[str, Any]:
    """The schema restricted to ``paths`` and the components they need (``#/components/...``)."""
    out: dict[str, Any] = {k: full[k] for k in ("openapi", "info") if k in full}
    out["paths"] = {p: full["paths"][p] for p in paths}
    components: dict[str, dict[str, Any]] = {}
    pending = _refs(out["paths"])
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)  # "#/components/schemas/Name"
        node = full["components"][kind][name]
        components.setdefault(kind, {})[name] = node
        pending |= _refs(node)
    components["securitySchemes"] = full["components"].get("securitySchemes", {})
    out["components"] = {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}
    return out


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)


@functools.lru_cache(maxsize=1)
def vendored_spec() -> dict[str, Any]:
    """The vendored subset, parsed once per process."""
    return load_yaml(SPEC_PATH)


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else Path(__file__).resolve().parents[3] / "shared/hishamos/openapi.yaml"
    text = yaml.dump(trim(load_yaml(source)), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    SPEC_PATH.write_text("# Generated by tests/servers/hishamos_spec.py from HishamOS's openapi.yaml: do not edit.\n" + text)
    print(f"wrote {SPEC_PATH}")


if __name__ == "__main__":
    main(sys.argv[1:])
