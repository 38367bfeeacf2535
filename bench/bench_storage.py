"""Hand-off of a generated project between two workers through an S3-compatible server (moto on
127.0.0.1, in a child process): this provider's publish + fetch vs uploading and downloading the
same files one object each with s3fs (``put``/``get`` recursive: s3fs's own concurrent batching),
in one run; and vs the local root (the default: nothing copied), whose overhead is reported.

    python bench/bench_storage.py                  # 10,000 files (target: ratio >= 5x)
    python bench/bench_storage.py --files 200
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airflow_provider_hisham.generation import generate_project  # noqa: E402
from airflow_provider_hisham.storage.store import Store  # noqa: E402
from tests.storage.s3_server import MotoS3  # noqa: E402


def _project(root: str, files: int) -> tuple[str, bytes]:
    structure = {f"pkg_{i % 50}/module_{i}.py": f'"""Module {i}."""\n\nVALUE = {i}\n' + "# filler\n" * (i % 20)
                 for i in range(files)}
    result = generate_project(root, "bench-project", structure=structure)
    return result.output_dir, Path(result.manifest_path).read_bytes()


def _tree_digest(folder: str) -> str:
    digest = hashlib.sha256()
    for dirpath, dirnames, names in os.walk(folder):
        dirnames.sort()
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="hisham-bench-storage-")
    try:
        with MotoS3(process=True) as s3:
            fs = s3.fs()
            out, manifest = _project(os.path.join(work, "worker-a"), args.files)
            want = _tree_digest(out)

            bucket = s3.bucket("bench")
            store = Store.remote(fs, bucket, f"s3://{bucket}")
            started = time.perf_counter()
            ref = store.publish(out, manifest)
            published = time.perf_counter()
            fetched = store.fetch(ref, os.path.join(work, "worker-b"))
            ours_fetch = time.perf_counter() - published
            ours_publish = published - started
            assert _tree_digest(fetched.output_dir) == want

            plain = s3.bucket("plain")
            started = time.perf_counter()
            fs.put(out, f"{plain}/bench-project", recursive=True)
            uploaded = time.perf_counter()
            fs.get(f"{plain}/bench-project", os.path.join(work, "worker-c", "bench-project"), recursive=True)
            plain_get = time.perf_counter() - uploaded
            plain_put = uploaded - started
            assert _tree_digest(os.path.join(work, "worker-c", "bench-project")) == want

            local = Store.local(os.path.join(work, "worker-a"))
            started = time.perf_counter()
            local_ref = local.publish(out, manifest)
            local.fetch(local_ref, os.path.join(work, "worker-a"))
            local_s = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, plain_s = ours_publish + ours_fetch, plain_put + plain_get
    print(f"{args.files} files, {len(manifest)} manifest bytes")
    print(f"provider publish {ours_publish:.3f} s + fetch {ours_fetch:.3f} s = {ours:.3f} s")
    print(f"s3fs one object each: put {plain_put:.3f} s + get {plain_get:.3f} s = {plain_s:.3f} s")
    print(f"ratio (s3fs / provider): {plain_s / ours:.1f}x")
    print(f"local root (default, nothing copied): {local_s * 1000:.1f} ms; storage adds {ours - local_s:.3f} s")
    return {"files": args.files, "ours": ours, "plain": plain_s, "local": local_s, "ratio": plain_s / ours}


if __name__ == "__main__":
    main()
