"""Broker credentials for a site: a CA with server and per-client certificates, and a Mosquitto password file.

``smartcam broker certs`` writes ``ca.crt``/``ca.key``, ``server.crt``/``server.key``
(subject alternative names for the broker's host names and IPs) and one
``<name>.crt``/``<name>.key`` per camera and gateway, with the name as common
name so ``use_identity_as_username true`` makes it the ACL's ``%u``.

``smartcam broker credentials`` writes a Mosquitto ``password_file`` (PBKDF2-SHA512,
Mosquitto 2's ``$7$`` format, so ``mosquitto_passwd`` is not needed) and one
``secrets/<name>.password`` file (mode 0600) per user, which node and gateway
configs name with ``mqtt.password_file``. Private keys and passwords are
created mode 0600 and never printed.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import logging
import os
import secrets
from pathlib import Path

logger = logging.getLogger(__name__)

#: Mosquitto 2's PBKDF2-SHA512 iteration count (``mosquitto_passwd`` default).
PBKDF2_ITERATIONS = 101


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def mosquitto_password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The ``$7$`` PBKDF2-SHA512 hash Mosquitto 2 reads from a password file."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def write_credentials(out: Path, users: list[str], length: int = 24) -> dict[str, Path]:
    """Random passwords for ``users``: ``out/passwd`` for Mosquitto and ``out/secrets/<user>.password``.

    An existing secret is kept (re-running adds users without changing the others).
    Returns each user's secret file.
    """
    out = Path(out)
    files: dict[str, Path] = {}
    lines = []
    for user in users:
        if ":" in user or not user.strip():
            raise ValueError(f"invalid user name {user!r}")
        secret_file = out / "secrets" / f"{user}.password"
        if secret_file.exists():
            password = secret_file.read_text().strip()
        else:
            password = secrets.token_urlsafe(length)
            _write_private(secret_file, (password + "\n").encode())
        lines.append(f"{user}:{mosquitto_password_hash(password)}")
        files[user] = secret_file
    _write_private(out / "passwd", ("\n".join(lines) + "\n").encode())
    logger.info("wrote %s for %d users", out / "passwd", len(users))
    return files


def write_pki(out: Path, site: str, hosts: list[str], clients: list[str], days: int = 825) -> dict[str, Path]:
    """A site CA, a server certificate for ``hosts`` and a client certificate per name in ``clients``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"smartcam {site}"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def save(stem: str, key, cert: x509.Certificate) -> None:
        _write_private(out / f"{stem}.key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (out / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"smartcam {site} CA")
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    save("ca", ca_key, ca)

    def issue(stem: str, cn: str, usage, sans: list[x509.GeneralName] | None = None) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        save(stem, key, builder.sign(ca_key, hashes.SHA256()))

    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    issue("server", hosts[0], ExtendedKeyUsageOID.SERVER_AUTH, sans)
    for client in clients:
        if not client or "/" in client or client.startswith("."):
            raise ValueError(f"invalid client name {client!r}")
        issue(client, client, ExtendedKeyUsageOID.CLIENT_AUTH)
    logger.info("wrote CA, server (%s) and %d client certificates to %s", ", ".join(hosts), len(clients), out)
    return {"ca": out / "ca.crt", "server": out / "server.crt", **{c: out / f"{c}.crt" for c in clients}}
