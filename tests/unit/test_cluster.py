"""Durability from the settings, and how the nodes of a local cluster are told of one another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from services.cli.cluster import LocalCluster, addresses, client_ports
from services.cli.supervisor import local_brokers
from services.common.kafka import all_topics
from services.common.settings import Settings

SECRET = "unit-test-secret-0123456789-abcdef"


def settings(**fields: Any) -> Settings:
    return Settings(environment="test", jwt_secret=SECRET, master_key=SECRET, **fields)


def test_two_replicas_must_hold_a_write_wherever_there_are_two_by_default() -> None:
    assert settings().min_isr == 1
    assert settings(replication_factor=2).min_isr == 2
    assert settings(replication_factor=3).min_isr == 2
    assert settings(replication_factor=3, min_insync_replicas=3).min_isr == 3
    assert settings(replication_factor=3, min_insync_replicas=1).min_isr == 1


def test_more_in_sync_replicas_than_replicas_is_refused_as_no_write_could_land() -> None:
    with pytest.raises(ValidationError, match="exceeds"):
        settings(replication_factor=2, min_insync_replicas=3)
    with pytest.raises(ValidationError, match="exceeds"):
        settings(min_insync_replicas=2)


def test_no_topic_overrides_the_minimum_of_in_sync_replicas_the_settings_give() -> None:
    for spec in all_topics(settings(replication_factor=3)):
        assert "min.insync.replicas" not in spec.config, spec.name


def test_the_nodes_of_a_cluster_take_every_other_port_and_vote_one_another_in(
    tmp_path: Path,
) -> None:
    assert addresses(9192) == "127.0.0.1:9192,127.0.0.1:9194,127.0.0.1:9196"
    assert client_ports(addresses(9192)) == [9192, 9194, 9196]
    nodes = LocalCluster(tmp_path, tmp_path / "libs", (9192, 9194, 9196)).nodes
    assert [n.node_id for n in nodes] == [1, 2, 3]
    assert [n.controller_port for n in nodes] == [9193, 9195, 9197]
    assert len({n.cluster_id for n in nodes}) == 1


def test_a_node_of_three_names_every_voter_and_keeps_its_own_topics_on_three(
    tmp_path: Path,
) -> None:
    node = LocalCluster(tmp_path, tmp_path / "libs", (9192, 9194, 9196)).node(2)
    props = dict(line.split("=", 1) for line in node._properties().read_text().splitlines() if line)
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:9193,2@127.0.0.1:9195,3@127.0.0.1:9197"
    )
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["min.insync.replicas"] == "2"
    assert "controller.quorum.bootstrap.servers" not in props


def test_a_deployment_manages_one_node_per_address_it_is_given(tmp_path: Path) -> None:
    [alone] = local_brokers(settings(var_dir=tmp_path))
    assert (alone.port, alone.controller_port, alone.quorum) == (9092, 9093, ())
    three = local_brokers(settings(var_dir=tmp_path, kafka_bootstrap_servers=addresses(9192)))
    assert [n.port for n in three] == [9192, 9194, 9196]
    assert all(n.home.parent == tmp_path / "kafka" for n in three)
