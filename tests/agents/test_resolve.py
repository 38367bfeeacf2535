"""Agent references resolve like the provider promises (mapping, id, name, slug, name slugs)."""

from __future__ import annotations

import re

import pytest

from airflow_provider_hisham.agents import AgentDirectory, AgentNotFoundError, slug_candidates, slugify
from tests.servers.hishamos_agents import AGENTS

BACKEND = [{"id": f"00000000-0000-0000-0000-{i:012d}", "name": name, "agent_id": slug}
           for i, (name, slug) in enumerate(AGENTS)]


@pytest.fixture
def directory():
    return AgentDirectory(BACKEND, {"QA Agent": "qa-testing-agent", "Architect Agent": "Senior Software Engineer",
                                    "Legal Counsel": "hr-agent", "Ghost": "no-such-agent"})


def test_slugs_of_names():
    assert slugify("  UX/UI Designer ") == "ux-ui-designer"
    assert slug_candidates("DevOps Agent") == ["devops-agent", "devops"]
    assert slug_candidates("Project Manager Agent") == ["project-manager-agent", "project-manager"]
    assert slug_candidates("Coding") == ["coding", "coding-agent"]
    assert slug_candidates("Agent") == ["agent"] and slug_candidates("!!") == []


@pytest.mark.parametrize(("reference", "slug"), [
    ("QA Agent", "qa-testing-agent"),                    # mapping to a slug
    ("Architect Agent", "coding-agent"),                 # mapping to a name
    ("Legal Counsel", "hr-agent"),                       # the mapping wins over an exact name
    ("00000000-0000-0000-0000-000000000002", "code-reviewer"),  # id
    ("Business Analyst Agent", "business-analyst"),      # exact name
    ("bug-triage-agent", "bug-triage-agent"),            # slug
    ("Bug Triage Agent", "bug-triage-agent"),            # slug of the name
    ("DevOps Agent", "devops-agent"),
    ("Project Manager Agent", "project-manager"),        # ... without the trailing "agent"
    ("Coding Agent", "coding-agent"),
    ("Release Manager Agent", "release-manager"),
    ("Documentation Agent", "documentation-agent"),
    ("Research", "research-agent"),                      # ... with a trailing "agent"
])
def test_resolution_order(directory, reference, slug):
    assert directory.resolve(reference)["agent_id"] == slug


def test_exact_name_is_case_sensitive_like_hishamos(directory):
    assert directory.find("legal counsel") is None and directory.find("Qa Engineer") is None


def test_every_unresolved_reference_is_named_with_what_the_backend_has(directory):
    with pytest.raises(AgentNotFoundError) as err:
        directory.resolve_all(["Coding Agent", "Code Review Agent", "Ghost", "Code Review Agent"])
    assert err.value.unresolved == ["Code Review Agent", "Ghost"]
    text = str(err.value)
    assert text.startswith("agent 'Code Review Agent', 'Ghost' not found in HishamOS")
    assert "Code Review Expert (code-reviewer)" in text and text.count("(") >= 16
    assert "agents={'Code Review Agent': '<slug>'}" in text


def test_no_agents_at_all():
    with pytest.raises(AgentNotFoundError, match="The backend has: no agents"):
        AgentDirectory([]).resolve("QA Agent")


def test_mapping_precedence_task_then_conf_then_connection():
    from airflow_provider_hisham.agents import merge_mappings

    merged = merge_mappings(task={"A": "task"}, conf={"A": "conf", "B": "conf"}, connection={"A": "c", "B": "c", "C": "c"})
    assert merged == {"A": "task", "B": "conf", "C": "c"}
    assert merge_mappings() == {}


@pytest.mark.parametrize(("conf", "message"), [
    ({"agents": ["QA Agent"]}, r"must map agent references .* got list"),
    ({"agents": {"QA Agent": 3}}, r"target '3' of 'QA Agent' must be a non-empty string"),
    ({"agents": {"": "qa"}}, r"reference '' of '' must be a non-empty string"),
    ({"agents": {"QA Agent": "x" * 201}}, r"at most 200 characters"),
    ({"agents": {f"r{i}": "qa" for i in range(201)}}, r"201 entries; at most 200"),
])
def test_a_malformed_conf_mapping_is_refused_naming_the_field(conf, message):
    from airflow_provider_hisham.agents import AgentMappingError, mapping_from_conf

    with pytest.raises(AgentMappingError, match=r"dag_run\.conf\['agents'\]") as info:
        mapping_from_conf(conf)
    assert re.search(message, str(info.value)), str(info.value)


def test_a_conf_without_a_mapping_maps_nothing():
    from airflow_provider_hisham.agents import mapping_from_conf

    assert mapping_from_conf(None) == mapping_from_conf({}) == mapping_from_conf({"agents": None}) == {}
    assert mapping_from_conf({"agents": {"QA Agent": "qa-testing-agent"}}) == {"QA Agent": "qa-testing-agent"}
