"""A real one-node Slurm cluster on this machine, started and stopped by the tests: Debian's slurmctld and slurmd
(`make test` installs slurmctld, slurmd, slurm-client and munge when missing, as it does sshd), with its own
configuration, state and ports in a temporary directory, and munged when none runs. No accounting database:
finished jobs are read from `scontrol show job` and from the jobcomp/filetxt log (one line per finished job)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from remote_servers import free_port

DAEMONS = ("slurmctld", "slurmd", "munged", "mungekey", "sbatch")


@dataclass
class Cluster:
    conf: Path
    jobcomp: Path

    def env(self) -> dict[str, str]:
        return {"SLURM_CONF": str(self.conf)}

    def finished_jobs(self) -> list[dict[str, str]]:
        """One dict per finished job (JobId, Name, JobState, ...), from the jobcomp log."""
        if not self.jobcomp.exists():
            return []
        return [dict(f.split("=", 1) for f in line.split() if "=" in f)
                for line in self.jobcomp.read_text().splitlines() if line.strip()]


def _which(name: str) -> str:
    path = shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name)
                                       if p.exists()), None)
    if path is None:
        raise RuntimeError(f"{name} is missing: `make test` installs Slurm (apt-get install slurmctld slurmd "
                           f"slurm-client munge)")
    return path


@contextmanager
def _process(cmd: list[str], log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env})
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def munge() -> Iterator[None]:
    """munged, if none runs yet (its key in /etc/munge, made once); stopped after only if started here."""
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode == 0:
        yield
        return
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run([_which("mungekey"), "--create"], check=True)
        shutil.chown("/etc/munge/munge.key", "munge", "munge")
    Path("/run/munge").mkdir(exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", _which("munged")], check=True)
    try:
        yield
    finally:
        subprocess.run(["pkill", "-x", "munged"])


@contextmanager
def slurm(tmp: Path, cpus: int = 2) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        raise RuntimeError("the one-node Slurm cluster of the tests runs as root (as CI does)")
    for name in DAEMONS:
        _which(name)
    d = tmp / "slurm"
    for sub in ("state", "spool"):
        (d / sub).mkdir(parents=True)
    cluster = Cluster(d / "slurm.conf", d / "jobcomp.log")
    cluster.conf.write_text(f"""\
ClusterName=regurgitative-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={d / 'state'}
SlurmdSpoolDir={d / 'spool'}
SlurmctldPidFile={d / 'slurmctld.pid'}
SlurmdPidFile={d / 'slurmd.pid'}
SlurmctldLogFile={d / 'slurmctld.log'}
SlurmdLogFile={d / 'slurmd.log'}
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={cluster.jobcomp}
MinJobAge=3600
KillWait=5
SchedulerParameters=sched_interval=1
NodeName=localhost CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    env = cluster.env()
    with ExitStack() as stack:
        stack.enter_context(munge())
        stack.enter_context(_process([_which("slurmctld"), "-D", "-i"], d / "slurmctld.out", env))
        stack.enter_context(_process([_which("slurmd"), "-D", "-N", "localhost"], d / "slurmd.out", env))
        deadline = time.monotonic() + 60
        while True:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                 env={**os.environ, **env}).stdout.split()
            if "idle" in out:
                break
            if time.monotonic() > deadline:
                logs = "\n".join(f"{p.name}: {p.read_text()[-1500:]}" for p in d.glob("*.log") if p.exists())
                raise RuntimeError(f"the test cluster's node never became idle (sinfo: {out})\n{logs}")
            time.sleep(0.5)
        yield cluster
