"""The Redis store against real trouble: restarts, killed connections, passwords, TLS, replicas."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.errors import StoreError
from service.events.anchors import Anchors
from service.events.link import Report
from service.models import FeedState, Outlet
from service.state.redis_store import RedisStore
from tests.conftest import REDIS_URL
from tests.events import corpus
from tests.state.conftest import RedisServer, free_port

NOW = datetime(2021, 6, 10, 8, 0, tzinfo=UTC)
# A report with nothing to link by: an event of its own.
QUIET = Report(NOW.timestamp(), Anchors(*(frozenset[str](),) * 6, followup=False))
StartServer = Callable[..., RedisServer]


@pytest.fixture
async def opened() -> AsyncIterator[Callable[..., RedisStore]]:
    """Open RedisStores on any URL; every one is closed afterwards."""
    stores: list[RedisStore] = []

    def open_store(url: str, **options: object) -> RedisStore:
        store = RedisStore(url, prefix="t:", **options)  # type: ignore[arg-type]
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        await store.close()


@pytest.fixture
async def own_prefix() -> AsyncIterator[tuple[RedisStore, aioredis.Redis]]:
    """A store on the shared server under a fresh key prefix, and a raw client; keys removed after."""
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    store = RedisStore(REDIS_URL, prefix=prefix)
    await store.open()
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        yield store, client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await store.close()


async def test_a_restarted_server_without_persistence_is_reconnected_and_found_empty(
    redis_server: StartServer, opened: Callable[..., RedisStore]
) -> None:
    server = redis_server()
    store = opened(server.url)
    await store.open()
    await store.put_feed_state(FeedState("f", etag="x"))
    first = await store.acquire_lease("f", "a", 30, NOW)
    server.restart()
    assert await store.get_feed_state("f") is None
    await store.put_feed_state(FeedState("f", etag="y"))
    assert await store.get_feed_state("f") == FeedState("f", etag="y")
    # Scripts the new server never saw are loaded again, and fencing tokens still only grow.
    second = await store.acquire_lease("f", "a", 30, NOW)
    assert first is not None and second is not None and second > first
    assert await store.put_feed_state_fenced(FeedState("f"), first) is False


async def test_killed_client_connections_are_reopened_mid_use_without_an_error(
    redis_server: StartServer, opened: Callable[..., RedisStore]
) -> None:
    server = redis_server()
    store = opened(server.url)
    await store.open()
    admin = aioredis.Redis(port=server.port)
    kills_done = asyncio.Event()
    batches = 0

    async def poll_feeds() -> None:
        nonlocal batches
        while not kills_done.is_set():
            ids = [f"{batches}-{i}" for i in range(50)]
            assert await store.unseen_items("f", ids, NOW) == ids
            await store.remember_items("f", ids, NOW)
            await store.find_or_add_event(f"f\x1f{batches}", QUIET, Outlet("f"), NOW)
            batches += 1

    polling = asyncio.create_task(poll_feeds())
    killed = 0
    try:
        # Kills further apart than the first retry's backoff (0.1 s): each finds a live connection.
        for _ in range(4):
            await asyncio.sleep(0.15)
            killed += await admin.client_kill_filter(_type="normal", skipme=True)
        kills_done.set()
        await polling
    finally:
        await admin.aclose()
    assert killed >= 3
    assert await store.unseen_items("f", ["0-0", f"{batches - 1}-49", "new"], NOW) == ["new"]


async def test_the_store_names_its_connections_for_client_list(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    store = RedisStore(REDIS_URL, prefix=redis_prefix)
    await store.open()
    try:
        await store.ping()
        clients = await redis_client.client_list()
        assert any(c["name"] == "newsalert" for c in clients)
    finally:
        await store.close()


async def test_an_unreachable_server_raises_store_error_after_the_retries(
    opened: Callable[..., RedisStore],
) -> None:
    store = opened(f"redis://127.0.0.1:{free_port()}/0")
    await store.open()
    started = time.monotonic()
    with pytest.raises(StoreError, match="redis"):
        await store.ping()
    assert time.monotonic() - started >= 1.0  # it backed off and retried before giving up


async def test_a_password_and_a_database_number_in_the_url_are_honoured(
    redis_server: StartServer, opened: Callable[..., RedisStore]
) -> None:
    server = redis_server("--requirepass", "s3cret")
    store = opened(f"redis://:s3cret@127.0.0.1:{server.port}/3")
    await store.open()
    await store.put_feed_state(FeedState("f", etag="x"))
    db3, db0 = (aioredis.Redis(port=server.port, password="s3cret", db=n) for n in (3, 0))
    try:
        assert await db3.exists("t:feed:f") == 1
        assert await db0.exists("t:feed:f") == 0
    finally:
        await db3.aclose()
        await db0.aclose()


async def test_a_wrong_password_is_a_store_error_that_does_not_show_the_password(
    redis_server: StartServer, opened: Callable[..., RedisStore]
) -> None:
    server = redis_server("--requirepass", "s3cret")
    store = opened(f"redis://:not-it@127.0.0.1:{server.port}/0")
    await store.open()
    with pytest.raises(StoreError) as caught:
        await store.ping()
    assert "not-it" not in str(caught.value)
    assert "not-it" not in repr(store)


async def test_rediss_urls_connect_over_tls(
    redis_server: StartServer, opened: Callable[..., RedisStore], tmp_path: Path
) -> None:
    cert, key = _self_signed_certificate(tmp_path)
    try:
        server = redis_server(
            "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-auth-clients", "no", tls=True
        )
    except RuntimeError:
        pytest.fail("this redis-server was built without TLS (Debian's redis-server has it)")
    store = opened(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={cert}")
    await store.open()
    await store.put_feed_state(FeedState("f", etag="tls"))
    assert await store.get_feed_state("f") == FeedState("f", etag="tls")


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not on PATH (Debian package openssl)")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    command += ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


async def test_two_replicas_seeing_two_languages_of_one_event_at_once_make_one_event(
    redis_prefix: str, redis_client: aioredis.Redis
) -> None:
    arabic, persian = corpus.copy("victory-1-shafaq"), corpus.copy("victory-1-irna-fa")
    for round_ in range(10):
        # Two clients (two replicas) on a fresh key space each round, racing one another.
        replicas = [RedisStore(REDIS_URL, prefix=f"{redis_prefix}{round_}:") for _ in range(2)]
        for replica in replicas:
            await replica.open()
        try:
            a, b = await asyncio.gather(
                replicas[0].find_or_add_event(arabic.id, arabic.report, arabic.outlet, NOW),
                replicas[1].find_or_add_event(persian.id, persian.report, persian.outlet, NOW),
            )
        finally:
            for replica in replicas:
                await replica.close()
        first, second = (a, b) if a.is_new else (b, a)
        assert not second.is_new and second.event_id == first.event_id
        assert [o.feed for o in second.outlets] == [
            o.feed for o in (*first.outlets, persian.outlet if first is a else arabic.outlet)
        ]


async def test_event_and_lease_keys_expire_on_their_own_in_redis(
    redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    """Nothing the event index or a lease writes outlives its TTL, even if nobody cleans up."""
    store = RedisStore(REDIS_URL, prefix=redis_prefix, story_ttl=600)
    await store.open()
    try:
        report = corpus.copy("victory-1-shafaq").report
        await store.find_or_add_event("a\x1f1", report, Outlet("a"), datetime.now(UTC))
        await store.acquire_lease("f", "owner", 30, datetime.now(UTC))
        event_keys = [k async for k in redis_client.scan_iter(match=f"{redis_prefix}event*")]
        assert len(event_keys) == 2 + len(report.index_keys())  # the record, the item, the index keys
        for key in event_keys:
            assert 0 < await redis_client.pttl(key) <= 600_000
        assert 0 < await redis_client.pttl(f"{redis_prefix}lease:f") <= 30_000
    finally:
        await store.close()


async def test_a_note_of_outlets_that_fails_part_way_leaves_the_alert_to_be_noted_again(
    own_prefix: tuple[RedisStore, aioredis.Redis],
) -> None:
    """Redis does not roll back a script that errors part-way: the body is rewritten last, so a retry
    still finds the outlet new and makes the edit."""
    from service.state.protocol import Ack, DeliveryStatus
    from tests.state.test_protocol import make_alert

    store, client = own_prefix
    await store.enqueue_alert(make_alert("a1"), ["tg"], NOW)
    [sent] = await store.claim_due(NOW, "o", 60)
    receipt = '{"chat": 1, "messages": [7]}'
    ack = Ack("a1", "tg", sent.claim, DeliveryStatus.DELIVERED, NOW, "", receipt)
    assert await store.ack_deliveries([ack]) == [True]
    broken = store.keys.delivery_prefix + "a1\x1fbroken"
    await client.set(broken, "not a delivery")  # the script fails on it, after "tg" was seen
    with pytest.raises(StoreError):
        await store.note_outlets("a1", ["broken", "tg"], [Outlet("outlet-b")], NOW)
    await client.delete(broken)
    assert await store.note_outlets("a1", ["tg"], [Outlet("outlet-b", "fa")], NOW) == ["tg"]  # the retry
    [edit] = await store.claim_due(NOW, "o", 60)
    assert edit.edit and edit.receipt == receipt
    assert edit.alert.also_reported_by == (Outlet("outlet-b", "fa"),)


async def test_deliveries_that_expired_with_their_alert_leave_the_due_set_and_the_index(
    own_prefix: tuple[RedisStore, aioredis.Redis],
) -> None:
    """After seen_ttl a delivery's hash and its alert are gone; their members must not linger."""
    from tests.state.test_protocol import make_alert

    store, client = own_prefix
    for name in ("gone1", "gone2", "live"):
        await store.enqueue_alert(make_alert(name), ["s"], NOW)
    for name in ("gone1", "gone2"):  # as their TTL would
        await client.delete(store.keys.delivery_prefix + f"{name}\x1fs", store.keys.alert(name))
    assert await store.outbox_depth() == 3
    [claimed] = await store.claim_due(NOW, "o", 60)
    assert claimed.alert.id == "live"
    assert await store.outbox_depth() == 1
    assert [d.alert.id for d in await store.deliveries()] == ["live"]
    assert await client.zcard(store.keys.index) == 1


async def test_an_ack_batch_retried_after_a_later_call_failed_is_applied_once(
    monkeypatch: pytest.MonkeyPatch, own_prefix: tuple[RedisStore, aioredis.Redis]
) -> None:
    """Acks go in calls of ACK_CHUNK: when one fails, the caller retries them all, and those already
    applied must read as applied (not refused, which the outbox would log) without applying twice."""
    from service.state import redis_store
    from service.state.protocol import Ack, DeliveryStatus
    from tests.state.test_protocol import make_alert

    monkeypatch.setattr(redis_store, "ACK_CHUNK", 2)
    store, client = own_prefix
    for name in ("a0", "a1", "a2"):
        await store.enqueue_alert(make_alert(name), ["s"], NOW)
    claimed = sorted(await store.claim_due(NOW, "o", 60), key=lambda d: d.alert.id)
    acks = [Ack(d.alert.id, "s", d.claim, DeliveryStatus.DELIVERED, NOW) for d in claimed]
    broken = store.keys.delivery_prefix + "zz\x1fs"
    await client.set(broken, "not a delivery")  # fails the second call, after a2 was applied
    with pytest.raises(StoreError):
        await store.ack_deliveries([*acks, Ack("zz", "s", 1, DeliveryStatus.DELIVERED, NOW)])
    await client.delete(broken)
    assert await store.ack_deliveries(acks) == [True, True, True]
    done = {d.alert.id: (d.status, d.attempts) for d in await store.deliveries()}
    assert done == {name: (DeliveryStatus.DELIVERED, 1) for name in ("a0", "a1", "a2")}
    stale = Ack("a0", "s", claimed[0].claim + 1, DeliveryStatus.PARKED, NOW)
    assert await store.ack_deliveries([stale]) == [False]  # another token is still refused
