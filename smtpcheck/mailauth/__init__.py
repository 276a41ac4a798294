"""The DNS layer of SPEC §4: SPF, DKIM, DMARC and MX for a sending domain.

``resolver`` answers questions (every DNS problem is data, never an exception); ``spf``, ``dkim``
and ``dmarc`` parse record text without touching the network; ``spftree`` and ``domain`` fetch;
the ``*controls`` modules turn fetched facts into one :class:`~smtpcheck.findings.Finding` per
control. The package is not called ``dns``: that would shadow dnspython.
"""
