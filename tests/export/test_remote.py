"""on_conflict and retry recognition in ensure_repository (hosting services faked by dicts)."""

from __future__ import annotations

import pytest

from airflow_provider_hisham.export.errors import ExportError, NameTakenError, RepositoryExistsError
from airflow_provider_hisham.export.remote import RemoteRepository, ensure_repository

SHA = "a" * 40


class FakeHost:
    def __init__(self, existing: dict[str, tuple[str, dict]]):
        self.repos = {n: RemoteRepository(n, f"https://h/{n}", f"https://h/{n}.git", description=d)
                      for n, (d, _) in existing.items()}
        self.heads = {n: h for n, (_, h) in existing.items()}
        self.created: list[str] = []

    def get(self, name):
        return self.repos.get(name)

    def create(self, name):
        if name in self.repos:
            raise NameTakenError(name)
        self.repos[name] = RemoteRepository(name, f"https://h/{name}", f"https://h/{name}.git", created=True)
        self.heads[name] = {}
        self.created.append(name)
        return self.repos[name]

    def run(self, name, on_conflict, marker="m-1"):
        return ensure_repository(name, on_conflict, get=self.get, create=self.create,
                                 heads=lambda r: self.heads[r.name], commit_sha=SHA, branch="main", marker=marker)


def test_new_name_is_created():
    host = FakeHost({})
    assert host.run("demo", "fail").created and host.created == ["demo"]


def test_fail_on_foreign_repository():
    host = FakeHost({"demo": ("someone else's", {})})
    with pytest.raises(RepositoryExistsError, match="'demo' already exists .*on_conflict='fail'"):
        host.run("demo", "fail")
    assert host.created == []


def test_reuse_empty_but_not_foreign_history():
    host = FakeHost({"empty": ("", {}), "busy": ("", {"main": "b" * 40})})
    assert host.run("empty", "reuse").name == "empty"
    with pytest.raises(RepositoryExistsError, match="already has other commits"):
        host.run("busy", "reuse")


def test_suffix_takes_next_free_name():
    host = FakeHost({"demo": ("", {"main": "b" * 40}), "demo-2": ("x", {})})
    assert host.run("demo", "suffix").name == "demo-3"
    assert host.created == ["demo-3"]


def test_retry_recognises_its_own_repository_by_marker_or_commit():
    host = FakeHost({"mine": ("export [m-1]", {}), "pushed": ("", {"main": SHA}), "mine-2": ("[m-1]", {})})
    assert host.run("mine", "fail").name == "mine"
    assert host.run("pushed", "fail").name == "pushed"
    assert host.run("mine", "suffix").name == "mine"
    assert host.created == []


def test_bad_on_conflict():
    with pytest.raises(ExportError, match="on_conflict must be one of"):
        FakeHost({}).run("x", "overwrite")


class LostCreateHost(FakeHost):
    """The first lookup misses a repository that "name taken" then reveals (a create re-sent by the
    client library after its answer was lost), or that stays unknown (``appears=False``)."""

    def __init__(self, description: str, *, appears: bool = True):
        super().__init__({})
        self.description, self.appears, self.lookups = description, appears, 0

    def get(self, name):
        self.lookups += 1
        if self.lookups == 1 or not self.appears:
            return None
        return RemoteRepository(name, f"https://h/{name}", f"https://h/{name}.git", description=self.description)

    def create(self, name):
        self.heads[name] = {}
        raise NameTakenError(f"{name} already exists")


def test_name_taken_by_our_own_lost_create_is_looked_up_and_reused():
    host = LostCreateHost("export [m-1]")
    remote = host.run("demo", "fail")
    assert remote.name == "demo" and not remote.created and host.lookups == 2


def test_name_taken_by_someone_else_follows_on_conflict():
    with pytest.raises(RepositoryExistsError, match="on_conflict='fail'"):
        LostCreateHost("theirs").run("demo", "fail")


def test_name_taken_but_not_found_raises_name_taken():
    host = LostCreateHost("", appears=False)
    with pytest.raises(NameTakenError, match="demo already exists"):
        host.run("demo", "fail")
    assert host.lookups == 2
