"""Dataset names: the same object is named the same way by every step."""

from __future__ import annotations

import socket

from airflow_provider_hisham.observability import lineage


def test_names_of_hishamos_objects_folders_templates_and_repositories():
    base = "http://127.0.0.1:8000"
    assert lineage.hishamos_object(base, "stories", "s1") == ("hishamos://127.0.0.1:8000", "stories/s1")
    assert lineage.hishamos_object("https://hishamos.example", "projects", "p1") == ("hishamos://hishamos.example",
                                                                                      "projects/p1")
    assert lineage.local_path("/tmp/x/../y") == (f"file://{socket.gethostname()}", "/tmp/y")
    assert lineage.template("python-package") == ("hisham-template", "python-package")
    assert lineage.repository("https://github.com/acme/shop.git") == ("https://github.com", "acme/shop")
    assert lineage.repository("http://127.0.0.1:9418/plain/x.git") == ("http://127.0.0.1:9418", "plain/x")
    assert lineage.repository("/srv/git/remote.git")[1] == "/srv/git/remote.git"


def test_the_story_of_a_step_comes_from_its_variables():
    assert lineage.story_of({"story_id": "s1"}) == "s1"
    assert lineage.story_of({"story": {"id": "s2", "title": "t"}}) == "s2"
    assert lineage.story_of({"story": ""}) is None
    assert lineage.story_of(None) is None
