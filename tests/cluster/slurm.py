"""A single-node SLURM cluster for tests: munged, slurmctld and slurmd from Debian's ``slurm-wlm`` and
``munge``, started as root in the foreground from a temporary directory and stopped by PID.

Nothing system-wide is touched: the key, the sockets, the state, the spool and the logs live in that
directory, and clients (sbatch, squeue, scontrol, the Snakemake executor) find the cluster through
``SLURM_CONF``. The node is declared with this host's real CPUs and memory (``slurmd -C``).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

#: Where srun inside a job looks for the configuration: snakemake-executor-plugin-slurm-jobstep drops
#: SLURM_CONF (every SLURM_* variable but the job's identity) before its nested ``srun``, so the job step
#: needs the system path, as on a real cluster. The cluster links it to its own file while it runs and
#: removes the link when it stops; an existing file is never touched (the test skips instead).
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo", "srun")
PARTITION = "gutskin_test"


def missing_reason() -> str | None:
    """Why the cluster cannot start here, or None."""
    if os.geteuid() != 0:
        return "needs root to start slurmctld/slurmd/munged (CI runs as root)"
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        return (
            f"slurm-wlm / munge not installed (missing {', '.join(missing)}); "
            "apt-get install slurm-wlm munge"
        )
    if SYSTEM_CONF.is_symlink() and not SYSTEM_CONF.exists():
        SYSTEM_CONF.unlink()  # left dangling by a test cluster that was killed: ours, not a site's
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        return (
            f"{SYSTEM_CONF} exists (a configured SLURM host): not starting a test cluster over it"
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def node_hardware() -> dict[str, str]:
    """``slurmd -C``'s NodeName/CPUs/RealMemory… for this host."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    first = out.splitlines()[0]
    return dict(item.split("=", 1) for item in first.split())


class SingleNodeSlurm:
    """Context manager: ``with SingleNodeSlurm(tmp) as c: c.env`` is the environment for clients."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen[bytes]] = []
        self.conf = root / "slurm.conf"
        self.env = dict(os.environ)
        self.linked = False

    # -- set-up -----------------------------------------------------------------------------------
    def _write(self) -> None:
        r = self.root
        for sub in ("munge", "state", "spool"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(r / "munge", 0o700)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        hw = node_hardware()
        self.node = hw["NodeName"]
        self.cpus = int(hw["CPUs"])
        self.memory_mb = int(hw["RealMemory"])
        socket_path = r / "munge" / "munge.socket.2"
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=gutskintest",
                    f"SlurmctldHost={self.node}(127.0.0.1)",
                    "SlurmUser=root",
                    "SlurmdUser=root",
                    "AuthType=auth/munge",
                    "CredType=cred/munge",
                    f"AuthInfo=socket={socket_path}",
                    f"SlurmctldPort={_free_port()}",
                    f"SlurmdPort={_free_port()}",
                    f"StateSaveLocation={r / 'state'}",
                    f"SlurmdSpoolDir={r / 'spool'}",
                    f"SlurmctldPidFile={r / 'slurmctld.pid'}",
                    f"SlurmdPidFile={r / 'slurmd.pid'}",
                    f"SlurmctldLogFile={r / 'slurmctld.log'}",
                    f"SlurmdLogFile={r / 'slurmd.log'}",
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/none",
                    "SchedulerType=sched/backfill",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "ReturnToService=2",
                    "MpiDefault=none",
                    "MinJobAge=300",
                    "SlurmctldDebug=info",
                    "SlurmdDebug=info",
                    f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} "
                    f"RealMemory={self.memory_mb} State=UNKNOWN",
                    # Not the default partition: the run must name it, as a site's would.
                    f"PartitionName={PARTITION} Nodes={self.node} Default=NO "
                    "MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
        self.socket = socket_path
        self.env["SLURM_CONF"] = str(self.conf)
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.symlink_to(self.conf)
        self.linked = True

    def _start(self, *cmd: str, log: str) -> subprocess.Popen[bytes]:
        fh = (self.root / log).open("wb")
        proc = subprocess.Popen(
            list(cmd), stdout=fh, stderr=subprocess.STDOUT, env=self.env, cwd=self.root
        )
        self.procs.append(proc)
        return proc

    def _wait(self, what: str, ok, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited ({p.returncode}); {self.logs()}")
            if ok():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}; {self.logs()}")

    def logs(self) -> str:
        parts = []
        for name in ("munged.out", "slurmctld.out", "slurmd.out", "slurmctld.log", "slurmd.log"):
            path = self.root / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def __enter__(self) -> SingleNodeSlurm:
        self._write()
        r = self.root
        try:
            self._start(
                "munged",
                "--foreground",
                "--force",
                f"--socket={self.socket}",
                f"--key-file={r / 'munge' / 'munge.key'}",
                f"--pid-file={r / 'munge' / 'munged.pid'}",
                f"--log-file={r / 'munge' / 'munged.log'}",
                f"--seed-file={r / 'munge' / 'munged.seed'}",
                log="munged.out",
            )
            self._wait("the munge socket", self.socket.exists)
            self._start("slurmctld", "-D", "-i", "-f", str(self.conf), log="slurmctld.out")
            self._start("slurmd", "-D", "-f", str(self.conf), "-N", self.node, log="slurmd.out")
            self._wait("the node to be idle", self._node_idle, timeout=90)
        except BaseException:
            self.stop()
            raise
        return self

    def _node_idle(self) -> bool:
        proc = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, env=self.env
        )
        return proc.returncode == 0 and proc.stdout.strip().startswith("idle")

    # -- queries ----------------------------------------------------------------------------------
    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (``scontrol show job -o``, kept MinJobAge = 300 s)."""
        out = subprocess.run(
            ["scontrol", "show", "job", "-o"], capture_output=True, text=True, env=self.env
        ).stdout
        jobs = []
        for line in out.splitlines():
            if not line.strip() or "No jobs" in line:
                continue
            # values may contain spaces only in Comment/Command-like fields we do not read
            jobs.append(dict(re.findall(r"(\S+?)=(\S*)", line)))
        return jobs

    # -- tear-down --------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the daemons this object started, by PID, newest first."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.procs.clear()
        if (
            self.linked
            and SYSTEM_CONF.is_symlink()
            and SYSTEM_CONF.resolve() == self.conf.resolve()
        ):
            SYSTEM_CONF.unlink()
        self.linked = False

    def __exit__(self, *exc: object) -> None:
        self.stop()
