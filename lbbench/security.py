"""CurveZMQ for the rig's sockets: key files, the balancer's side, a peer's side, who may connect.

On loopback nobody else can reach the rig's sockets; once the balancer
binds another address, anyone who can reach it could send requests,
pose as a target or ``shutdown`` the balancer from its control socket.
CurveZMQ (ZeroMQ's own encryption and authentication) closes that: the
balancer's three sockets are Curve servers with its key pair, and the
ZAP authenticator (pyzmq's ``ThreadAuthenticator``) lets in only peers
whose public key is in the authorized folder. A peer without the right
keys (no Curve, a key not authorized, the wrong balancer key) never gets
past the handshake: it gets nothing, not even an error.

``lbbench keys DIR`` writes what a rig needs (ZeroMQ's certificate files):
``balancer.key`` and ``balancer.key_secret``; ``client.key(_secret)`` and
``target.key(_secret)`` for the peers; ``authorized/`` holding the
peers' public keys. Secret files are readable by their owner only.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth

from lbbench.errors import ConfigError

SERVER = "balancer"
PEERS = ("client", "target")
AUTHORIZED = "authorized"
LOOPBACK_NAMES = {"localhost"}


def create_keys(folder: str | Path, peers: tuple[str, ...] = PEERS) -> list[Path]:
    """Key pairs for the balancer and each peer, and the authorized folder; the files made."""
    folder = Path(folder)
    names = [SERVER, *peers]
    existing = [folder / f"{n}{suffix}" for n in names for suffix in (".key", ".key_secret")]
    taken = [str(path) for path in existing if path.exists()]
    if taken:
        raise ConfigError(taken[0], "exists already; keys are never overwritten")
    authorized = folder / AUTHORIZED
    try:
        authorized.mkdir(parents=True, exist_ok=True)
        made = []
        for name in names:
            public, secret = zmq.auth.create_certificates(folder, name)
            os.chmod(secret, 0o600)
            made += [Path(public), Path(secret)]
            if name != SERVER:
                shutil.copy(public, authorized / Path(public).name)
    except OSError as error:
        raise ConfigError(str(folder), f"cannot write keys: {error.strerror}") from None
    return made


def _load(path: str | Path, flag: str, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as error:
        raise ConfigError(flag, f"cannot read a key file {str(path)!r}: {error}") from None
    if secret and secret_key is None:
        raise ConfigError(flag, f"{str(path)!r} holds no secret key (give the .key_secret file)")
    return public, secret_key


@dataclass(frozen=True)
class ServerKeys:
    """The balancer's key pair and the folder of public keys allowed to connect."""

    public: bytes
    secret: bytes
    authorized: Path

    @classmethod
    def load(cls, secret_file: str, authorized: str | None = None) -> ServerKeys:
        public, secret = _load(secret_file, "--curve-secret", secret=True)
        folder = Path(authorized) if authorized else Path(secret_file).parent / AUTHORIZED
        if not folder.is_dir() or not any(folder.glob("*.key")):
            raise ConfigError("--curve-authorized", f"no public keys (*.key) in {str(folder)!r}")
        assert secret is not None
        return cls(public, secret, folder)

    def serve(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a Curve server (before it binds)."""
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def authenticate(self, context: zmq.Context) -> Any:
        """Start the ZAP authenticator on ``context``: only authorized keys get in."""
        from zmq.auth.thread import ThreadAuthenticator

        authenticator = ThreadAuthenticator(context)
        authenticator.start()
        authenticator.configure_curve(domain="*", location=str(self.authorized))
        return authenticator


@dataclass(frozen=True)
class PeerKeys:
    """A client's or target's key pair and the balancer's public key."""

    public: bytes
    secret: bytes
    server: bytes

    @classmethod
    def load(cls, secret_file: str, server_file: str) -> PeerKeys:
        public, secret = _load(secret_file, "--curve-secret", secret=True)
        server, _ = _load(server_file, "--curve-server", secret=False)
        assert secret is not None
        return cls(public, secret, server)

    @classmethod
    def from_folder(cls, folder: str | Path, name: str) -> PeerKeys:
        """The keys ``lbbench keys`` wrote for peer ``name`` (client or target)."""
        folder = Path(folder)
        secret, server = folder / f"{name}.key_secret", folder / f"{SERVER}.key"
        for path in (secret, server):
            if not path.is_file():
                raise ConfigError("--curve", f"no {path.name} in {str(folder)!r} (`lbbench keys`)")
        return cls.load(str(secret), str(server))

    def connect(self, sock: zmq.Socket) -> None:
        """Make ``sock`` a Curve client of the balancer (before it connects)."""
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_serverkey = self.server


def is_loopback(endpoint: str) -> bool:
    """Does a ZeroMQ endpoint stay on this machine (tcp on a loopback address, ipc, inproc)?"""
    transport, _, rest = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # an interface name, a host name, "*": not only loopback


def check_exposure(endpoint: str, flag: str, secured: bool, insecure: bool) -> None:
    """Refuse to bind beyond loopback without Curve keys, unless explicitly allowed."""
    if secured or insecure or is_loopback(endpoint):
        return
    raise ConfigError(
        flag,
        f"{endpoint} is reachable beyond this machine and the balancer has no keys: "
        "give --curve-secret (make keys with `lbbench keys DIR`), or --insecure to allow it",
    )
