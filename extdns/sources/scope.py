"""Which objects a source reads: --namespace, --label-filter, --annotation-filter, `controller` annotation."""

from __future__ import annotations

from extdns.sources.annotations import AnnotationReader
from extdns.sources.config import SourceConfig
from extdns.sources.objects import KubeObject, annotations_of, labels_of, namespace_of

__all__ = ["in_scope"]


def in_scope(obj: KubeObject, cfg: SourceConfig, check_controller: bool = True) -> bool:
    """True when the flags select the object and its `controller` annotation, if any, names us.

    `check_controller=False` skips the annotation check (the crd source does not make it).
    """
    if cfg.namespace and namespace_of(obj) != cfg.namespace:
        return False
    annotations = annotations_of(obj)
    if not cfg.label_selector.matches(labels_of(obj)) or not cfg.annotation_selector.matches(annotations):
        return False
    if not check_controller:
        return True
    controller = AnnotationReader(annotations, cfg.annotation_prefix).controller()
    return controller is None or controller == cfg.controller
