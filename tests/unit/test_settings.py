"""Settings: ExternalDNS flag and env names, precedence, lists, durations, one-line errors."""

from __future__ import annotations

import argparse

import pytest

from process import settings as s


def parse(*argv: str) -> s.Settings:
    p = argparse.ArgumentParser()
    s.add_flags(p)
    return s.load(p.parse_args(list(argv)))


def test_flags_win_over_env_which_wins_over_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTERNAL_DNS_POLICY", "upsert-only")
    monkeypatch.setenv("EXTERNAL_DNS_TXT_OWNER_ID", "from-env")
    got = parse("--txt-owner-id", "from-flag")
    assert got.policy == "upsert-only" and got.txt_owner_id == "from-flag" and got.interval == 15.0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("service ingress", ["service", "ingress"]),
        ("service,ingress", ["service", "ingress"]),
        ("service", ["service"]),
    ],
)
def test_lists_from_env_are_space_or_comma_separated(
    monkeypatch: pytest.MonkeyPatch, env: str, expected: list[str]
) -> None:
    monkeypatch.setenv("EXTERNAL_DNS_SOURCE", env)
    assert parse("--policy", "sync").source == expected


def test_gateway_and_crd_flags_reach_the_source_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXTERNAL_DNS_GATEWAY_NAMESPACE", "infra")
    monkeypatch.setenv("EXTERNAL_DNS_SOURCE", "gateway-httproute gateway-grpcroute crd")
    got = parse(
        "--policy",
        "sync",
        "--gateway-name",
        "public",
        "--gateway-label-filter",
        "tier=edge",
        "--gateway-listener-sets",
        "--crd-source-apiversion",
        "externaldns.k8s.io/v1alpha1",
    )
    assert got.source == ["gateway-httproute", "gateway-grpcroute", "crd"]
    cfg = got.source_config()
    assert (cfg.gateway_name, cfg.gateway_namespace, cfg.gateway_listener_sets) == ("public", "infra", True)
    assert cfg.gateway_label_selector.matches({"tier": "edge"})
    assert (cfg.crd_source_apiversion, cfg.crd_source_kind) == ("externaldns.k8s.io/v1alpha1", "DNSEndpoint")


def test_repeated_flags_accumulate() -> None:
    got = parse("--policy", "sync", "--domain-filter", "a.org", "--domain-filter", "b.org,c.org")
    assert got.domain_filter == ["a.org", "b.org", "c.org"]
    assert got.sync_config().domain_filter.matches("x.b.org")


@pytest.mark.parametrize(("text", "seconds"), [("15s", 15.0), ("1m", 60.0), ("1h30m", 5400.0), ("42", 42.0)])
def test_durations_are_go_durations_or_seconds(text: str, seconds: float) -> None:
    assert parse("--policy", "sync", "--interval", text).interval == seconds


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        ((), "--policy is required"),
        (("--policy", "sometimes"), "--policy"),
        (("--policy", "sync", "--txt-prefix", "p", "--txt-suffix", "s"), "--txt-prefix and --txt-suffix"),
        (("--policy", "sync", "--ignore-hostname-annotation"), "--ignore-hostname-annotation"),
        (("--policy", "sync", "--source", "pod"), "--source"),
        (("--policy", "sync", "--managed-record-types", "MX"), "--managed-record-types"),
        (("--policy", "sync", "--regex-domain-filter", "("), "--regex-domain-filter"),
        (("--policy", "sync", "--gateway-label-filter", "a in (b"), "--gateway-label-filter"),
        (("--policy", "sync", "--gateway-namespace", "Infra_NS"), "--gateway-namespace"),
        (("--policy", "sync", "--gateway-name", "no/slashes"), "--gateway-name"),
        (("--policy", "sync", "--crd-source-apiversion", "example.com/v2"), "--crd-source-apiversion"),
        (("--policy", "sync", "--crd-source-kind", "Record"), "--crd-source-kind"),
        (("--policy", "sync", "--source", "gateway-httproute,istio-gateway"), "--source"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(argv: tuple[str, ...], named: str) -> None:
    with pytest.raises(s.SettingsError) as err:
        parse(*argv)
    assert named in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("visibility", ["1", "5", "60", "3600"])
def test_every_retry_countdown_is_below_the_visibility_timeout(
    visibility: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task waiting for its retry longer than the visibility timeout would be redelivered meanwhile."""
    from tasks.celery_tasks import retry_delay

    monkeypatch.setenv("CELERY_VISIBILITY_TIMEOUT", visibility)
    longest = max(retry_delay(retries, jitter) for retries in range(40) for jitter in (0.5, 0.75, 1.0))
    assert longest < float(visibility)
