"""A throwaway PKI for the web config tests: CAs, server and client certificates as PEM files."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_SERIAL = 1001
ROTATED_SERIAL = 2002

Issuer = tuple[ec.EllipticCurvePrivateKey, x509.Certificate]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, serial: int):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def make_ca(common_name: str) -> Issuer:
    """A self-signed CA key and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(common_name, _name(common_name), key, x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca: Issuer, common_name: str, serial: int, *, server: bool):
    """A leaf key and certificate signed by ``ca``: a server (localhost, 127.0.0.1) or client."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    builder = _builder(common_name, ca_cert.subject, key, serial).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def write_cert(path: Path, cert: x509.Certificate) -> None:
    """Write a certificate as PEM, atomically (a rename, as a rotating deployment would)."""
    _atomic_write(path, cert.public_bytes(serialization.Encoding.PEM))


def write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> None:
    """Write a private key as PEM (PKCS#8), encrypted when a password is given, atomically."""
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _atomic_write(path, data)


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def serial_of(der: bytes) -> int:
    """Serial number of a DER certificate (what ``getpeercert(binary_form=True)`` returns)."""
    return x509.load_der_x509_certificate(der).serial_number


def build_pki(directory: Path) -> Issuer:
    """Write the files the web config fixtures and tests refer to into ``directory``.

    ca.crt, server.crt/.key (serial SERVER_SERIAL), client.crt/.key signed by ca; rogue-ca.crt
    and rogue-client.crt/.key from an unrelated CA; other.key (matches nothing),
    encrypted.key (password "pw"), garbage.txt (not PEM). Returns ca, to issue more.
    """
    ca = make_ca("test ca")
    rogue = make_ca("rogue ca")
    write_cert(directory / "ca.crt", ca[1])
    write_cert(directory / "rogue-ca.crt", rogue[1])
    for stem, issuer, serial, server in (
        ("server", ca, SERVER_SERIAL, True),
        ("client", ca, 3003, False),
        ("rogue-client", rogue, 4004, False),
    ):
        key, cert = issue(issuer, stem, serial, server=server)
        write_cert(directory / f"{stem}.crt", cert)
        write_key(directory / f"{stem}.key", key)
    write_key(directory / "other.key", ec.generate_private_key(ec.SECP256R1()))
    write_key(directory / "encrypted.key", ec.generate_private_key(ec.SECP256R1()), b"pw")
    (directory / "garbage.txt").write_text("not a certificate\n")
    return ca
