"""Domain filters: --domain-filter, --exclude-domains, --regex-domain-filter, --regex-domain-exclusion."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


def _clean(domains: Iterable[str]) -> tuple[str, ...]:
    """Split comma lists, drop spaces and trailing dots, lower-case, drop empties."""
    items = (item.strip().removesuffix(".").lower() for domain in domains for item in domain.split(","))
    return tuple(item for item in items if item)


def _matches_any(domains: tuple[str, ...], name: str) -> bool:
    """A domain matches itself and its subdomains; with a leading dot, its subdomains only."""
    return any(
        name.endswith(domain) if domain.startswith(".") else name == domain or name.endswith("." + domain)
        for domain in domains
    )


def _compile(flag: str, pattern: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{flag}: invalid regular expression {pattern!r}: {exc}") from exc


@dataclass(frozen=True)
class DomainFilter:
    """Which names are in scope. Regexes, when given, replace the plain lists; exclusion is checked first."""

    domains: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    regex_exclusion: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "domains", _clean(self.domains))
        object.__setattr__(self, "exclusions", _clean(self.exclusions))

    @property
    def matches_all(self) -> bool:
        """No filter is set, so every name is in scope."""
        return not (self.domains or self.exclusions) and self.regex is None and self.regex_exclusion is None

    @classmethod
    def from_flags(
        cls,
        domain_filter: Iterable[str] = (),
        exclude_domains: Iterable[str] = (),
        regex_domain_filter: str = "",
        regex_domain_exclusion: str = "",
    ) -> DomainFilter:
        """Build from flag values; a bad regex raises ValueError naming the flag."""
        return cls(
            domains=tuple(domain_filter),
            exclusions=tuple(exclude_domains),
            regex=_compile("--regex-domain-filter", regex_domain_filter),
            regex_exclusion=_compile("--regex-domain-exclusion", regex_domain_exclusion),
        )

    def matches(self, name: str) -> bool:
        """Tell whether a DNS name is in scope."""
        if self.matches_all:
            return True
        name = name.strip().removesuffix(".").lower()
        if self.regex is not None or self.regex_exclusion is not None:
            if self.regex_exclusion is not None and self.regex_exclusion.search(name):
                return False
            return self.regex is None or self.regex.search(name) is not None
        in_scope = not self.domains or _matches_any(self.domains, name)
        return in_scope and not _matches_any(self.exclusions, name)


MATCH_ALL = DomainFilter()
