"""A provider's DNS facts as the DNS controls use them, with the confidence of each.

:class:`~smtpcheck.providers.Provider` carries ``spf_includes``, ``dkim_selectors``,
``dkim_record`` and ``mail_from_domain``. The rest lives in the provider table as keys that land
in ``Provider.extra`` (built-in in ``data/providers.toml``; a config file can set them too):

``spf_confidence``, ``dkim_confidence``, ``return_path_confidence``
    P, S, U or D as in ``reference/providers-and-rfcs.md``. A conclusion that rests on a U fact
    is a ``warn``, never a ``fail``. Default P: what the operator configures is asserted.
``spf_scope``
    ``from-domain`` (default): the provider asks for its include on the From domain.
    ``mail-from``: only on a custom MAIL FROM domain (SES: optional at the apex, and unaligned).
``return_path``
    ``provider`` (default): without a custom MAIL FROM the envelope sender is on the provider's
    own domain, so SPF cannot align. ``sender``: the relay keeps the sender's address (a
    self-hosted relay such as iRedMail), so SPF on the From domain aligns.
``dkim_cname_suffix``
    For ``dkim_record = "cname"``: the domain every selector's CNAME must point under.
``dkim_cname_target``
    For ``dkim_record = "cname"``: the CNAME target to publish, ``{selector}`` standing for the
    selector (SES: ``{selector}.dkim.amazonses.com``), used in remediation text.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpcheck.errors import ConfigError
from smtpcheck.mailauth.resolver import normalize_name
from smtpcheck.providers import Confidence, Provider

SPF_SCOPES = ("from-domain", "mail-from")
RETURN_PATHS = ("provider", "sender")


@dataclass(frozen=True)
class DnsProfile:
    provider: Provider
    spf_confidence: Confidence
    dkim_confidence: Confidence
    return_path_confidence: Confidence
    spf_scope: str
    return_path: str
    dkim_cname_suffix: str | None

    @classmethod
    def of(cls, provider: Provider) -> DnsProfile:
        """The profile; a bad value in the provider table is a ConfigError."""
        if provider.dkim_record not in ("txt", "cname"):
            raise ConfigError(f"providers.{provider.key}.dkim_record must be txt or cname")
        suffix = _text(provider, "dkim_cname_suffix", None)
        return cls(
            provider=provider,
            spf_confidence=_confidence(provider, "spf_confidence"),
            dkim_confidence=_confidence(provider, "dkim_confidence"),
            return_path_confidence=_confidence(provider, "return_path_confidence"),
            spf_scope=_choice(provider, "spf_scope", SPF_SCOPES),
            return_path=_choice(provider, "return_path", RETURN_PATHS),
            dkim_cname_suffix=normalize_name(suffix) if suffix else None,
        )

    @property
    def name(self) -> str:
        return self.provider.name

    def mail_from_for(self, domain: str) -> str | None:
        """The custom MAIL FROM domain configured for ``domain``, if any.

        ``mail_from_domain`` may be a full name under ``domain`` (``bounce.example.com``) or a
        single label (``bounce``) used under every checked domain; a full name under another
        domain does not apply to this one.
        """
        configured = normalize_name(self.provider.mail_from_domain or "")
        domain = normalize_name(domain)
        if not configured:
            return None
        if "." not in configured:
            return f"{configured}.{domain}"
        if configured == domain or configured.endswith("." + domain):
            return configured
        return None

    def spf_name_for(self, domain: str) -> str | None:
        """The name whose SPF must authorise the provider (RFC 7208 §2.4: the MAIL FROM domain).

        None when the provider sends with its own MAIL FROM and asks nothing of this domain.
        """
        mail_from = self.mail_from_for(domain)
        if mail_from:
            return mail_from
        return normalize_name(domain) if self.spf_scope == "from-domain" else None


def _text(provider: Provider, key: str, default: str | None) -> str | None:
    value = provider.extra.get(key, default)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"providers.{provider.key}.{key} must be a string")
    return value


def _confidence(provider: Provider, key: str) -> Confidence:
    value = _text(provider, key, "P")
    try:
        return Confidence(value or "")
    except ValueError:
        raise ConfigError(f"providers.{provider.key}.{key} must be one of P S U D") from None


def _choice(provider: Provider, key: str, choices: tuple[str, ...]) -> str:
    value = _text(provider, key, choices[0])
    if value is None or value not in choices:
        raise ConfigError(f"providers.{provider.key}.{key} must be one of {', '.join(choices)}")
    return value
