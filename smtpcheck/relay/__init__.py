"""The relay layer (SPEC §4, SMTP-01…05): a live, authenticated test message over TLS.

The contract the pytest plugin, CLI and demo use::

    endpoint = resolve_endpoint(deployed, catalogue)          # or an EndpointProblem
    key = relay_job_key(endpoint, deployed)                    # hosts sharing it send once
    session = run_relay_session(endpoint, deployed, recipient=to, send=not no_send)
    findings = [control(session) for control in RELAY_CONTROLS.values()]   # SMTP-01…04
    delivery = fetch_delivery(mailbox, session.token, sent_at=session.sent_at, dkim_dns=resolver)
    finding = evaluate_delivery(session, delivery)                         # SMTP-05
"""

from smtpcheck.relay.delivery import (
    Delivery,
    MailboxSettings,
    dkim_dnsfunc,
    fetch_delivery,
    mailbox_settings,
)
from smtpcheck.relay.endpoint import (
    EndpointProblem,
    RelayEndpoint,
    RelayJob,
    plan_relay_jobs,
    relay_job_key,
    relay_overrides,
    relay_target,
    resolve_endpoint,
)
from smtpcheck.relay.evaluate import RELAY_CONTROLS, evaluate_delivery, evaluate_relay
from smtpcheck.relay.model import Cause, Outcome, Phase, PhaseFailure, RelaySession, TlsFacts
from smtpcheck.relay.network import Resolver, dns_resolve, system_resolve
from smtpcheck.relay.session import run_relay_session, session_for_problem

__all__ = [
    "RELAY_CONTROLS",
    "Cause",
    "Delivery",
    "EndpointProblem",
    "MailboxSettings",
    "Outcome",
    "Phase",
    "PhaseFailure",
    "RelayEndpoint",
    "RelayJob",
    "RelaySession",
    "Resolver",
    "TlsFacts",
    "dkim_dnsfunc",
    "dns_resolve",
    "evaluate_delivery",
    "evaluate_relay",
    "fetch_delivery",
    "mailbox_settings",
    "plan_relay_jobs",
    "relay_job_key",
    "relay_overrides",
    "relay_target",
    "resolve_endpoint",
    "run_relay_session",
    "session_for_problem",
    "system_resolve",
]
