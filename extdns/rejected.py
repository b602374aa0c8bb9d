"""Rejected input: what was skipped (an etcd key or a desired endpoint) and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejected:
    """One skipped item; `subject` names the etcd key or the endpoint, `reason` says what is wrong."""

    subject: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"
