"""The relay tests' lab: one real provider (postfix + dovecot + opendkim) and NSD per session.

The provider pretends to be Mailjet: ``in-v3.mailjet.com`` with a lab-CA certificate, reached
through ``connect_address``/``port_map`` overrides exactly as an operator's config would do it.
NSD serves the DKIM key and an A record for the relay name, so the resolve phase can also be
exercised through a real DNS server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.lab.certs import LabCA
from smtpcheck.lab.mailstack import MailStack, RelayAccount
from smtpcheck.lab.nsd import NsdServer, zone_text
from smtpcheck.mailauth.client import DnsClient
from smtpcheck.mailauth.resolver import make_dns_client
from smtpcheck.providers import Provider, ProviderCatalogue, TlsMode
from smtpcheck.secrets import Secret

MAILJET_USER = "0123abcd0123abcd0123abcd0123abcd"
# The canary: planted as the deployed password; it must appear in no output at all.
CANARY = "Canary-7f3e:pa55+word/Zx"
SENDER = "noreply@example.test"
RECIPIENT = "ops@recipient.test"
MAILBOX_ENV = "SMTPCHECK_TEST_MAILBOX_PASSWORD"


def deployed(
    provider: Provider | None,
    *,
    port: int | None = 465,
    tls: TlsMode | None = TlsMode.IMPLICIT,
    host: str | None = None,
    username: str | None = MAILJET_USER,
    password: str | None = CANARY,
    from_address: str | None = SENDER,
    source: str = "/var/www/wordpresssmtp",
    shape: str = "labelled (WordPress, Moodle, Drupal)",
) -> DeployedSmtp:
    """A DeployedSmtp as the host layer would hand it over."""
    return DeployedSmtp(
        source=source,
        shape=shape,
        provider=provider,
        host=host,
        port=port,
        tls=tls,
        username=username,
        password=Secret(password) if password is not None else None,
        from_address=from_address,
    )


@dataclass(frozen=True)
class Lab:
    stack: MailStack
    nsd: NsdServer
    catalogue: ProviderCatalogue  # mailjet points at the stack
    resolver: DnsClient  # the lab NSD
    ca: LabCA

    @property
    def mailjet(self) -> Provider:
        provider = self.catalogue.get("mailjet")
        assert provider is not None
        return provider


@pytest.fixture(scope="session")
def lab_ca(tmp_path_factory: pytest.TempPathFactory) -> LabCA:
    return LabCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, lab_ca: LabCA) -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab mail stack needs root")
    stack = MailStack(
        accounts=[RelayAccount(MAILJET_USER, Secret(CANARY), (SENDER,))],
        mailbox_address=RECIPIENT,
        mailbox_password=Secret("mailbox-secret"),
    )
    zones = {
        "example.test": zone_text("example.test", stack.dkim_zone_line()),
        "mailjet.com": zone_text("mailjet.com", "in-v3 300 IN A 127.0.0.1"),
        # SES has an SMTP endpoint in eu-west-1, none in ap-southeast-3 (NXDOMAIN).
        "amazonaws.com": zone_text("amazonaws.com", "email-smtp.eu-west-1 300 IN A 127.0.0.1"),
    }
    nsd = NsdServer(tmp_path_factory.mktemp("nsd"), zones).start()
    try:
        stack.start(nameserver=(nsd.address, nsd.port))
        catalogue = ProviderCatalogue.builtin().with_overrides({"mailjet": stack.provider_table()})
        yield Lab(stack, nsd, catalogue, make_dns_client([nsd.nameserver]), lab_ca)
    finally:
        stack.stop()
        nsd.stop()


@pytest.fixture
def mailbox_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(MAILBOX_ENV, "mailbox-secret")
    return MAILBOX_ENV
