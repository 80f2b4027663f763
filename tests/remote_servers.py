"""Real servers for DVC remotes on 127.0.0.1, started and stopped by the tests and by benchmarks/bench_remote.py:
moto's S3 server, Debian's sshd, wsgidav on cheroot, and `python -m http.server` (read-only); plus a slow link
(a throttling TCP relay) that makes a push slow enough to be interrupted on purpose.

Each server yields a `Remote`: what goes into the committed .dvc/config, what only into .dvc/config.local
(secrets, key paths) and what only into the environment (S3 keys), so the tests can check that no secret
reaches git."""
from __future__ import annotations

import getpass
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

BIN = Path(sys.executable).parent
SSHD = Path("/usr/sbin/sshd")  # Debian's openssh-server; `make test` installs it when missing


@dataclass
class Remote:
    name: str
    url: str
    options: dict[str, str] = field(default_factory=dict)  # committed: never a secret
    secrets: dict[str, str] = field(default_factory=dict)  # .dvc/config.local only
    env: dict[str, str] = field(default_factory=dict)  # the environment of every dvc command only
    port: int = 0


def dvc_remote_args(remote: Remote, default: bool = False) -> list[list[str]]:
    """The `dvc remote` commands that configure `remote`: url and options in .dvc/config, secrets with --local.
    Every remote verifies what it downloads (verify = true): DVC's default trusts the remote's bytes, so a
    corrupted object would otherwise be checked out silently."""
    cmds = [["remote", "add", *(["-d"] if default else []), remote.name, remote.url]]
    cmds += [["remote", "modify", remote.name, k, v] for k, v in {"verify": "true", **remote.options}.items()]
    cmds += [["remote", "modify", "--local", remote.name, k, v] for k, v in remote.secrets.items()]
    return cmds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, log: Path | None = None,
                  timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:] if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def server_process(cmd: list, port: int, log: Path) -> Iterator[subprocess.Popen]:
    """Start a server, wait until it listens, and stop it afterwards, also when the work inside fails."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(c) for c in cmd], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc, log)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def local_dir(path: Path, name: str = "store") -> Iterator[Remote]:
    path.mkdir(parents=True, exist_ok=True)
    yield Remote(name, str(path))


def s3_client(port: int, env: dict[str, str]):
    import boto3

    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"])


@contextmanager
def moto_s3(tmp: Path, bucket: str = "dvc-store") -> Iterator[Remote]:
    """moto's S3 server; any key pair is accepted, and keys live in the environment only."""
    env = {"AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
           "AWS_DEFAULT_REGION": "us-east-1"}
    port = free_port()
    with server_process([BIN / "moto_server", "-H", "127.0.0.1", "-p", port], port, tmp / "moto.log"):
        s3_client(port, env).create_bucket(Bucket=bucket)
        yield Remote("s3", f"s3://{bucket}/ci", {"endpointurl": f"http://127.0.0.1:{port}"}, env=env, port=port)


def s3_objects(remote: Remote, bucket: str = "dvc-store") -> list[str]:
    pages = s3_client(remote.port, remote.env).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


@contextmanager
def sshd(tmp: Path) -> Iterator[Remote]:
    """Debian's sshd on a high port with a host key made here; public-key login as the current user, whose key
    path goes to .dvc/config.local. DVC's SSH client (asyncssh via sshfs) does not check host keys."""
    if not SSHD.exists():
        raise RuntimeError(f"{SSHD} is missing: `make test` installs it (apt-get install openssh-server)")
    d = tmp / "sshd"
    d.mkdir()
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / key], check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    port = free_port()
    (d / "sshd_config").write_text(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {d / 'host_key'}
PidFile {d / 'sshd.pid'}
AuthorizedKeysFile {d / 'authorized_keys'}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
""")
    store = tmp / "ssh-store"
    store.mkdir()
    with server_process([SSHD, "-D", "-e", "-f", d / "sshd_config"], port, d / "sshd.log"):
        yield Remote("ssh", f"ssh://127.0.0.1:{port}{store}", {"user": getpass.getuser()},
                     secrets={"keyfile": str(d / "client_key")}, port=port)


@contextmanager
def webdav(tmp: Path) -> Iterator[Remote]:
    """wsgidav on cheroot, in a thread, with basic auth; the password goes to .dvc/config.local only."""
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    root, password = tmp / "webdav", secrets.token_hex(12)
    (root / "dvc-store").mkdir(parents=True)  # the base collection must exist, or the first PUT gets 409
    port = free_port()
    app = WsgiDAVApp({
        "host": "127.0.0.1", "port": port, "provider_mapping": {"/": str(root)}, "verbose": 0,
        "logging": {"enable": False},
        "simple_dc": {"user_mapping": {"*": {"dvc": {"password": password}}}},
        "http_authenticator": {"accept_basic": True, "accept_digest": False, "default_to_digest": False},
    })
    server = wsgi.Server(("127.0.0.1", port), app, numthreads=8)
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield Remote("webdav", f"webdav://127.0.0.1:{port}/dvc-store", {"user": "dvc"},
                     secrets={"password": password}, port=port)
    finally:
        server.stop()
        thread.join(10)


@contextmanager
def http_readonly(directory: Path, tmp: Path) -> Iterator[Remote]:
    """`python -m http.server` over a local remote's directory: DVC's HTTP remote reads the same layout."""
    port = free_port()
    with server_process([sys.executable, "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", directory],
                        port, tmp / "http.log"):
        yield Remote("http", f"http://127.0.0.1:{port}", port=port)


class SlowLink:
    """A TCP relay on `port` that passes uploads to an upstream port at `bytes_per_s`: a push through it takes
    long enough to be killed part-way, at a point the test does not have to guess. `cut()` is the cable pulled
    out: bytes a killed client had already written sit in the relay's socket buffers, and without a cut the relay
    would go on delivering them, so an upload could complete after the client died."""

    def __init__(self, upstream_port: int, bytes_per_s: int) -> None:
        self.upstream_port, self.bytes_per_s = upstream_port, bytes_per_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.cut_off = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, throttle: bool) -> None:
        chunk = max(1024, self.bytes_per_s // 20)
        try:
            while not self.cut_off.is_set() and (data := src.recv(chunk)):
                if self.cut_off.is_set():
                    break
                dst.sendall(data)
                if throttle:
                    time.sleep(len(data) / self.bytes_per_s)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            src.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # the listener was closed: the relay is over
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def cut(self) -> None:
        """Stop relaying now: every connection is shut down and no buffered byte goes further."""
        self.cut_off.set()
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@contextmanager
def slow_link(upstream_port: int, bytes_per_s: int) -> Iterator[SlowLink]:
    link = SlowLink(upstream_port, bytes_per_s)
    try:
        yield link
    finally:
        link.cut()
