"""Which objects a source reads: --namespace, --label-filter, --annotation-filter, `controller` annotation."""

from __future__ import annotations

from extdns.sources.annotations import AnnotationReader
from extdns.sources.config import SourceConfig
from extdns.sources.objects import KubeObject, annotations_of, labels_of, namespace_of

__all__ = ["in_scope"]


def in_scope(obj: KubeObject, cfg: SourceConfig) -> bool:
    """True when the flags select the object and its `controller` annotation, if any, names us."""
    if cfg.namespace and namespace_of(obj) != cfg.namespace:
        return False
    annotations = annotations_of(obj)
    if not cfg.label_selector.matches(labels_of(obj)) or not cfg.annotation_selector.matches(annotations):
        return False
    controller = AnnotationReader(annotations, cfg.annotation_prefix).controller()
    return controller is None or controller == cfg.controller
