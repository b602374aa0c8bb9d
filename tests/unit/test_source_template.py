"""--fqdn-template: the Go-template forms users write, over Kubernetes object dicts."""

from __future__ import annotations

from typing import Any

import pytest

from extdns.sources.template import FqdnTemplate, TemplateError, parse_fqdn_templates

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "metadata": {
        "name": "web",
        "namespace": "prod",
        "uid": "1234",
        "labels": {"team": "blue", "app.kubernetes.io/name": "shop", "empty": ""},
        "annotations": {"dns/zone": "example.org", "entries": '[{"dns": "a"}, {"dns": "b"}]'},
    },
    "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "ports": [{"port": 80, "protocol": "TCP"}]},
}


@pytest.mark.parametrize(
    ("template", "names"),
    [
        ("{{.Name}}.{{.Namespace}}.example.org", ["web.prod.example.org"]),
        ("{{ .Name }}.example.org.", ["web.example.org"]),
        ("{{.Name}}.a.org,{{.Name}}.b.org", ["web.a.org", "web.b.org"]),
        ("{{.Name}}.b.org, {{.Name}}.a.org ,{{.Name}}.a.org", ["web.a.org", "web.b.org"]),
        ("{{.Labels.team}}.example.org", ["blue.example.org"]),
        ('{{index .Labels "app.kubernetes.io/name"}}.example.org', ["shop.example.org"]),
        ('{{ index .Annotations "dns/zone" }}', ["example.org"]),
        ('{{.Name}}.{{ index .Labels "missing" }}example.org', ["web.example.org"]),
        ("{{if .Labels.team}}{{.Labels.team}}.{{end}}{{.Name}}.org", ["blue.web.org"]),
        ("{{if .Labels.nope}}{{.Labels.nope}}.{{end}}{{.Name}}.org", ["web.org"]),
        ("{{with .Labels.team}}{{.}}{{else}}none{{end}}.org", ["blue.org"]),
        (
            '{{ if eq .Namespace "dev" }}d{{ else if eq .Namespace "prod" }}p{{ else }}x{{ end }}.org',
            ["p.org"],
        ),
        ("{{ .Name | toLower }}.org", ["web.org"]),
        ('{{ trimPrefix .Name "w" }}.org', ["eb.org"]),
        ('{{ trimSuffix .Name "b" }}.org', ["we.org"]),
        ('{{ replace "e" "o" .Name }}.org', ["wob.org"]),
        ('{{ printf "%s-%s" .Name .Namespace }}.org', ["web-prod.org"]),
        ("{{.Kind}}.org", ["Service.org"]),
        ("{{.Spec.ClusterIP}}", ["10.0.0.1"]),
        ("{{ (index .Spec.Ports 0).Port }}.org", ["80.org"]),
        ("{{.Spec.LoadBalancerIP}}x.org", ["x.org"]),
        ('{{ if hasKey .Labels "empty" }}has{{ end }}.org', ["has.org"]),
        ('{{ if isSource "service" }}svc{{ else }}other{{ end }}.org', ["svc.org"]),
        ('{{ if contains .Name "we" }}yes{{ end }}.org', ["yes.org"]),
        ("{{ if isIPv4 .Spec.ClusterIP }}v4{{ end }}.org", ["v4.org"]),
        ("{{range $k, $v := .Labels}}{{if $v}}{{$v}}.{{end}}{{end}}org", ["shop.blue.org"]),
        (
            '{{ range $e := (index .Annotations "entries" | fromJson) }}{{ index $e "dns" }}.org,{{ end }}',
            ["a.org", "b.org"],
        ),
        ("{{ $n := .Name }}{{ $n }}.org", ["web.org"]),
        ("{{/* a comment */}}{{.Name}}.org", ["web.org"]),
        ("{{- .Name -}} .org", ["web.org"]),
        ("{{.ObjectMeta.Name}}.org", ["web.org"]),
        ("{{.UID}}.org", ["1234.org"]),
        ("{{ $.Name }}.org", ["web.org"]),
        ("{{ len .Spec.Ports }}.org", ["1.org"]),
        ("{{ .Name }}{{ if not .Labels.x }}-nox{{ end }}.org", ["web-nox.org"]),
        ("", []),
    ],
)
def test_forms(template: str, names: list[str]) -> None:
    assert FqdnTemplate(template).hostnames(SERVICE, "Service") == names


def test_kind_taken_from_object_when_present() -> None:
    obj = {**SERVICE, "kind": "Ingress"}
    assert FqdnTemplate("{{.Kind}}").hostnames(obj, "Service") == ["Ingress"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.Calibre}}.org", "can't evaluate field Calibre"),
        ("{{.Labels.nope}}.org", "map has no entry for key 'nope'"),
        ("{{.Name.Foo}}", "can't evaluate field Foo in type string"),
        ("{{.Labels.nope.x}}", "nil pointer evaluating"),
        ("{{ index .Spec.Ports 3 }}", "index out of range"),
        ("{{ toLower .Spec.Ports }}", "expected string"),
        ("{{ trimPrefix .Name }}", "error calling trimPrefix"),
        ("{{ $undefined }}", "undefined variable"),
        ("{{ .Name .Namespace }}", "can't give argument to non-function"),
        ("{{ range .Name }}x{{ end }}", "range can't iterate"),
    ],
)
def test_broken_fields_raise_template_error(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        FqdnTemplate(template).hostnames(SERVICE, "Service")


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{.Name", "unclosed action"),
        ("{{ if .Name }}x", "without {{end}}"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ nosuch .Name }}", "function 'nosuch' not defined"),
        ('{{ define "x" }}y{{ end }}', "not supported"),
        ("{{ }}", "missing value"),
        ("{{ .Name | }}", "missing command"),
        ("{{ (.Name }}", r"unclosed '\('"),
        ("{{ # }}", "cannot parse"),
        ("{{/* open }}", "unclosed comment"),
        ("{{ if .A }}a{{ else range }}b{{ end }}", "unexpected"),
    ],
)
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        FqdnTemplate(template)


def test_parse_fqdn_templates_joins_with_commas() -> None:
    parsed = parse_fqdn_templates(["{{.Name}}.a.org", " ", "{{.Name}}.b.org"])
    assert parsed is not None
    assert parsed.text == "{{.Name}}.a.org,{{.Name}}.b.org"
    assert parsed.hostnames(SERVICE, "Service") == ["web.a.org", "web.b.org"]
    assert parse_fqdn_templates([]) is None
    assert parse_fqdn_templates(["  "]) is None
