"""What a host's credential file says, in one shape for every application and generation."""

from __future__ import annotations

from dataclasses import dataclass, field

from smtpcheck.providers import Provider, TlsMode
from smtpcheck.secrets import Secret


@dataclass(frozen=True)
class DeployedSmtp:
    """The SMTP settings a host really uses, as its credential file gives them.

    The relay layer sends with these: the password travels in memory from the host layer and is
    never written anywhere (SPEC §5).
    """

    source: str  # the file the values came from
    shape: str  # the toolkit generation / file shape found, e.g. "joomla gen C main"
    provider: Provider | None  # from EMAIL PROVIDER (labelled files) or smtphost (Joomla)
    host: str | None  # the relay host the application would use; None: the provider's endpoint
    port: int | None  # the effective port (Joomla: the one Joomla reads, default 25)
    tls: TlsMode | None  # implicit, starttls or none, as the application would connect
    username: str | None
    password: Secret | None = field(repr=False)
    from_address: str | None

    @property
    def relay_host(self) -> str | None:
        """The host a message from this server goes to."""
        if self.host:
            return self.host
        return self.provider.endpoint if self.provider else None
