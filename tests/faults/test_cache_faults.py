"""Cache and recovery weaknesses: a cached file is verified on every use, transient failures are retried
on the next run, outputs respect the umask, and nothing half-written survives a kill or a full disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gutskin._atomic import atomic_write_text, write_json
from gutskin.fetch import cache_path, fetch, fetch_dataset
from gutskin.sources.http import ApiClient
from gutskin.sources.qiita import archive_urls
from tests.support.httpserver import FaultServer, Response
from tests.support.net import fast_api_settings, fast_fetch_settings
from tests.unit.test_sources_qiita import (
    FIXTURES,
    biom_bytes,
    dataset_block,
    zip_bytes,
)

A = b"#SampleID\tX\nS1\ta\n" * 40
B = b"#SampleID\tX\nS1\tb\n" * 40
SHA_A = hashlib.sha256(A).hexdigest()
SHA_B = hashlib.sha256(B).hexdigest()
REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


@pytest.mark.fault(
    "N5 cache file corrupted without changing its size or mtime",
    "detected by re-hashing on every use: deleted and fetched again (pinned files and API files)",
    before="new",
)
def test_same_size_same_mtime_corruption_is_detected(server: FaultServer, tmp_path: Path) -> None:
    url = server.add("/data/a.txt", A)
    s = fast_fetch_settings(tmp_path)
    path = fetch(url, SHA_A, s).path
    st = path.stat()
    path.write_bytes(B)  # same length
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = fetch(url, SHA_A, s)
    assert again.source == "network" and again.path.read_bytes() == A
    assert server.count("/data/a.txt") == 2
    # API files (no sha256 pinned): checked against the recorded sha256
    url2 = server.add("/files/b.txt", A)
    api = fast_api_settings(tmp_path)
    with ApiClient(api) as client:
        p2 = client.download(url2).path
        st2 = p2.stat()
        p2.write_bytes(B)
        os.utime(p2, ns=(st2.st_atime_ns, st2.st_mtime_ns))
        res = client.download(url2)
    assert res.source == "network" and res.path.read_bytes() == A


@pytest.mark.fault(
    "W7 cache trusts a sidecar; a cached URL asked for with a new sha256",
    "the file is re-hashed against the sha256 asked for: the stale copy is replaced, never returned",
    before="weak",
)
def test_cached_url_with_a_new_sha256(server: FaultServer, tmp_path: Path) -> None:
    s = fast_fetch_settings(tmp_path)
    server.add("/data/v.txt", A)
    url = server.url("/data/v.txt")
    assert fetch(url, SHA_A, s).path.read_bytes() == A
    server.add("/data/v.txt", B)  # the file was re-released; config pins the new sha256
    res = fetch(url, SHA_B, s)
    assert res.source == "network" and res.sha256 == SHA_B
    assert res.path.read_bytes() == B
    assert cache_path(s.cache_dir, url).read_bytes() == B


@pytest.mark.fault(
    "W1 HTML error page served as a Qiita archive",
    "not cached: the dataset is unavailable this run and fetched again (successfully) on the next",
    before="weak",
)
def test_html_error_page_is_not_cached_as_an_archive(server: FaultServer, tmp_path: Path) -> None:
    info = (FIXTURES / "qiita_sample_information.txt").read_bytes()
    biom_url, info_url = archive_urls(server.base_url, 99)
    page = b"<!DOCTYPE html><html><body>Service temporarily unavailable</body></html>"
    good = zip_bytes({"BIOM/1/reference-hit.biom": biom_bytes(tmp_path)})
    server.add_sequence(
        biom_url[len(server.base_url) :], [Response(body=page), Response(body=good)]
    )
    server.add(info_url[len(server.base_url) :], zip_bytes({"templates/99_x.txt": info}))
    s = fast_fetch_settings(tmp_path, retries=1)
    first = fetch_dataset("q", dataset_block(server), s)
    assert first["available"] is False and "not a zip archive" in first["reason"]
    second = fetch_dataset("q", dataset_block(server), s)
    assert second["available"] is True, second["reason"]


SNAKEFILE = """
import json

from gutskin.config import forget_unavailable

# as in workflow/rules/common.smk and fetch.smk: fetch is a checkpoint, and a manifest that says
# available: false is removed at the start of the next run, with the output that reads it (the ledger)
if workflow.is_main_process and not workflow.dryrun:
    forget_unavailable(["fetch.json"], outputs=["report.txt"])

checkpoint fetch:
    output: "fetch.json"
    run:
        import pathlib
        n = pathlib.Path("attempts.txt")
        k = int(n.read_text()) + 1 if n.exists() else 1
        n.write_text(str(k))
        json.dump({"available": k >= 3}, open(output[0], "w"))

def imported(wildcards):
    with open(checkpoints.fetch.get().output[0]) as fh:
        return ["import.txt"] if json.load(fh)["available"] else []

rule import_dataset:
    input: "fetch.json"
    output: "import.txt"
    run:
        open("imports.log", "a").write("import\\n")
        open(output[0], "w").write("data")

rule report:
    input: "fetch.json", imported
    output: "report.txt"
    run:
        open(output[0], "w").write("with data" if len(input) > 1 else "without data")
"""


@pytest.mark.slow
@pytest.mark.fault(
    "W1 dataset unavailable once (HTTP 500)",
    "the fetch checkpoint runs again on the next snakemake run until it is available, then stays done; "
    "the job after it is planned only once the data are there",
    before="weak",
)
def test_unavailable_manifest_is_fetched_again_on_rerun(tmp_path: Path) -> None:
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    snakemake = str(Path(PY).with_name("snakemake"))

    def run() -> tuple[str, str]:
        done = subprocess.run(
            [snakemake, "-c1", "report.txt"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return (tmp_path / "attempts.txt").read_text(), (tmp_path / "report.txt").read_text()

    assert [run(), run(), run(), run()] == [
        ("1", "without data"),
        ("2", "without data"),
        ("3", "with data"),
        ("3", "with data"),
    ]
    assert json.loads((tmp_path / "fetch.json").read_text()) == {"available": True}
    # no import job while the data were unavailable, one once they came, none on the run after
    assert (tmp_path / "imports.log").read_text() == "import\n"


def test_the_workflow_forgets_unavailable_manifests() -> None:
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert "forget_unavailable(" in common and "workflow.is_main_process" in common
    fetch = (REPO / "workflow" / "rules" / "fetch.smk").read_text()
    assert "checkpoint fetch:" in fetch and "checkpoints.fetch.get(" in common
    assert "outputs=[CLAIMS_JSON, CLAIMS_TSV]" in common


@pytest.mark.fault(
    "W8 outputs readable by the group (umask respected)",
    "files are 0666 & ~umask (0644 with umask 022, 0664 with 002), never mkstemp's 0600",
    before="weak",
)
@pytest.mark.parametrize("mask", [0o022, 0o002])
def test_outputs_respect_the_umask(server: FaultServer, tmp_path: Path, mask: int) -> None:
    import numpy as np
    import pandas as pd

    from gutskin.calibration import write_calibration
    from gutskin.claims.ledger import write_json as ledger_json
    from gutskin.importer import write_samples_tsv
    from gutskin.io import FeatureTable, write_biom

    old = os.umask(mask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        atomic_write_text(tmp_path / "b.txt", "x\n")
        write_samples_tsv(pd.DataFrame({"sample_id": ["S1"]}), tmp_path / "s.tsv")
        write_biom(FeatureTable(np.ones((1, 1)), ["S1"], ["F1"]), tmp_path / "t.biom")
        ledger_json(
            {"claims": []}, tmp_path / "claims.json"
        )  # results/claims.json (was 0644 whatever the umask)
        write_calibration({"x": 1}, tmp_path / "calibration.json")  # was 0600
        url = server.add("/d.txt", A)
        cached = fetch(url, SHA_A, fast_fetch_settings(tmp_path)).path
    finally:
        os.umask(old)
    want = 0o666 & ~mask
    names = ("a.json", "b.txt", "s.tsv", "t.biom", "claims.json", "calibration.json")
    for p in [*(tmp_path / n for n in names), cached]:
        assert p.stat().st_mode & 0o777 == want, p


WRITER = textwrap.dedent(
    """
    import sys, time
    from gutskin._atomic import atomic_path
    target = sys.argv[1]
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        for _ in range(10_000):
            fh.write(b"x" * 4096)
            fh.flush()
            time.sleep(0.001)
    """
)


@pytest.mark.fault(
    "W5 SIGKILL while writing an output",
    "the final name keeps the old content (or stays absent); only a dot-named temporary file is left",
    before="weak",
)
def test_sigkill_leaves_no_partial_output(tmp_path: Path) -> None:
    target = tmp_path / "depth.tsv"
    target.write_text("old\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([PY, "-c", WRITER, str(target)], env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(tmp_path.glob(".depth.tsv.tmp-*")):
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert target.read_text() == "old\n"
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert leftovers and all(n.startswith(".depth.tsv.tmp-") for n in leftovers)


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    import numpy as np, pandas as pd
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    from gutskin._atomic import write_json
    from gutskin.importer import write_samples_tsv
    out = Path(sys.argv[1])
    failed = []
    for name, write in [
        ("big.json", lambda p: write_json(p, {"x": "y" * 50_000})),
        ("samples.tsv", lambda p: write_samples_tsv(pd.DataFrame({"sample_id": [f"S{i}" for i in range(9000)]}), p)),
    ]:
        try:
            write(out / name)
        except OSError as exc:
            failed.append(f"{name}:{exc.errno}")
    print(" ".join(failed))
    """
)


@pytest.mark.fault(
    "N4 full disk while writing results",
    "OSError (EFBIG/ENOSPC) reaches the caller; no file under the final name, no temporary left",
    before="new",
)
def test_full_disk_while_writing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [PY, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.split()) == ["big.json:27", "samples.tsv:27"]  # EFBIG
    assert list(tmp_path.iterdir()) == []


@pytest.mark.fault(
    "N4 full disk while writing results",
    "a download into a full cache (64 kB tmpfs) is DataUnavailable 'disk … is full'; nothing left",
    before="new",
)
def test_full_disk_while_downloading(server: FaultServer, tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tiny tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=False)
    if ok.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        body = os.urandom(200_000)
        url = server.add("/big.bin", body)
        from gutskin.errors import DataUnavailable

        with pytest.raises(DataUnavailable, match="is full"):
            fetch(url, hashlib.sha256(body).hexdigest(), fast_fetch_settings(mnt, retries=0))
        files = [p for p in mnt.rglob("*") if p.is_file() and not p.name.endswith(".lock")]
        assert files == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
