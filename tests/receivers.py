"""Local receivers for notifications: an SMTP server with STARTTLS and AUTH (aiosmtpd) and a self-signed
certificate for 127.0.0.1 that the client is told to trust (``HARVEST_SMTP_CA_FILE``)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

SMTP_USER, SMTP_PASSWORD = "harvest", "s3cret-smtp-pw"


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message
    tls: bool
    login: str | None


@dataclass
class SmtpHandler:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if getattr(session, "auth_data", None) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      message_from_bytes(envelope.content), bool(session.ssl), login))
        return "250 OK"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@dataclass
class SmtpServer:
    controller: Controller
    handler: SmtpHandler
    port: int
    ca_file: Path

    def stop(self) -> None:
        self.controller.stop()


def start_smtp(directory: Path) -> SmtpServer:
    cert, key = self_signed(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=_authenticate, auth_require_tls=True)
    controller.start()
    return SmtpServer(controller, handler, port, cert)


def smtp_env(server: SmtpServer) -> dict[str, str]:
    return {"HARVEST_SMTP_HOST": "127.0.0.1", "HARVEST_SMTP_PORT": str(server.port),
            "HARVEST_SMTP_USERNAME": SMTP_USER, "HARVEST_SMTP_PASSWORD": SMTP_PASSWORD,
            "HARVEST_SMTP_FROM": "harvest@example.org", "HARVEST_SMTP_TO": "ops@example.org, oncall@example.org",
            "HARVEST_SMTP_CA_FILE": str(server.ca_file)}
