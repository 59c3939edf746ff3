"""The NATS configuration of deploy/ runs as a real three-server JetStream cluster, and a service
started with KABINET_NATS_STREAM_REPLICAS=3 gets its stream replicated on all three."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from kabinet.devstack.nats import nats_server_binary
from kabinet.devstack.ports import free_port
from kabinet.devstack.postgres import EmbeddedPostgres
from kabinet.service import ServiceHost
from kabinet.settings import CommonSettings
from tests.deploy.kustomize import DEPLOY, render

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("nats-cluster")]


def _config_for(template: str, index: int, ports: list[dict[str, int]], root: Path) -> Path:
    """deploy/'s nats.conf with the pods' addresses replaced by this machine's ports."""
    own = ports[index]
    text = (
        template.replace("0.0.0.0:4222", f"127.0.0.1:{own['client']}")
        .replace("0.0.0.0:8222", f"127.0.0.1:{own['monitor']}")
        .replace("0.0.0.0:6222", f"127.0.0.1:{own['cluster']}")
        .replace("store_dir: /data", f'store_dir: "{root / f"data-{index}"}"')
        .replace("/var/run/nats/nats.pid", str(root / f"nats-{index}.pid"))
        .replace("max_file_store: 8GB", "max_file_store: 256MB")
    )
    for other, addresses in enumerate(ports):
        text = text.replace(
            f"nats://nats-{other}.nats-headless:6222", f"nats://127.0.0.1:{addresses['cluster']}"
        )
    assert "nats-headless" not in text
    assert "0.0.0.0" not in text
    path = root / f"nats-{index}.conf"
    path.write_text(text)
    return path


@pytest.fixture
async def nats_cluster(tmp_path: Path) -> AsyncIterator[list[str]]:
    resources = render(DEPLOY / "overlays" / "prod")
    (config,) = [
        r for r in resources if r["kind"] == "ConfigMap" and r["metadata"]["name"] == "nats-config"
    ]
    ports = [{"client": free_port(), "monitor": free_port(), "cluster": free_port()} for _ in "abc"]
    processes: list[subprocess.Popen[bytes]] = []
    logs = [(tmp_path / f"nats-{index}.log").open("wb") for index in range(3)]
    try:
        for index in range(3):
            path = _config_for(config["data"]["nats.conf"], index, ports, tmp_path)
            processes.append(
                subprocess.Popen(
                    [nats_server_binary(), "-c", str(path)],
                    env={**os.environ, "POD_NAME": f"nats-{index}"},
                    stdout=subprocess.DEVNULL,
                    stderr=logs[index],
                )
            )
        await _healthy([p["monitor"] for p in ports], processes, tmp_path)
        yield [f"nats://127.0.0.1:{p['client']}" for p in ports]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


async def _healthy(monitors: list[int], processes: list[Any], logs: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient() as client:
        while True:
            for index, process in enumerate(processes):
                if process.poll() is not None:
                    log = (logs / f"nats-{index}.log").read_text()
                    pytest.fail(f"NATS server {index} exited:\n{log}")
            statuses = []
            for port in monitors:
                try:
                    answer = await client.get(
                        f"http://127.0.0.1:{port}/healthz?js-enabled-only=true", timeout=2
                    )
                    statuses.append(answer.status_code)
                except httpx.HTTPError:
                    statuses.append(0)
            if statuses == [200, 200, 200]:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the NATS cluster did not become healthy: {statuses}")
            await asyncio.sleep(0.3)


async def test_a_service_replicates_its_stream_on_every_server(
    nats_cluster: list[str], postgres: EmbeddedPostgres
) -> None:
    name = "replicas"
    postgres.create_database(name)
    common = CommonSettings(
        database_url=postgres.database_url(name),
        nats_url=nats_cluster[0],
        stream_replicas=3,
    )
    # Electing the JetStream meta leader takes a moment after the servers say healthy.
    deadline = time.monotonic() + 30
    while True:
        try:
            async with ServiceHost("support", common, migrations=Path("/nonexistent")):
                break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    client = await nats.connect(nats_cluster[2])
    try:
        info = await client.jetstream().stream_info("SUPPORT")
    finally:
        await client.close()
    assert info.config.num_replicas == 3
    assert info.cluster is not None
    assert info.cluster.name == "kabinet"
    assert info.cluster.leader in {"nats-0", "nats-1", "nats-2"}
    followers = {peer.name for peer in info.cluster.replicas or []}
    assert followers | {info.cluster.leader} == {"nats-0", "nats-1", "nats-2"}
