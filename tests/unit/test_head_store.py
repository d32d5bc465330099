"""The worker's case heads: kept out of memory but for the latest used, read as a mapping."""

from __future__ import annotations

from services.common.headstore import Fetched, HeadStore, Held
from services.common.isolation import UNREADABLE


def head(version: int, mark: str = "a") -> dict[str, object]:
    return {"version": version, "hash": mark * 64, "state": {"unit": "demo/co/p01"}}


def test_a_head_kept_is_read_back_from_its_partition_only() -> None:
    store = HeadStore(cache=2)
    store.put(0, {"GRV-A": head(1), "GRV-B": head(2)})
    store.put(1, {"GRV-C": head(3)})
    assert store.get(0, "GRV-A") == head(1)
    assert store.get(1, "GRV-A") is None
    assert store.get(0, "GRV-Z") is None
    store.put(0, {"GRV-A": head(4)})
    assert store.get(0, "GRV-A") == head(4)
    assert (store.count(0), store.count(1)) == (2, 1)


def test_the_cache_holds_at_most_its_bound_and_the_store_the_rest() -> None:
    store = HeadStore(cache=3)
    store.put(0, {f"GRV-{n:03d}": head(n) for n in range(1, 11)})
    assert len(store._cache) == 3
    # Heads evicted from the cache are read from the database, and are the ones kept.
    assert [store.get(0, f"GRV-{n:03d}") for n in range(1, 11)] == [head(n) for n in range(1, 11)]
    assert len(store._cache) == 3
    assert list(store._cache) == ["GRV-008", "GRV-009", "GRV-010"]


def test_a_partition_dropped_or_heads_removed_are_gone_from_cache_and_store() -> None:
    store = HeadStore(cache=10)
    store.put(0, {"GRV-A": head(1), "GRV-B": head(1)})
    store.put(1, {"GRV-C": head(1)})
    store.drop(0)
    store.remove(["GRV-C"])
    assert [store.get(0, "GRV-A"), store.get(0, "GRV-B"), store.get(1, "GRV-C")] == [None] * 3
    assert (store.count(0), store.count(1)) == (0, 0)


def test_a_partition_reads_as_a_mapping_a_page_at_a_time() -> None:
    store = HeadStore(cache=5)
    heads = {f"GRV-{n:05d}": head(n) for n in range(2500)}
    store.put(7, heads)
    store.put(8, {"GRV-OTHER": head(1)})
    held = Held(store, 7)
    assert len(held) == 2500
    assert held == heads
    assert dict(held.items()) == heads
    assert held.get("GRV-OTHER") is None and "GRV-00001" in held
    held.update({"GRV-NEW": head(9)})
    assert store.get(7, "GRV-NEW") == head(9)


def test_a_fetch_keeps_each_cases_latest_head_over_what_was_stored() -> None:
    store = HeadStore(cache=1)
    store.put(0, {"GRV-A": head(1), "GRV-B": head(1), "GRV-C": head(1)})
    fetched = Fetched(store, 0)
    assert fetched.get("GRV-A") == head(1)
    fetched["GRV-A"] = head(2)
    fetched.pop("GRV-B")
    assert fetched.get("GRV-B") is None
    fetched["GRV-D"] = {UNREADABLE: "not a head"}
    fetched.pop("GRV-C")
    fetched["GRV-C"] = head(5)
    fetched.keep()
    assert dict(Held(store, 0).items()) == {
        "GRV-A": head(2),
        "GRV-C": head(5),
        "GRV-D": {UNREADABLE: "not a head"},
    }
