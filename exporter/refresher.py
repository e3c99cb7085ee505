"""The refresh loop: every refresh_interval, one task per (account, region,
service) target on a bounded pool of daemon threads; results go to the store.

Cycles never overlap. A failing target keeps its last good data. Daemon
threads let the process exit promptly on SIGTERM even mid-refresh.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import NoCredentialsError

from exporter.account_metadata import NO_META, OrganizationMetadata
from exporter.accounts import AccountDirectory, DiscoveryMemory
from exporter.aws import AccountSession, ClientFactory, home_region
from exporter.aws.errors import (
    DeadlineExceeded,
    deadline,
    describe_error,
    failure_reason,
    frames,
)
from exporter.aws.partitions import DEFAULT_PARTITION
from exporter.collector import account_line
from exporter.costexplorer.merge import Overlay
from exporter.costexplorer.reader import CostExplorerReader, estimate
from exporter.model import GLOBAL_REGION, Account, Reservation, Target
from exporter.ownership import TagCache, Tags
from exporter.ratelimit import KeyedRateLimiter
from exporter.renewal import RenewalPolicy
from exporter.services import REGISTRY
from exporter.services.base import ServiceSpec, fetch, is_exported, meaning_of
from exporter.store import SnapshotStore
from exporter.telemetry import Telemetry

log = logging.getLogger(__name__)

# A target (or an account's AssumeRole and region listing) may spend this
# long on requests in one cycle, an answer already awaited included (its read
# timeout shrinks to the time left; a connect may add CONNECT_TIMEOUT). A
# slower one fails with reason "timeout", keeping its data.
TARGET_DEADLINE = 90.0
# Resolving accounts (own identity, profiles, Organizations ListAccounts).
DIRECTORY_DEADLINE = 90.0
# A task still running this long after its deadline (an answer dripping in
# faster than a read timeout fires) is abandoned: its target fails with reason
# "timeout" and the cycle goes on without it. Until it ends, its target is not
# asked again.
ABANDON_AFTER = 30.0
# /readyz turns ready when the first cycle ends, or this long after it began.
READY_AFTER = 60.0


def owns(account_id: str, shard: int, total_shards: int) -> bool:
    """Whether shard ``shard`` of ``total_shards`` owns this account.

    sha256, not ``hash()``: stable across processes, restarts and versions.
    """
    if total_shards <= 1:
        return True
    digest = int.from_bytes(hashlib.sha256(account_id.encode()).digest(), "big")
    return digest % total_shards == shard


@dataclass(frozen=True)
class Work:
    """One target to refresh and how to reach it."""

    target: Target
    spec: ServiceSpec
    session: AccountSession
    client_region: str
    owner_labels: tuple[tuple[str, str], ...] = ()
    owner_refresh: float = 86400.0  # re-read a reservation's tags at most this often
    account_tags: Tags = ()
    overlay: Overlay | None = None  # Cost Explorer's rows: utilization, source


@dataclass(eq=False)
class _Task:
    fn: Callable[[], None]
    limit: float | None  # seconds it may run before the pool stops waiting for it
    on_abandon: Callable[[], None] | None
    started: float = 0.0
    abandoned: bool = False


class WorkerPool:
    """A set of daemon threads draining a queue of tasks.

    A task that runs past its ``limit`` (an answer dripping in faster than any
    read timeout fires, say) is abandoned: ``wait`` stops waiting for it,
    calls its ``on_abandon`` and starts a thread in its place, so one stuck
    task never holds a cycle nor keeps a worker. Its own thread ends when the
    task does.
    """

    def __init__(self, size: int, name: str = "refresh") -> None:
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        self._pending = 0
        self._cond = threading.Condition()
        self._running: list[_Task] = []
        self._name = name
        self._started = 0
        self._live = 0
        for _ in range(size):
            self._spawn()

    def _spawn(self) -> None:
        with self._cond:
            self._live += 1
            self._started += 1
            name = f"{self._name}-{self._started - 1}"
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def submit(
        self,
        fn: Callable[[], None],
        limit: float | None = None,
        on_abandon: Callable[[], None] | None = None,
    ) -> None:
        with self._cond:
            self._pending += 1
        self._queue.put(_Task(fn, limit, on_abandon))

    def _loop(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                break
            with self._cond:
                task.started = time.monotonic()
                self._running.append(task)
            try:
                task.fn()
            except Exception as exc:  # a task must never kill a worker
                log.error("refresh task crashed: %s%s", describe_error(exc), frames(exc))
            with self._cond:
                self._running.remove(task)
                if task.abandoned:  # another thread took this one's place
                    break
                self._pending -= 1
                self._cond.notify_all()
        with self._cond:
            self._live -= 1

    def wait(self, stop: threading.Event) -> bool:
        """Block until all submitted work is done or abandoned (True) or ``stop``
        is set (False)."""
        while True:
            with self._cond:
                if not self._pending:
                    return True
                if stop.is_set():
                    return False
                late = self._overdue(time.monotonic())
                if not late:
                    self._cond.wait(timeout=0.2)
                    continue
            for task in late:
                self._spawn()
                if task.on_abandon is not None:
                    try:
                        task.on_abandon()
                    except Exception as exc:
                        log.error("abandon failed: %s%s", describe_error(exc), frames(exc))

    def _overdue(self, now: float) -> list[_Task]:
        """Running tasks past their limit, marked abandoned (caller holds the lock)."""
        late = [
            t
            for t in self._running
            if not t.abandoned and t.limit is not None and now - t.started > t.limit
        ]
        for task in late:
            task.abandoned = True
            self._pending -= 1
        return late

    def close(self) -> None:
        with self._cond:
            live = self._live
        for _ in range(live):
            self._queue.put(None)


class Refresher:
    """Owns the schedule; the configuration can be swapped between cycles."""

    def __init__(
        self,
        config: Any,
        *,
        factory: ClientFactory,
        store: SnapshotStore,
        telemetry: Telemetry,
        shard: int = 0,
        total_shards: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.factory = factory
        self.store = store
        self.telemetry = telemetry
        self.shard = shard
        self.total_shards = total_shards
        self.clock = clock
        # Set when the first cycle has finished, or READY_AFTER seconds into it.
        self.ready = threading.Event()
        self.discovery = DiscoveryMemory()  # outlives config reloads
        # Tags and Organizations metadata outlive reloads too: re-read on their own clock.
        self.tags = TagCache()
        self.organization = OrganizationMetadata()
        self._failing_metadata: set[str] = set()  # accounts whose last metadata read failed
        self.cost_explorer = CostExplorerReader(factory, telemetry)
        self._wake = threading.Event()
        self._config_lock = threading.Lock()
        self._pool: WorkerPool | None = None
        self._pool_size = 0
        # Targets and accounts whose abandoned task still runs (see ABANDON_AFTER).
        self._stuck: set[tuple[str, object]] = set()
        self._stuck_lock = threading.Lock()
        self.limiter = KeyedRateLimiter()
        self.set_config(config)

    def set_config(self, config: Any) -> None:
        """Use ``config`` from the next cycle on (and start that cycle now)."""
        previous = getattr(self, "config", None)
        ce = config.cost_explorer
        if ce.enabled and (previous is None or previous.cost_explorer != ce):
            log.info(estimate(config))
        with self._config_lock:
            self.config = config
            self.directory = AccountDirectory(
                config, self.factory, self.clock, discovery=self.discovery
            )
        self.store.set_policy(RenewalPolicy(config.renewal.scope, config.renewal.purchase_window))
        self.telemetry.refresh_interval.set(config.refresh_interval)
        self._wake.set()

    # -- one cycle ------------------------------------------------------------

    def run_cycle(self, stop: threading.Event | None = None) -> bool:
        """Refresh every target once. Returns False if interrupted by ``stop``."""
        stop = stop or threading.Event()
        with self._config_lock:
            config, directory = self.config, self.directory
        pool = self._pool_for(config.concurrency)
        started = time.monotonic()
        self.factory.warm(
            ["sts", "ec2", *(REGISTRY[s].client_name for s in config.services if s in REGISTRY)]
        )
        with deadline(DIRECTORY_DEADLINE):  # own identity, profiles, ListAccounts
            accounts, problems = directory.accounts()
        self.telemetry.set_discovery(self.discovery)
        accounts = [a for a in accounts if owns(a.account_id or "", self.shard, self.total_shards)]
        self.factory.forget_except(accounts)
        self.telemetry.accounts.set(len(accounts) + len(problems))

        seen: set[Target] = set()
        seen_lock = threading.Lock()  # planning tasks and this thread both add
        overlay = self.cost_explorer.current(config, directory, self.store, self.clock())
        if config.cost_explorer.enabled:
            seen.add(self.cost_explorer.status_target(config, directory))

        def plan(targets: list[Target]) -> None:
            with seen_lock:
                seen.update(targets)

        cycle_over = threading.Event()  # an abandoned planning task submits nothing late

        def plan_account(account: Account) -> None:
            account_tags = self._account_metadata(account, directory, config)
            try:
                with deadline(TARGET_DEADLINE):  # AssumeRole, regions: "all"
                    session, regions = self._reach(account, directory)
            except Exception as exc:
                self._unreachable(account, exc, plan)
                return
            if cycle_over.is_set():
                return
            works = [
                Work(
                    target,
                    spec,
                    session,
                    client_region,
                    config.owner_labels,
                    config.owner_labels_refresh,
                    account_tags,
                    overlay,
                )
                for target, spec, client_region in self._expand(account, session.partition, regions)
            ]
            plan([w.target for w in works])
            for work in works:
                self._guarded(
                    pool,
                    ("target", work.target),
                    lambda w=work: self._refresh(w, config.expired_lookback),
                    TARGET_DEADLINE + ABANDON_AFTER,
                    lambda exc, took, w=work: self._fail(w.target, exc, self.clock(), took),
                )

        for account in accounts:
            self._guarded(
                pool,
                ("account", account.name),
                lambda a=account: plan_account(a),
                # its metadata read and its AssumeRole each have a deadline
                2 * TARGET_DEADLINE + ABANDON_AFTER,
                lambda exc, took, a=account: self._unreachable(a, exc, plan),
            )
        for problem in problems:  # unreachable before its id is known: still visible
            self._unreachable(problem.account, problem.error, plan)
        finished = pool.wait(stop)
        cycle_over.set()
        if not finished:
            return False
        if overlay is not None:
            seen.update(self._cost_explorer_only(overlay, accounts, seen, config))
        self.store.retain(seen)
        self.store.retain_accounts(a.name for a in accounts)
        self.organization.retain({a.account_id for a in accounts if a.account_id})
        self.tags.retain_groups(_tag_group(t) for t in seen)
        self.store.settle(self.clock())
        self.limiter.forget_idle(older_than=max(3600.0, 2 * config.refresh_interval))
        self.telemetry.targets.set(len(seen))
        self.telemetry.cycle_duration.set(time.monotonic() - started)
        self.telemetry.cycles.inc()
        self.ready.set()
        return True

    # -- planning: reach the account, then expand its targets -----------------

    def _reach(
        self, account: Account, directory: AccountDirectory
    ) -> tuple[AccountSession, tuple[str, ...]]:
        """The account's session, with its role assumed, and its regions.

        Assuming the role here, once, and not in each target's task makes an
        unreachable account fail fast, as one error per target.
        """
        session = self.factory.session_for(account)
        credentials = session.credentials()
        if credentials is None:
            raise NoCredentialsError()
        credentials.get_frozen_credentials()
        return session, directory.regions_for(account)

    def _expand(
        self, account: Account, partition: str, regions: tuple[str, ...]
    ) -> list[tuple[Target, ServiceSpec, str]]:
        """Every (target, service, client region) of the account; global services
        once, in the partition's home region; regions without the service skipped."""
        account_id = account.account_id or ""
        planned: list[tuple[Target, ServiceSpec, str]] = []
        for spec in (REGISTRY[s] for s in account.services if s in REGISTRY):
            if spec.is_global:
                target = Target(account.name, account_id, GLOBAL_REGION, spec.name)
                planned.append((target, spec, home_region(partition)))
                continue
            available = set(self.factory.available_regions(spec.client_name, partition))
            for region in regions:
                if available and region not in available:
                    log.debug("no %s endpoint in %s; skipped", spec.name, region)
                    continue
                planned.append((Target(account.name, account_id, region, spec.name), spec, region))
        return planned

    def _unreachable(
        self, account: Account, error: BaseException, plan: Callable[[list[Target]], None]
    ) -> None:
        """Fail every target the account can be named with: its configured regions
        (its home region when they are "all" and could not be listed)."""
        partition = DEFAULT_PARTITION
        regions = account.regions or (home_region(partition),)
        targets = [t for t, _, _ in self._expand(account, partition, regions)]
        plan(targets)
        now = self.clock()
        for target in targets:
            self._fail(target, error, now, 0.0)

    def _refresh(self, work: Work, lookback: float) -> None:
        attempted = self.clock()
        t0 = time.monotonic()
        try:
            with deadline(TARGET_DEADLINE):
                reservations = self._list(work, attempted, lookback)
        except Exception as exc:
            self._fail(work.target, exc, attempted, time.monotonic() - t0)
            return
        self.store.record_success(
            work.target,
            reservations,
            attempted_at=attempted,
            duration=time.monotonic() - t0,
            owner_labels=work.owner_labels,
            account_tags=work.account_tags,
        )

    def _list(self, work: Work, now: float, lookback: float) -> list[Reservation]:
        key = (work.target.account_id, work.client_region)
        # Every HTTP attempt (pages and retries too) takes a token for its account+region.
        with self.factory.task_client(
            work.session,
            work.spec.client_name,
            work.client_region,
            before_send=self._throttle_hook(key),
        ) as client:
            reservations = fetch(
                work.spec,
                client,
                now=now,
                lookback=lookback,
                on_unknown_state=self._unknown_state,
            )
            if work.overlay is not None:
                reservations = work.overlay.annotate(work.target, reservations)
            if work.owner_labels and work.spec.read_tags is not None:
                reservations = self._with_tags(work, client, reservations, now)
            return reservations

    def _cost_explorer_only(
        self, overlay: Overlay, accounts: list[Account], seen: set[Target], config: Any
    ) -> list[Target]:
        """Store what only Cost Explorer knows (accounts or regions not read by
        role) as targets of their own; returns them."""
        names = {a.account_id: a.name for a in accounts if a.account_id}
        now = self.clock()
        stored = []
        for target, reservations in overlay.targets(names.get, seen).items():
            if not owns(target.account_id, self.shard, self.total_shards):
                continue
            spec = REGISTRY.get(target.service)
            kept = [
                r
                for r in reservations
                if spec is None
                or is_exported(meaning_of(spec, r.state)[0], r.end, now, config.expired_lookback)
            ]
            meta = self.organization.get(target.account_id)
            self.store.record_success(
                target,
                kept,
                attempted_at=self.cost_explorer.read_at or now,
                duration=0.0,
                owner_labels=config.owner_labels,
                account_tags=meta.tags if meta is not None else (),
            )
            stored.append(target)
        return stored

    # -- owners: reservation tags and account metadata -------------------------

    def _with_tags(
        self, work: Work, client: Any, reservations: list[Reservation], now: float
    ) -> list[Reservation]:
        """``reservations`` with their own tags, read where due (new ones at once,
        known ones every owner_labels_refresh). A failed read never fails the
        target: it is counted and the reservations keep the tags read before."""
        group = _tag_group(work.target)
        read = work.spec.read_tags
        assert read is not None
        stopped = False
        tagged = []
        for r in reservations:
            key = r.reservation_id
            if not stopped and r.arn and self.tags.due(group, key, now, work.owner_refresh):
                try:
                    self.tags.put(group, key, read(client, r.arn), now)
                except Exception as exc:
                    reason = self._tag_error(work.target, exc)
                    # Denied, throttled or out of time: the next ones would be too.
                    stopped = reason in ("denied", "throttled", "timeout")
            tagged.append(replace(r, tags=self.tags.get(group, key) or ()))
        self.tags.retain(group, [r.reservation_id for r in reservations])
        return tagged

    def _account_metadata(self, account: Account, directory: AccountDirectory, config: Any) -> Tags:
        """Read the account's Organizations metadata where due, export its
        account_info line, and return its tags."""
        account_id = account.account_id or ""
        now = self.clock()
        members = directory.member_ids
        if (
            directory.reads_organization
            # Listed accounts only, when ListAccounts ran: another organization's
            # account has nothing to read here.
            and (members is None or account_id in members)
            and self.organization.due(account_id, now, config.owner_labels_refresh)
        ):
            try:
                with deadline(TARGET_DEADLINE):
                    session, region = directory.organization_access()
                    with self.factory.task_client(session, "organizations", region) as client:
                        self.organization.read(client, account_id, now, config.owner_labels_refresh)
                self._failing_metadata.discard(account_id)
            except Exception as exc:
                target = Target(account.name, account_id, GLOBAL_REGION, "organizations")
                self._tag_error(target, exc, first=account_id not in self._failing_metadata)
                self._failing_metadata.add(account_id)
        meta = self.organization.get(account_id) or NO_META
        line = account_line(
            account.name,
            account_id,
            meta.payer_account_id,
            meta.ou_path,
            config.owner_labels,
            meta.tags,
        )
        self.store.record_account(account.name, line)
        return meta.tags

    def _tag_error(self, target: Target, exc: BaseException, first: bool = True) -> str:
        reason = failure_reason(exc)
        _count_and_log(
            self.telemetry.tag_read_errors,
            target,
            reason,
            exc,
            "owner labels: reading tags failed (kept what was read before)",
            logging.WARNING if first else logging.DEBUG,
        )
        return reason

    def _throttle_hook(self, key: tuple[str, str]) -> Callable[..., None]:
        def before_send(**_: Any) -> None:  # must return None: a value would be the response
            self.limiter.acquire(key)

        return before_send

    def _fail(self, target: Target, exc: BaseException, attempted: float, duration: float) -> None:
        reason = failure_reason(exc)
        _count_and_log(self.telemetry.refresh_errors, target, reason, exc, "refresh failed")
        self.store.record_failure(target, attempted_at=attempted, duration=duration, reason=reason)

    def _unknown_state(self, service: str, state: str) -> None:
        self.telemetry.unknown_states.labels(service, state).inc()

    def _guarded(
        self,
        pool: WorkerPool,
        key: tuple[str, object],
        fn: Callable[[], None],
        limit: float,
        fail: Callable[[BaseException, float], None],
    ) -> None:
        """Submit ``fn``; if it overruns ``limit`` the cycle goes on without it
        (``fail`` gets why and the seconds spent), and until it ends, ``key``
        (its target or account) is not asked again but fails at once."""
        with self._stuck_lock:
            stuck = key in self._stuck
        if stuck:
            fail(DeadlineExceeded("its request of an earlier cycle is still unanswered"), 0.0)
            return
        done = threading.Event()

        def run() -> None:
            try:
                fn()
            finally:
                with self._stuck_lock:
                    done.set()
                    self._stuck.discard(key)

        def abandon() -> None:
            with self._stuck_lock:
                if done.is_set():
                    return  # it ended meanwhile
                self._stuck.add(key)
            late = DeadlineExceeded(f"no answer {limit:.0f} s in; the cycle goes on without it")
            fail(late, limit)

        pool.submit(run, limit=limit, on_abandon=abandon)

    def _pool_for(self, size: int) -> WorkerPool:
        if self._pool is None or self._pool_size != size:
            if self._pool is not None:
                self._pool.close()
            self._pool = WorkerPool(size)
            self._pool_size = size
        return self._pool

    def close(self) -> None:
        """Stop the worker threads (idle ones; the pool is daemonic anyway)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    # -- the schedule ---------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Run cycles until ``stop``; a config change starts the next one at once."""
        # One slow account must not keep the whole exporter out of service.
        timer = threading.Timer(READY_AFTER, self._ready_anyway)
        timer.daemon = True
        timer.start()
        while not stop.is_set():
            self._wake.clear()
            began = time.monotonic()
            try:
                if not self.run_cycle(stop):
                    return
            except Exception as exc:
                log.error("refresh cycle failed: %s%s", describe_error(exc), frames(exc))
            interval = self.config.refresh_interval
            # Up to 5 % jitter so replicas and restarts do not synchronise.
            delay = max(0.0, interval * (1 + random.uniform(-0.05, 0.0)))
            remaining = delay - (time.monotonic() - began)
            if remaining > 0:
                _wait_either(stop, self._wake, remaining)

    def _ready_anyway(self) -> None:
        if not self.ready.is_set():
            log.warning(
                "first refresh cycle still running after %.0fs (%d targets stored so far); "
                "reporting ready: the rest appear as they finish",
                READY_AFTER,
                len(self.store),
            )
            self.ready.set()


def _count_and_log(
    counter: Any,
    target: Target,
    reason: str,
    exc: BaseException,
    what: str,
    level: int = logging.WARNING,
) -> None:
    """Count a failure of ``target`` by reason, and log it with AWS's words."""
    counter.labels(target.account, target.account_id, target.region, target.service, reason).inc()
    log.log(
        level,
        "%s: account=%s account_id=%s region=%s service=%s reason=%s: %s",
        what,
        target.account,
        target.account_id,
        target.region,
        target.service,
        reason,
        describe_error(exc),
    )


def _tag_group(target: Target) -> tuple[str, str, str]:
    return (target.account_id, target.region, target.service)


def _wait_either(a: threading.Event, b: threading.Event, timeout: float) -> None:
    until = time.monotonic() + timeout
    while not (a.is_set() or b.is_set()):
        left = until - time.monotonic()
        if left <= 0:
            return
        b.wait(min(left, 0.5))
