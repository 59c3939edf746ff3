"""Render the kustomizations in deploy/ without kubectl.

``kubectl`` is not on every machine that runs ``make test`` (Debian's ``kubernetes-client`` is
1.20, whose kustomize predates components), and no kustomize build is on PyPI. This renders the
subset of kustomize that deploy/ uses, and nothing else: ``resources`` (files and folders),
``components``, ``namespace``, ``images`` (newName, newTag) and ``patches`` given as JSON 6902
operations (inline or in a file) with a ``target`` of group, kind and name. Anything else in a
kustomization is refused, so deploy/ cannot drift past it unnoticed; where kubectl is installed,
``test_manifests.py`` checks that this renders exactly what ``kubectl kustomize`` does.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OVERLAYS = ("dev", "prod")

_KNOWN = {"apiVersion", "kind", "resources", "components", "namespace", "images", "patches"}
_CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not do, or a patch does not apply."""


def render(directory: Path) -> list[Resource]:
    """The resources ``directory``'s kustomization.yaml builds."""
    return _build(directory.resolve(), expect="Kustomization", resources=[])


def _build(directory: Path, *, expect: str, resources: list[Resource]) -> list[Resource]:
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    if spec.get("kind", "Kustomization") != expect:
        raise KustomizeError(f"{directory}: expected a {expect}")
    unknown = set(spec) - _KNOWN
    if unknown:
        raise KustomizeError(f"{directory}: unsupported fields {sorted(unknown)}")
    for entry in spec.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            resources.extend(_build(path, expect="Kustomization", resources=[]))
        else:
            resources.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for entry in spec.get("components", []):
        # A component works on everything accumulated so far.
        resources = _build((directory / entry).resolve(), expect="Component", resources=resources)
    for patch in spec.get("patches", []):
        _patch(directory, patch, resources)
    for image in spec.get("images", []):
        _set_image(image, resources)
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] not in _CLUSTER_SCOPED:
                resource.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return resources


def _matches(target: dict[str, str], resource: Resource) -> bool:
    group = resource["apiVersion"].rpartition("/")[0]
    return (
        target.get("kind", resource["kind"]) == resource["kind"]
        and target.get("name", resource["metadata"]["name"]) == resource["metadata"]["name"]
        and target.get("group", group) == group
    )


def _patch(directory: Path, patch: dict[str, Any], resources: list[Resource]) -> None:
    if set(patch) - {"target", "patch", "path"}:
        raise KustomizeError(f"{directory}: unsupported patch fields {sorted(patch)}")
    text = patch["patch"] if "patch" in patch else (directory / patch["path"]).read_text()
    operations = yaml.safe_load(text)
    if not isinstance(operations, list):
        raise KustomizeError(f"{directory}: only JSON 6902 patches (a list of operations)")
    hits = [r for r in resources if _matches(patch.get("target", {}), r)]
    if not hits:
        raise KustomizeError(f"{directory}: patch target {patch.get('target')} matches nothing")
    for resource in hits:
        for operation in operations:
            _apply(resource, operation)


def _pointer(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.split("/")[1:]]


def _apply(document: Resource, operation: dict[str, Any]) -> None:
    *parents, last = _pointer(operation["path"])
    node: Any = document
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    op = operation["op"]
    value = copy.deepcopy(operation.get("value"))
    if isinstance(node, list):
        index = len(node) if last == "-" else int(last)
        if op == "add":
            node.insert(index, value)
        elif op == "replace":
            node[index] = value
        elif op == "remove":
            del node[index]
        else:
            raise KustomizeError(f"unsupported operation {op}")
        return
    if op in ("replace", "remove") and last not in node:
        raise KustomizeError(f"{operation['path']}: nothing to {op}")
    if op in ("add", "replace"):
        node[last] = value
    elif op == "remove":
        del node[last]
    else:
        raise KustomizeError(f"unsupported operation {op}")


def pod_spec(resource: Resource) -> dict[str, Any] | None:
    """The pod template's spec of a workload, or None."""
    spec = resource.get("spec", {})
    if resource["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template")
    return template["spec"] if isinstance(template, dict) and "spec" in template else None


def _set_image(image: dict[str, str], resources: list[Resource]) -> None:
    for resource in resources:
        pod = pod_spec(resource)
        if pod is None:
            continue
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            name, _, _ = container["image"].partition(":")
            if name != image["name"]:
                continue
            new = image.get("newName", name)
            tag = image.get("newTag")
            container["image"] = f"{new}:{tag}" if tag else new
