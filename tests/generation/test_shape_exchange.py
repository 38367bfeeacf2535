"""The two writer processes compile each template shape once between them, and never wait for it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airflow_provider_hisham.generation import ProjectGenerator, writer
from airflow_provider_hisham.generation.errors import RenderError
from airflow_provider_hisham.generation.limits import Limits
from airflow_provider_hisham.generation.plan import Plan, PlannedFile
from airflow_provider_hisham.generation.render import Renderer
from airflow_provider_hisham.generation.shape_exchange import RESULT, ShapeExchange, send_frame

SHAPES = 12


def logic_text(i: int) -> str:
    """Twelve shapes (the loop's bound differs), each in many files with their own literal text."""
    return f"file {i}\n{{% for n in range({(i // 2) % SHAPES}) %}}[{{{{ name }}}}-{{{{ n }}}}]{{% endfor %}}\nend {i}\n"


def write_template(root: Path, files: int) -> Path:
    (root / "template.yaml").parent.mkdir(parents=True)
    (root / "template.yaml").write_text("name: shapes\nvariables:\n  name: {default: World}\n")
    for i in range(files):
        folder = root / f"d{i // 20:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i:04d}.txt").write_text(logic_text(i) if i % 2 else f"static {i}\n")
    return root


@pytest.fixture
def compile_log(tmp_path, monkeypatch):
    """Every shape compiled and every shape taken from the other process, by pid, in a file both
    processes append to."""
    log = tmp_path / "compiles.log"
    real_compile, real_take = Renderer._compile_shape, ShapeExchange.take

    def note(line: str) -> None:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(fd, f"{line} {os.getpid()}\n".encode())
        os.close(fd)

    def compile_shape(self, tree):
        note("compile")
        return real_compile(self, tree)

    def take(self, key):
        code = real_take(self, key)
        if code is not None:
            note("take")
        return code

    monkeypatch.setattr(Renderer, "_compile_shape", compile_shape)
    monkeypatch.setattr(ShapeExchange, "take", take)
    monkeypatch.setattr(writer, "fork_refusal", lambda: None)  # fork even if the test process has threads
    return lambda: [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def test_two_writers_share_their_shapes_and_write_what_one_writes(tmp_path, compile_log):
    template = write_template(tmp_path / "tpl", writer.PARALLEL_MIN_FILES * 3)
    one = ProjectGenerator(str(tmp_path / "one"), workers=1).generate("p", template=str(template))
    assert sum(1 for event, _ in compile_log() if event == "compile") == SHAPES
    (tmp_path / "compiles.log").unlink()
    two = ProjectGenerator(str(tmp_path / "two"), workers=2).generate("p", template=str(template))
    events = compile_log()
    compiled = [pid for event, pid in events if event == "compile"]
    takers = {pid for event, pid in events if event == "take"}
    assert len(set(compiled)) == 2 and len(takers) == 2, events  # both compiled some, both took some
    assert len(compiled) < 2 * SHAPES, events  # not every shape twice, as two lone writers would
    assert Path(one.manifest_path).read_bytes() == Path(two.manifest_path).read_bytes()
    for f in two.manifest["files"]:
        assert (Path(two.output_dir) / f["path"]).read_bytes() == (Path(one.output_dir) / f["path"]).read_bytes()


def plan_of(tmp_path: Path, texts: list[str]) -> tuple[Plan, str]:
    source = tmp_path / "src"
    source.mkdir()
    files = []
    for i, text in enumerate(texts):
        (source / f"t{i:03d}").write_text(text)
        files.append(PlannedFile(f"o{i:03d}.txt", source=str(source / f"t{i:03d}")))
    out = tmp_path / "out"
    out.mkdir()
    return Plan(files=files, context={"name": "World"}), str(out)


def test_a_shape_that_never_arrives_is_compiled_here_after_the_other_files(tmp_path, monkeypatch):
    """Every shape the other's and nothing ever sent: each waiting file is rendered at the end, in full."""
    plan, out = plan_of(tmp_path, [logic_text(i) if i % 3 else f"plain {i}" for i in range(60)])
    read_fd, write_fd = os.pipe()
    exchange = ShapeExchange(0, None, read_fd)
    monkeypatch.setattr(exchange, "mine", lambda key: False)
    renderer = Renderer()
    renderer.shape_peer = exchange
    order = []
    real_open = writer.os.open
    monkeypatch.setattr(writer.os, "open", lambda path, *a: order.append(os.path.basename(path)) or real_open(path, *a))
    rows = writer._write_share(out, plan.files, writer._Producer(plan, renderer, Limits()), Limits(), None, 1, exchange)
    os.close(write_fd)
    os.close(read_fd)
    written = [name for name in order if name.startswith("o")]  # not the template files read
    plain = [f"o{i:03d}.txt" for i in range(60) if i % 3 == 0]
    assert written[:len(plain)] == plain  # the logic files waited
    assert sorted(r[0] for r in rows) == [f"o{i:03d}.txt" for i in range(60)]
    for i in range(1, 60, 3):
        assert Path(out, f"o{i:03d}.txt").read_text() == Renderer().render(logic_text(i), {"name": "World"}, "x")


def test_a_waiting_file_that_fails_is_refused_naming_it(tmp_path, monkeypatch):
    plan, out = plan_of(tmp_path, ["fine {{ name }}", "{% for n in range(2) %}{{ missing }}{% endfor %}", "plain"])
    exchange = ShapeExchange(0, None, None)
    monkeypatch.setattr(exchange, "mine", lambda key: False)
    renderer = Renderer()
    renderer.shape_peer = exchange
    with pytest.raises(RenderError, match="'o001.txt'.*'missing' is undefined"):
        writer._write_share(out, plan.files, writer._Producer(plan, renderer, Limits()), Limits(), None, 1, exchange)


def test_offers_never_wait_on_a_full_pipe_and_every_frame_arrives_whole(tmp_path, monkeypatch):
    """A full pipe: the frame it took part of is finished later, offers meanwhile are dropped,
    and the receiver gets whole frames only, then the result."""
    read_fd, write_fd = os.pipe()
    sender = ShapeExchange(1, write_fd, None)
    monkeypatch.setattr(sender, "mine", lambda key: True)
    code = compile("x = 1", "<shape>", "exec")
    offered = 0
    while sender.flush():  # until a frame is only partly in the pipe
        sender.offer(("k", offered), code)
        offered += 1
    sender.offer(("dropped", 0), code)  # the pipe is still full: dropped, not waited for
    receiver = ShapeExchange(0, None, read_fd)
    receiver.drain()  # frees the pipe
    assert all(receiver.has(("k", n)) for n in range(offered - 1)) and not receiver.has(("k", offered - 1))
    sender.flush(wait=True)
    os.set_blocking(write_fd, True)
    send_frame(write_fd, RESULT, b"the result")
    os.close(write_fd)
    assert receiver.finish() == b"the result"
    assert receiver.has(("k", offered - 1)) and not receiver.has(("dropped", 0))
    assert receiver.take(("k", 0)).co_consts == code.co_consts
    os.close(read_fd)


def test_an_offer_to_an_ended_process_is_dropped():
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    sender = ShapeExchange(0, write_fd, None)
    sender.offer(next(k for k in (("a", n) for n in range(100)) if sender.mine(k)), compile("1", "<s>", "eval"))
    assert sender.out_fd is None and sender.flush()
    os.close(write_fd)


def test_shapes_held_unused_are_bounded(monkeypatch):
    """Past MAX_HELD_BYTES of shapes not yet taken, more are dropped; taking one frees its room."""
    import marshal
    import pickle

    from airflow_provider_hisham.generation import shape_exchange

    code = compile("x = 'a'", "<shape>", "exec")
    size = len(marshal.dumps(code))
    monkeypatch.setattr(shape_exchange, "MAX_HELD_BYTES", 3 * size)
    read_fd, write_fd = os.pipe()
    for n in range(5):
        send_frame(write_fd, shape_exchange.SHAPE, pickle.dumps((("k", n), marshal.dumps(code))))
    receiver = ShapeExchange(0, None, read_fd)
    receiver.drain()
    assert [receiver.has(("k", n)) for n in range(5)] == [True, True, True, False, False]
    assert receiver.take(("k", 0)) is not None
    send_frame(write_fd, shape_exchange.SHAPE, pickle.dumps((("k", 5), marshal.dumps(code))))
    receiver.drain()
    assert receiver.has(("k", 5))
    os.close(write_fd)
    os.close(read_fd)
