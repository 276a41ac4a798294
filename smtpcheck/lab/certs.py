"""The lab's certificate authority, server certificates, and the bad certificates of fault tests.

The lab pretends to be the providers: its relay presents a certificate for ``in-v3.mailjet.com``
(or whichever relay name a test uses) issued by a lab CA, and the client trusts that CA through an
explicit CA file, so certificate and host-name verification stay on exactly as against the real
provider (reference/test-lab.md, "Certificates"). The fault relays present the three certificates
a client must refuse: self-signed, expired, and valid for another host name.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_KEY_BITS = 2048
_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class CertFiles:
    """A PEM certificate (with its chain) and its private key, as servers load them."""

    cert: Path
    key: Path


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtpcheck lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def _write(directory: Path, stem: str, pem_chain: bytes, key: rsa.RSAPrivateKey) -> CertFiles:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(pem_chain)
    return CertFiles(cert_path, key_path)


def _server_builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    hosts: tuple[str, ...],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
    )


class LabCA:
    """A throw-away certificate authority whose certificate is the clients' CA file."""

    def __init__(self, directory: Path, name: str = "smtpcheck lab CA") -> None:
        self.directory = directory
        self._key = _new_key()
        self._name = _name(name)
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + 30 * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "lab-ca.crt"
        self.ca_file.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, *hosts: str, expired: bool = False) -> CertFiles:
        """A server certificate for ``hosts`` (first one is the CN), written as ``stem.crt/.key``.

        ``expired`` gives one whose validity ended yesterday (a fault for the client to refuse).
        """
        key = _new_key()
        now = datetime.datetime.now(datetime.UTC)
        not_before, not_after = (
            (now - 30 * _DAY, now - _DAY) if expired else (now - _DAY, now + 30 * _DAY)
        )
        cert = (
            _server_builder(
                _name(hosts[0]), self._name, key.public_key(), hosts, not_before, not_after
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        chain = cert.public_bytes(serialization.Encoding.PEM) + self._cert.public_bytes(
            serialization.Encoding.PEM
        )
        return _write(self.directory, stem, chain, key)


def self_signed(directory: Path, stem: str, *hosts: str) -> CertFiles:
    """A certificate for ``hosts`` signed by its own key: valid names, no trusted issuer."""
    key = _new_key()
    now = datetime.datetime.now(datetime.UTC)
    name = _name(hosts[0])
    cert = _server_builder(name, name, key.public_key(), hosts, now - _DAY, now + 30 * _DAY).sign(
        key, hashes.SHA256()
    )
    return _write(directory, stem, cert.public_bytes(serialization.Encoding.PEM), key)
