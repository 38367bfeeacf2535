"""Every refusal names the offending path and leaves the file system outside the root untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import (
    Limits,
    PathCollisionError,
    ProjectGenerator,
    StructureError,
    UnsafePathError,
)
from tests.generation.helpers import outside_state, write_tree


@pytest.fixture
def sandbox(tmp_path):
    """tmp/outside (must never change), tmp/root (the output root) with a previous generation."""
    outside = tmp_path / "outside"
    write_tree(outside, {"victim.txt": "keep me", "dir/": {}})
    root = tmp_path / "root"
    ProjectGenerator(str(root)).generate("p", structure={"old.txt": "previous"})
    return tmp_path, root


BAD_STRUCTURES = {
    "absolute": ({"/etc/passwd_copy": "x"}, "/etc/passwd_copy", "absolute"),
    "dotdot": ({"../outside/victim.txt": "x"}, "../outside/victim.txt", "'..'"),
    "dotdot_nested": ({"a": {"..": {"..": {"victim.txt": "x"}}}}, "a/..", "'..'"),
    "dot": ({"./a.txt": "x"}, "./a.txt", "'.'"),
    "nul": ({"a\x00b.txt": "x"}, "a\x00b.txt", "NUL or control"),
    "control": ({"bell\x07.txt": "x"}, "bell\x07.txt", "NUL or control"),
    "newline": ({"line\nbreak.txt": "x"}, "line\nbreak.txt", "NUL or control"),
    "backslash": ({"a\\..\\..\\victim.txt": "x"}, "a\\..\\..\\victim.txt", "backslash"),
    "drive": ({"C:evil.txt": "x"}, "C:evil.txt", "drive letter"),
    "drive_abs": ({"c:/windows/x": "x"}, "c:/windows/x", "drive letter"),
    "long_name": ({"n" * 256: "x"}, "n" * 256, "longer than 255"),
    "empty_segment": ({"a//b.txt": "x"}, "a//b.txt", "empty segment"),
}


@pytest.mark.parametrize("case", sorted(BAD_STRUCTURES))
def test_unsafe_structure_paths_are_refused(sandbox, case):
    tmp, root = sandbox
    structure, path, reason = BAD_STRUCTURES[case]
    before = outside_state(tmp, root)
    with pytest.raises(UnsafePathError) as info:
        ProjectGenerator(str(root)).generate("p", structure=structure)
    assert info.value.path == path
    assert reason in str(info.value)
    assert outside_state(tmp, root) == before
    assert (root / "p" / "old.txt").read_text() == "previous"
    assert sorted(os.listdir(root)) == [".hisham", "p"]
    assert sorted(os.listdir(root / ".hisham" / "p")) == ["lock", "manifest.json"]


def test_long_path_is_refused(sandbox):
    _, root = sandbox
    deep = "/".join(["d" * 200] * 30) + "/f.txt"
    with pytest.raises(UnsafePathError, match="longer than 4096 bytes"):
        ProjectGenerator(str(root)).generate("p", structure={deep: "x"})


@pytest.mark.parametrize(
    "structure, path, other",
    [
        ({"README.md": "a", "readme.md": "b"}, "readme.md", "README.md"),
        ({"Src": {"a.py": ""}, "src": {"b.py": ""}}, "src", "Src"),
        ({"docs": "file", "docs/": {}}, "docs", "docs"),
        ({"a/b": "file", "a/b/c.txt": "nested"}, "a/b", "a/b"),
    ],
)
def test_case_collisions_and_file_folder_clashes_are_refused(sandbox, structure, path, other):
    _, root = sandbox
    with pytest.raises(PathCollisionError) as info:
        ProjectGenerator(str(root)).generate("p", structure=structure)
    assert {info.value.path, info.value.other} == {path, other}
    assert (root / "p" / "old.txt").read_text() == "previous"


@pytest.mark.parametrize("project_id", ["../escape", "/abs", "a/b", ".hidden", "..", "", "x\x00y", "C:x"])
def test_unsafe_project_ids_are_refused(sandbox, project_id):
    tmp, root = sandbox
    before = outside_state(tmp, root)
    with pytest.raises(UnsafePathError):
        ProjectGenerator(str(root)).generate(project_id, structure={"a.txt": "x"})
    assert outside_state(tmp, root) == before


def test_rendered_names_are_confined_too(sandbox, tmp_path):
    tmp, root = sandbox
    template = write_tree(tmp_path / "tpl", {"{{ name }}.txt": "x", "template.yaml": "variables:\n  name: {default: ok}\n"})
    before = outside_state(tmp, root)
    for evil in ("../../outside/victim", "/etc/evil", "a\\b", "x\x01"):
        with pytest.raises(UnsafePathError) as info:
            ProjectGenerator(str(root)).generate("p", template=str(template), context={"name": evil})
        assert info.value.path == f"{evil}.txt"
    assert outside_state(tmp, root) == before
    assert (tmp / "outside" / "victim.txt").read_text() == "keep me"


def test_template_symlink_leading_outside_is_refused(sandbox, tmp_path):
    tmp, root = sandbox
    template = write_tree(tmp_path / "tpl", {"ok.txt": "fine"})
    os.symlink(tmp / "outside" / "victim.txt", template / "leak.txt")
    with pytest.raises(UnsafePathError) as info:
        ProjectGenerator(str(root)).generate("p", template=str(template))
    assert info.value.path == "leak.txt"
    assert "outside the template" in str(info.value)
    os.unlink(template / "leak.txt")
    os.symlink(tmp / "outside", template / "linkdir")
    with pytest.raises(UnsafePathError) as info:
        ProjectGenerator(str(root)).generate("p", template=str(template))
    assert info.value.path == "linkdir"


def test_template_symlink_inside_is_followed(tmp_path):
    template = write_tree(tmp_path / "tpl", {"real/a.txt": "A {{ v }}", "template.yaml": "variables:\n  v: {default: 1}\n"})
    os.symlink("real/a.txt", template / "alias.txt")
    os.symlink("real", template / "aliasdir")
    result = ProjectGenerator(str(tmp_path / "root")).generate("p", template=str(template))
    out = Path(result.output_dir)
    assert (out / "alias.txt").read_text() == "A 1"
    assert not (out / "alias.txt").is_symlink()
    assert (out / "aliasdir" / "a.txt").read_text() == "A 1"


def test_template_symlink_cycle_is_refused(tmp_path):
    template = write_tree(tmp_path / "tpl", {"a/x.txt": "x"})
    os.symlink("..", template / "a" / "up")
    with pytest.raises(UnsafePathError, match="cycle") as info:
        ProjectGenerator(str(tmp_path / "root")).generate("p", template=str(template))
    assert info.value.path == "a/up"


def test_symlink_already_in_target_is_refused(sandbox):
    tmp, root = sandbox
    os.symlink(tmp / "outside", root / "q")
    before = outside_state(tmp, root)
    with pytest.raises(UnsafePathError) as info:
        ProjectGenerator(str(root)).generate("q", structure={"victim.txt": "overwritten"})
    assert info.value.path == str(root / "q")
    assert (tmp / "outside" / "victim.txt").read_text() == "keep me"
    assert outside_state(tmp, root) == before


def test_symlinked_manifest_is_refused(sandbox):
    tmp, root = sandbox
    (root / ".hisham" / "r").mkdir(parents=True)
    os.symlink(tmp / "outside" / "victim.txt", root / ".hisham" / "r" / "manifest.json")
    with pytest.raises(UnsafePathError, match="manifest.json"):
        ProjectGenerator(str(root)).generate("r", structure={"a.txt": "x"})
    assert (tmp / "outside" / "victim.txt").read_text() == "keep me"
    assert not (root / "r").exists()  # refused before the tree was swapped in


@pytest.mark.parametrize("structure", [{"a.txt": 3}, {"a.txt": None}, {"dir/": "text"}, {5: "x"}])
def test_bad_structure_values_name_the_entry(tmp_path, structure):
    with pytest.raises(StructureError):
        ProjectGenerator(str(tmp_path)).generate("p", structure=structure)


def test_limits_on_names_are_configurable(tmp_path):
    gen = ProjectGenerator(str(tmp_path), limits=Limits(max_name_bytes=10))
    with pytest.raises(UnsafePathError, match="longer than 10 bytes"):
        gen.generate("p", structure={"elevenchars": "x"})


def test_project_id_leaves_room_for_the_names_beside_it(tmp_path):
    gen = ProjectGenerator(str(tmp_path))
    with pytest.raises(UnsafePathError, match="project id is longer than 223 bytes"):
        gen.generate("p" * 224, structure={"a": "x"})
    assert gen.generate("p" * 223, structure={"a": "x"}).summary["total_files"] == 1


def assert_same_verdict(checker, path: str, limits: Limits) -> None:
    """``checker.check(path)`` passes, or refuses with the very error of the full check."""
    from airflow_provider_hisham.generation.paths import check_relative_path

    try:
        check_relative_path(path, limits)
    except UnsafePathError as full:
        with pytest.raises(UnsafePathError) as fast:
            checker.check(path)
        assert (fast.value.path, str(fast.value)) == (full.path, str(full))
    else:
        assert checker.check(path) == path


CHILD_NAMES = ["..", ".", "", "a\x00b", "bell\x07", "\u202eexe.txt", ".git", "GIT~1", "a\\b", "C:x", "n" * 256, "ok.txt", "x/y", "x//y"]


@pytest.mark.parametrize("name", CHILD_NAMES)
def test_path_checker_after_its_folders_passed_refuses_exactly_as_the_full_check(name):
    """PathChecker checks only the last name of a path below a folder that passed: same verdicts, same errors."""
    from airflow_provider_hisham.generation.paths import PathChecker

    limits = Limits(max_depth=4, max_path_bytes=300)
    checker = PathChecker(limits)
    assert checker.check("src") == "src" and checker.check("src/pkg") == "src/pkg"
    path = f"src/pkg/{name}"
    assert_same_verdict(checker, path, limits)


@pytest.mark.parametrize("name", CHILD_NAMES + ["plain.txt", "-dash", "a" * 12, "Caf\u00e9", "git~1x", "gitx", "a:b", "_x+y=z@w,v-"])
@pytest.mark.parametrize("below", ["", "src/", "caf\u00e9/"])
def test_path_checker_plain_names_and_top_level_names_refuse_exactly_as_the_full_check(name, below):
    """The one-match path for plain ASCII names, at the top and below a passed folder (an ASCII one
    or not), against the full check with tight limits: same verdicts, same errors."""
    from airflow_provider_hisham.generation.paths import PathChecker

    limits = Limits(max_depth=2, max_path_bytes=16, max_name_bytes=11)
    checker = PathChecker(limits)
    if below:
        checker.check(below.rstrip("/"))
    path = below + name
    assert_same_verdict(checker, path, limits)


def test_check_tree_finds_the_folders_above_declared_folders_and_files():
    from airflow_provider_hisham.generation.errors import PathCollisionError
    from airflow_provider_hisham.generation.paths import check_tree

    check_tree(["a/b/c.txt", "x/y.txt"], ["a/b", "q/r/s"])
    with pytest.raises(PathCollisionError, match="'a': differs only in case from 'A'"):
        check_tree(["A/z.txt"], ["a/b/c"])  # "a" is only an ancestor of a declared folder
    with pytest.raises(PathCollisionError, match="is a file but collides with the folder"):
        check_tree(["q/r", "z.txt"], ["q/r/s"])


def test_path_checker_keeps_the_depth_and_length_limits():
    from airflow_provider_hisham.generation.paths import PathChecker

    checker = PathChecker(Limits(max_depth=3, max_path_bytes=20))
    checker.check("a/b/c")
    with pytest.raises(UnsafePathError, match="deeper than 3"):
        checker.check("a/b/c/d")
    checker.check("a/bbbbbbbbbbbbbbbbbb")  # 20 bytes
    with pytest.raises(UnsafePathError, match="longer than 20"):
        checker.check("a/bbbbbbbbbbbbbbbbbb/c")
    with pytest.raises(UnsafePathError, match="not a string"):
        checker.check(b"a/b")  # type: ignore[arg-type]


def test_template_symlink_cycle_deep_below_is_refused(tmp_path):
    """Folders are followed by their real path: a link two levels down back to the top is a cycle."""
    template = write_tree(tmp_path / "tpl", {"a/b/x.txt": "x", "a/c/y.txt": "y"})
    os.symlink("../..", template / "a" / "b" / "top")
    os.symlink("../c", template / "a" / "b" / "sibling")  # not an ancestor: followed
    with pytest.raises(UnsafePathError, match="cycle") as info:
        ProjectGenerator(str(tmp_path / "root")).generate("p", template=str(template))
    assert info.value.path == "a/b/top"
    os.unlink(template / "a" / "b" / "top")
    out = Path(ProjectGenerator(str(tmp_path / "root")).generate("p", template=str(template)).output_dir)
    assert (out / "a" / "b" / "sibling" / "y.txt").read_text() == "y"
