"""Spec of --domain-filter / --exclude-domains / --regex-domain-filter / --regex-domain-exclusion."""

from __future__ import annotations

import pytest

from extdns.domainfilter import DomainFilter


@pytest.mark.parametrize(
    ("domain_filter", "name", "matches"),
    [
        (DomainFilter(), "anything.org", True),
        (DomainFilter(("example.com",)), "example.com", True),
        (DomainFilter(("example.com",)), "a.b.example.com", True),
        (DomainFilter(("example.com",)), "badexample.com", False),
        (DomainFilter((" Example.COM. ",)), "foo.example.com.", True),
        (DomainFilter((".example.com",)), "example.com", False),
        (DomainFilter((".example.com",)), "foo.example.com", True),
        (DomainFilter(("a.org,b.org",)), "x.b.org", True),
        (DomainFilter(("example.com",), ("internal.example.com",)), "x.internal.example.com", False),
        (DomainFilter(("example.com",), ("internal.example.com",)), "x.example.com", True),
        (DomainFilter((), ("example.com",)), "example.com", False),
        (DomainFilter.from_flags(regex_domain_filter=r"\.org$"), "x.org", True),
        (DomainFilter.from_flags(regex_domain_filter=r"\.org$"), "x.com", False),
        (DomainFilter.from_flags(["x.com"], regex_domain_filter=r"\.org$"), "x.com", False),
        (DomainFilter.from_flags(regex_domain_exclusion="^int"), "internal.org", False),
        (DomainFilter.from_flags(regex_domain_filter="org", regex_domain_exclusion="^a"), "a.org", False),
    ],
)
def test_domain_filter(domain_filter: DomainFilter, name: str, matches: bool) -> None:
    assert domain_filter.matches(name) is matches


def test_bad_regex_names_the_flag() -> None:
    with pytest.raises(ValueError, match="--regex-domain-exclusion"):
        DomainFilter.from_flags(regex_domain_exclusion="(")
