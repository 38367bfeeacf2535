"""Agent output -> structures (the refusals are in tests/security/test_agent_output_corpus.py)."""

from __future__ import annotations

import json

from airflow_provider_hisham.agents import structure_from_output
from airflow_provider_hisham.generation import ProjectGenerator
from tests.servers.hishamos_agents import answer


def test_fenced_blocks_naming_paths():
    text = ("Sure!\n```python src/app.py\nprint('hi')\n```\nRun it like this:\n```bash\npython src/app.py\n```\n"
            "~~~markdown docs/README.md\n# Docs\n```python\nexample()\n```\n~~~\n```src/empty.txt\n```\n")
    assert structure_from_output({"text": text, "agent": "coding-agent"}, source="code") == {
        "src/app.py": "print('hi')\n", "docs/README.md": "# Docs\n```python\nexample()\n```\n", "src/empty.txt": ""}


def test_json_mapping_with_folders():
    text = json.dumps({"src/main.py": "x = 1\n", "docs": {"index.md": "# I\n"}, "empty/": {}})
    assert structure_from_output(text, source="s") == {"src/main.py": "x = 1\n", "docs/": {},
                                                       "docs/index.md": "# I\n", "empty/": {}}


def test_a_json_answer_that_is_no_mapping_falls_back_to_fences():
    text = '{"not json\n```python a/b.py\nok\n```'
    assert structure_from_output(text, source="s") == {"a/b.py": "ok\n"}


def test_the_stand_in_coding_agent_output_generates_a_project(tmp_path):
    structure = structure_from_output(answer("coding-agent", "Senior Software Engineer", "shop cart", {}), source="c")
    result = ProjectGenerator(str(tmp_path)).generate("shop", structure=structure)
    assert result.summary["total_files"] == 3 and (tmp_path / "shop" / "src" / "shop_cart.py").is_file()
