"""One audit run: what was asked, what was observed (each thing once), and the result.

Observation is the expensive part (SSH, DNS, SMTP). It happens here, concurrently, at most once
per host however many controls read it; the controls in ``checks/`` only evaluate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from smtpcheck.catalogue import Layer
from smtpcheck.config import AuditConfig
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.credentials.reading import read_credentials
from smtpcheck.findings import Finding
from smtpcheck.remote.facts import (
    ConnectionFactory,
    HostObservation,
    fetch_host_facts,
    open_connection,
)
from smtpcheck.result import AuditResult
from smtpcheck.targets import HostTarget


def _size_text(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} bytes"


class Audit:
    """The state of one run, shared by the plugin, the checks and the CLI."""

    def __init__(
        self,
        config: AuditConfig,
        environ: Mapping[str, str] | None = None,
        *,
        connect: ConnectionFactory = open_connection,
    ) -> None:
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        self.connect = connect
        self.started_at = datetime.now(UTC)
        self.findings: list[Finding] = []
        self.result: AuditResult | None = None
        self._lock = threading.Lock()
        self._observations: dict[str, HostObservation] | None = None
        self._evidence: dict[str, HostEvidence] = {}

    @property
    def host_targets(self) -> tuple[HostTarget, ...]:
        """Hosts whose credential controls run (the host layer)."""
        return self.config.targets if Layer.HOST in self.config.layers else ()

    def observe_hosts(self) -> Mapping[str, HostObservation]:
        """Every host observed once, ``--jobs`` at a time; later calls return the same facts."""
        with self._lock:
            if self._observations is None:
                targets = self.config.targets
                workers = max(1, min(self.config.jobs, len(targets)))
                with ThreadPoolExecutor(workers, thread_name_prefix="smtpcheck-host") as pool:
                    results = pool.map(self._observe, targets)
                    self._observations = {obs.target.name: obs for obs in results}
            return self._observations

    def _observe(self, target: HostTarget) -> HostObservation:
        return fetch_host_facts(
            target,
            self.config.ssh,
            self.environ,
            connect=self.connect,
            max_bytes=self.config.max_file_bytes,
        )

    def host_evidence(self, target: HostTarget) -> HostEvidence:
        """The observation of ``target`` and the reading of its credential file (cached)."""
        observation = self.observe_hosts()[target.name]
        with self._lock:
            cached = self._evidence.get(target.name)
            if cached is not None:
                return cached
            reading = None
            facts = observation.facts
            file = facts.files.get(target.credential_path) if facts else None
            if file is not None and file.stat is not None and file.stat.is_regular:
                reading = read_credentials(
                    file,
                    target.app,
                    self.config.providers,
                    run_php=target.run_php,
                    max_note=_size_text(self.config.max_file_bytes),
                )
            evidence = HostEvidence(
                observation,
                self.config.expected,
                self.config.providers,
                reading,
                self.config.web_users,
            )
            self._evidence[target.name] = evidence
            return evidence

    def record(self, finding: Finding) -> None:
        with self._lock:
            self.findings.append(finding)

    def finish(self) -> AuditResult:
        self.result = AuditResult.of(self.findings, self.started_at)
        return self.result
