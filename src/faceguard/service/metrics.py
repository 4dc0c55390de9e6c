"""Metrics in the Prometheus text exposition format (version 0.0.4), written by hand.

Counters are per process and start at zero: requests by method, route template (never the
raw path, so no personal data and bounded cardinality) and status; failed authentications
and lockouts; decisions by operation and outcome. Gauges are read from the store when
scraped: people enrolled, templates per purpose, the deployment check, the filing count,
open review requests and the length of the processing record.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faceguard.api.faceguard import Faceguard

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: dict[str, str]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in sorted(pairs.items())) + "}"


class Metrics:
    """Process-local counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.decisions: Counter[tuple[str, str]] = Counter()
        self.auth_failures = 0
        self.lockouts = 0

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1

    def decision(self, operation: str, outcome: str) -> None:
        with self._lock:
            self.decisions[(operation, outcome)] += 1

    def auth_failed(self, *, locked_out: bool) -> None:
        with self._lock:
            self.auth_failures += 1
            self.lockouts += int(locked_out)

    def render(self, fg: Faceguard) -> str:
        """The exposition text: these counters plus gauges read from ``fg`` now."""
        out: list[str] = []

        def metric(name: str, kind: str, help_text: str,
                   samples: list[tuple[dict[str, str], float]]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                number = int(value) if float(value).is_integer() else value
                out.append(f"{name}{_labels(labels)} {number}")

        with self._lock:
            requests = sorted(self.requests.items())
            decisions = sorted(self.decisions.items())
            failures, lockouts = self.auth_failures, self.lockouts
        metric("faceguard_http_requests_total", "counter", "HTTP requests answered.",
               [({"method": m, "route": r, "status": s}, n) for (m, r, s), n in requests])
        metric("faceguard_decisions_total", "counter", "Face decisions made by this process.",
               [({"operation": o, "outcome": r}, n) for (o, r), n in decisions])
        metric("faceguard_auth_failures_total", "counter", "Failed authentications.",
               [({}, failures)])
        metric("faceguard_auth_lockouts_total", "counter", "Clients locked out after "
               "repeated failed authentication.", [({}, lockouts)])
        check = fg.governance.check()
        metric("faceguard_deployment_check_pass", "gauge", "1 when the deployment passes "
               "its check, else 0.", [({}, 1 if check.passed else 0)])
        metric("faceguard_deployment_violations", "gauge", "Violations of the deployment "
               "check, by rule.",
               [({"rule": r}, n) for r, n in sorted(Counter(v.rule for v in
                                                            check.violations).items())])
        metric("faceguard_people_enrolled", "gauge", "Distinct people with a stored template "
               "(R15).", [({}, fg.governance.people_enrolled())])
        stats = fg.stats()
        metric("faceguard_templates", "gauge", "Stored templates per purpose.",
               [({"purpose": p}, n) for p, n in sorted(stats.templates.items())])
        counts = fg.audit.counts()
        metric("faceguard_audit_events", "gauge", "Events in the processing record (R11).",
               [({}, counts.audit_events)])
        metric("faceguard_reviews_open", "gauge", "Open human-review requests (R17).",
               [({}, counts.reviews_open)])
        return "\n".join(out) + "\n"
