"""Atomic generation: failures (exception, limit, SIGKILL) never leave a partial tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import (
    LimitExceededError,
    Limits,
    ProjectGenerator,
    RenderError,
    VariableError,
    shipped_templates_dir,
)
from airflow_provider_hisham.generation import writer
from tests.conftest import REPO_ROOT
from tests.generation.helpers import snapshot, write_tree


def _root_listing(root: Path) -> list[str]:
    return sorted(os.listdir(root))


@pytest.fixture
def previous(tmp_path):
    root = tmp_path / "root"
    result = ProjectGenerator(str(root)).generate("p", structure={"keep.txt": "generation 1", "d": {"x.txt": "x"}})
    return root, snapshot(Path(result.output_dir)), Path(result.manifest_path).read_bytes()


def _assert_intact(root: Path, tree: dict, manifest: bytes) -> None:
    assert snapshot(root / "p") == tree
    assert (root / ".hisham" / "p" / "manifest.json").read_bytes() == manifest
    assert _root_listing(root) == [".hisham", "p"]
    assert _root_listing(root / ".hisham" / "p") == ["lock", "manifest.json"]


def test_render_error_mid_tree_keeps_previous_generation(previous, tmp_path):
    root, tree, manifest = previous
    files = {f"f{i:03d}.txt": "{{ ok }}" for i in range(50)}
    files["f025.txt"] = "{{ missing_variable }}"
    template = write_tree(tmp_path / "tpl", {**files, "template.yaml": "variables:\n  ok: {default: fine}\n"})
    with pytest.raises(RenderError) as info:
        ProjectGenerator(str(root), workers=1).generate("p", template=str(template))
    assert info.value.path == "f025.txt"
    assert "missing_variable" in str(info.value)
    _assert_intact(root, tree, manifest)


def test_failure_in_forked_worker_is_reported_and_cleaned(previous, tmp_path, monkeypatch):
    root, tree, manifest = previous
    monkeypatch.setattr(writer, "PARALLEL_MIN_FILES", 4)
    monkeypatch.setattr(writer, "fork_refusal", lambda: None)  # fork even if the test process has threads
    files = {f"f{i:03d}.txt": "{{ ok }}" for i in range(40)}
    files["f031.txt"] = "{% for %}"  # odd index: handled by the forked worker
    template = write_tree(tmp_path / "tpl", {**files, "template.yaml": "variables:\n  ok: {default: fine}\n"})
    with pytest.raises(RenderError) as info:
        ProjectGenerator(str(root), workers=2).generate("p", template=str(template))
    assert info.value.path == "f031.txt"
    assert "syntax error on line 1" in str(info.value)
    _assert_intact(root, tree, manifest)


def test_disk_full_style_os_error_keeps_previous(previous, monkeypatch):
    root, tree, manifest = previous
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(writer.os, "write", failing_write)
    with pytest.raises(OSError, match="No space left"):
        ProjectGenerator(str(root), workers=1).generate("p", structure={f"n{i}.txt": "data" for i in range(10)})
    monkeypatch.undo()
    _assert_intact(root, tree, manifest)


@pytest.mark.parametrize(
    "limits, structure, limit",
    [
        (Limits(max_files=3), {f"f{i}": "x" for i in range(4)}, "max_files"),
        (Limits(max_file_bytes=10), {"big.txt": "x" * 11}, "max_file_bytes"),
        (Limits(max_project_bytes=25), {f"f{i}": "x" * 10 for i in range(3)}, "max_project_bytes"),
    ],
)
def test_limits_refuse_before_anything_is_replaced(previous, limits, structure, limit):
    root, tree, manifest = previous
    with pytest.raises(LimitExceededError) as info:
        ProjectGenerator(str(root), limits=limits).generate("p", structure=structure)
    assert info.value.limit == limit
    _assert_intact(root, tree, manifest)


def test_template_file_over_the_size_limit_is_refused_when_read(previous, tmp_path):
    """The walk takes a plain file's size from its read (no stat of its own): still refused, nothing replaced."""
    root, tree, manifest = previous
    template = write_tree(tmp_path / "tpl", {"a.txt": "small", "sub/big.txt": "x" * 101})
    os.chmod(template / "a.txt", 0o755)
    with pytest.raises(LimitExceededError) as info:
        ProjectGenerator(str(root), limits=Limits(max_file_bytes=100)).generate("p", template=str(template))
    assert info.value.limit == "max_file_bytes" and info.value.path.endswith("sub/big.txt")
    _assert_intact(root, tree, manifest)
    (template / "sub" / "big.txt").write_text("x" * 100)
    result = ProjectGenerator(str(root), limits=Limits(max_file_bytes=100)).generate("p", template=str(template))
    assert [(f["path"], f["executable"]) for f in result.manifest["files"]] == [("a.txt", True), ("sub/big.txt", False)]
    assert os.stat(Path(result.output_dir) / "a.txt").st_mode & 0o777 == 0o750


def test_rendered_size_limit_stops_a_template_bomb(previous, tmp_path):
    root, tree, manifest = previous
    template = write_tree(tmp_path / "tpl", {"bomb.txt": "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"})
    started = time.monotonic()
    with pytest.raises(LimitExceededError) as info:
        ProjectGenerator(str(root), limits=Limits(max_file_bytes=1_000_000)).generate("p", template=str(template))
    assert info.value.path == "bomb.txt"
    assert time.monotonic() - started < 5
    _assert_intact(root, tree, manifest)


def test_sandbox_blocks_unsafe_attribute_access(previous, tmp_path):
    root, tree, manifest = previous
    template = write_tree(tmp_path / "tpl", {"evil.txt": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    with pytest.raises(RenderError, match="evil.txt"):
        ProjectGenerator(str(root)).generate("p", template=str(template))
    _assert_intact(root, tree, manifest)


def test_variable_validation_errors_name_the_variable(tmp_path):
    template = write_tree(
        tmp_path / "tpl",
        {"a.txt": "{{ port }}", "template.yaml": "variables:\n  port: {type: int, default: 80, min: 1, max: 65535}\n  name: {pattern: '^[a-z]+$', default: ok}\n"},
    )
    gen = ProjectGenerator(str(tmp_path / "root"))
    for ctx, name, message in [
        ({"port": "eighty"}, "port", "expected an integer"),
        ({"port": 70000}, "port", "above the maximum"),
        ({"name": "Bad Name"}, "name", "does not match"),
    ]:
        with pytest.raises(VariableError) as info:
            gen.generate("p", template=str(template), context=ctx)
        assert info.value.name == name and message in str(info.value)
    assert gen.generate("p", template=str(template), context={"port": "8080"}).summary["total_files"] == 1
    assert (tmp_path / "root" / "p" / "a.txt").read_text() == "8080"


KILL_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from airflow_provider_hisham.generation import ProjectGenerator, writer

    real_share = writer._write_share
    def announced_share(root, *args, **kwargs):
        with open({marker!r} + ".part", "w") as fh:
            fh.write(root)
        os.replace({marker!r} + ".part", {marker!r})  # the test never reads a half-written marker
        return real_share(root, *args, **kwargs)
    writer._write_share = announced_share

    real_write = os.write
    written = [0]
    def slow_write(fd, data):  # after 30 files: announce, then crawl so SIGKILL lands mid-tree
        written[0] += 1
        if written[0] == 30:
            open({marker!r} + ".30", "w").close()
        if written[0] >= 30:
            time.sleep(0.01)
        return real_write(fd, data)
    writer.os.write = slow_write

    structure = {{f"d{{i % 7}}/f{{i:04d}}.txt": "new" * 10 for i in range(3000)}}
    ProjectGenerator({root!r}, workers=int(sys.argv[1])).generate("p", structure=structure)
    """
)


def _wait_until_gone(mark: str, timeout: float = 10.0) -> None:
    """Until no process runs a command line holding ``mark`` (the killed script and its fork)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and mark.encode() in (entry / "cmdline").read_bytes():
                    alive.append(entry.name)
            except OSError:  # it ended while we looked
                continue
        if not alive:
            return
        assert time.monotonic() < deadline, f"still running after SIGKILL of the parent: {alive}"
        time.sleep(0.01)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_generation_leaves_previous_and_next_run_cleans_up(previous, tmp_path, workers):
    root, tree, manifest = previous
    marker = tmp_path / "started"
    script = KILL_SCRIPT.format(repo=str(REPO_ROOT), marker=str(marker), root=str(root))
    proc = subprocess.Popen([sys.executable, "-c", script, str(workers)])
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert marker.exists(), "generation did not start"
    tmp_dir = Path(marker.read_text())
    while time.monotonic() < deadline and not Path(f"{marker}.30").exists():
        time.sleep(0.01)
    assert proc.poll() is None, "generation ended before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    _wait_until_gone(str(marker))  # the forked worker dies with its parent (PR_SET_PDEATHSIG)
    # The previous generation is untouched; only a hidden temp folder is left behind.
    assert snapshot(root / "p") == tree
    assert (root / ".hisham" / "p" / "manifest.json").read_bytes() == manifest
    leftovers = [n for n in _root_listing(root / ".hisham" / "p") if n.startswith("tmp-")]
    assert leftovers == [tmp_dir.name] and tmp_dir.parent == root / ".hisham" / "p"
    written = len(list(tmp_dir.rglob("*.txt")))
    assert 0 < written < 3000
    # The next generation removes the leftover and succeeds.
    result = ProjectGenerator(str(root)).generate("p", structure={"keep.txt": "generation 2"})
    assert _root_listing(root) == [".hisham", "p"]
    assert _root_listing(root / ".hisham" / "p") == ["lock", "manifest.json"]
    assert snapshot(Path(result.output_dir)) == {"keep.txt": b"generation 2"}


def test_regenerating_gives_the_same_bytes_and_manifest(tmp_path):
    gen = ProjectGenerator(str(tmp_path / "root"), templates_dirs=[shipped_templates_dir()])
    first = gen.generate("p", template="python-package", context={"project_name": "Same Bytes"})
    tree1 = snapshot(Path(first.output_dir))
    manifest1 = Path(first.manifest_path).read_bytes()
    second = gen.generate("p", template="python-package", context={"project_name": "Same Bytes"})
    assert snapshot(Path(second.output_dir)) == tree1
    assert Path(second.manifest_path).read_bytes() == manifest1
    assert first.summary == second.summary


def test_permissions_are_not_world_readable(tmp_path):
    old = os.umask(0)
    try:
        result = ProjectGenerator(str(tmp_path / "root")).generate("p", structure={"a/b.txt": "x", "c/": {}})
    finally:
        os.umask(old)
    for path in [Path(result.output_dir), *Path(result.output_dir).rglob("*"), Path(result.manifest_path)]:
        assert path.stat().st_mode & 0o007 == 0, path


def test_manifest_and_compact_summary(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\0\0binary"
    result = ProjectGenerator(str(tmp_path / "root")).generate("p", structure={"a.txt": "hello\n", "img.png": png, "e/": {}})
    manifest = json.loads(Path(result.manifest_path).read_text())
    assert manifest["totals"] == {"files": 2, "directories": 1, "bytes": 6 + len(png), "text_files": 1, "binary_files": 1}
    import hashlib

    assert manifest["files"][0] == {"path": "a.txt", "size": 6, "sha256": hashlib.sha256(b"hello\n").hexdigest(), "type": "text", "executable": False}
    assert manifest["files"][1]["type"] == "binary"
    assert result.summary["sha256"] == hashlib.sha256(Path(result.manifest_path).read_bytes()).hexdigest()
    # kept in the root's state folder, outside the tree (an export never sees it)
    assert Path(result.manifest_path) == Path(result.output_dir).parent / ".hisham" / "p" / "manifest.json"


def test_manifest_bytes_are_json_dumps_sorted_and_compact():
    """encode_manifest writes the file list itself: the bytes must stay those of json.dumps."""
    import hashlib

    from airflow_provider_hisham.generation.records import build_manifest, encode_manifest

    names = ['say "hi".txt', "caf\u00e9/\u65e5\u672c.md", "tab\\back", "emoji \U0001f600.py", "plain.txt", "</script>"]
    records = [writer.FileRecord(n, i * 7, hashlib.sha256(n.encode()).hexdigest(), ("text", "binary")[i % 2], i % 3 == 0)
               for i, n in enumerate(names)]
    for template in (None, "t\u00ebmplate \"x\""):
        manifest = build_manifest("p\u00e9", template, records, ["caf\u00e9", "d \"q\""])
        expected = json.dumps(manifest, indent=None, separators=(",", ":"), sort_keys=True, ensure_ascii=False) + "\n"
        assert encode_manifest(manifest) == expected.encode("utf-8")
        lines = hashlib.sha256()
        for r in records:
            lines.update(f"{r.path}\0{r.size}\0{r.sha256}\0{int(r.executable)}\n".encode())
        assert manifest["tree_sha256"] == lines.hexdigest()


def test_summary_stays_small_for_ten_thousand_files(tmp_path):
    result = ProjectGenerator(str(tmp_path / "root")).generate("big", structure={f"d{i % 50}/f{i}.txt": f"{i}" for i in range(10_000)})
    assert result.summary["total_files"] == 10_000
    assert len(json.dumps(result.summary)) < 1024
    assert len(list(Path(result.output_dir).rglob("*.txt"))) == 10_000
