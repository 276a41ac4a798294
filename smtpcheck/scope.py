"""What a run covered: layers run and not, targets, where expected values came from, and what
narrowed it. Every report states it next to the verdict, so that a run that skipped a layer is
never read as the whole audit (issue 9 §1)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from smtpcheck.catalogue import Layer

MAX_LISTED = 8  # names listed on one line; every one is in report.json and report.html


@dataclass(frozen=True)
class HostScope:
    name: str
    url: str
    app: str
    generation: str  # the file shape / toolkit generation found, or why none is known


@dataclass(frozen=True)
class DomainScope:
    name: str
    provider: str | None
    used_by: tuple[str, ...]  # hosts, "build-time settings", "--domain"


@dataclass(frozen=True)
class RelayScope:
    name: str
    endpoint: str | None  # "host:port (tls)"; None when no endpoint could be derived
    provider: str | None
    hosts: tuple[str, ...]  # who the credential set stands for


@dataclass(frozen=True)
class Scope:
    layers: tuple[Layer, ...]  # run, in layer order
    hosts: tuple[HostScope, ...] = ()
    domains: tuple[DomainScope, ...] = ()
    relays: tuple[RelayScope, ...] = ()
    expected_sources: Mapping[str, str] = field(default_factory=dict)  # setting -> source
    no_send: bool = False
    delivery: bool = False  # SMTP-05 opt-in: a [mailbox] was configured
    selection: str | None = None  # pytest's -k / -m expression that picked controls
    fingerprint_key: str | None = None  # the key's id (history.key_id); None: per-run salt
    shard: str | None = None  # "K/N": this run audited one part of the fleet (merge them)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expected_sources", MappingProxyType(dict(self.expected_sources)))

    @property
    def layers_not_run(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in Layer if layer not in self.layers)

    def narrowed_by(self) -> list[str]:
        """Why this run is not the whole audit, one phrase each; empty when it is."""
        reasons = [f"the {layer.value} layer was not run" for layer in self.layers_not_run]
        if Layer.RELAY in self.layers and self.no_send:
            reasons.append("--no-send: no test message was sent")
        if self.selection:
            reasons.append(f"only the controls selected by {self.selection!r}")
        if self.shard:
            reasons.append(f"shard {self.shard}: one part of the fleet (smtpcheck merge)")
        return reasons

    @property
    def whole(self) -> bool:
        """Every layer, every control, a message sent (delivery is opt-in and not counted)."""
        return not self.narrowed_by()

    def lines(self) -> list[str]:
        """The scope in a few lines, as a person reads it (terminal, Markdown): counts, not
        every target (report.json and report.html list them all). Values are not escaped."""
        run = ", ".join(layer.value for layer in self.layers) or "none"
        lines = [f"layers run: {run}"]
        if self.layers_not_run:
            lines.append(f"not run: {', '.join(layer.value for layer in self.layers_not_run)}")
        if self.hosts:
            apps = Counter(h.app for h in self.hosts)
            shown = ", ".join(f"{n} {app}" for app, n in sorted(apps.items()))
            lines.append(f"{len(self.hosts)} host(s): {shown}")
        if self.domains:
            names = ", ".join(d.name for d in self.domains[:MAX_LISTED])
            more = (
                f" and {len(self.domains) - MAX_LISTED} more"
                if len(self.domains) > MAX_LISTED
                else ""
            )
            lines.append(f"{len(self.domains)} sending domain(s): {names}{more}")
        if self.relays:
            endpoints = sorted({r.endpoint or "no endpoint" for r in self.relays})
            shown = ", ".join(endpoints[:MAX_LISTED])
            lines.append(f"{len(self.relays)} relay test(s) (one per credential set): {shown}")
        if Layer.RELAY in self.layers:
            lines.append(
                "delivery: " + ("checked in the mailbox" if self.delivery else "not checked")
            )
        lines += [f"narrowed: {reason}" for reason in self.narrowed_by()]
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers_run": [layer.value for layer in self.layers],
            "layers_not_run": [layer.value for layer in self.layers_not_run],
            "whole_audit": self.whole,
            "narrowed_by": self.narrowed_by(),
            "no_send": self.no_send,
            "delivery_checked": self.delivery,
            "selection": self.selection,
            "fingerprint_key": self.fingerprint_key,
            "shard": self.shard,
            "expected_sources": dict(self.expected_sources),
        }

    def targets_dict(self) -> list[dict[str, Any]]:
        """report.json's ``targets``: one object per target, with its ``kind``."""
        return [
            *(
                {"kind": "host", "name": h.name, "url": h.url, "app": h.app,
                 "generation": h.generation}
                for h in self.hosts
            ),
            *(
                {"kind": "domain", "name": d.name, "provider": d.provider,
                 "used_by": list(d.used_by)}
                for d in self.domains
            ),
            *(
                {"kind": "relay", "name": r.name, "endpoint": r.endpoint,
                 "provider": r.provider, "hosts": list(r.hosts)}
                for r in self.relays
            ),
        ]  # fmt: skip
