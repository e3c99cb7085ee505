"""Sharding: ``--shard i --total-shards n`` splits accounts by
``int(sha256(account_id)) mod n`` (DESIGN §8), and shards computed in
separate processes (as separate replicas are) partition the accounts exactly.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys

import pytest

from exporter.refresher import owns
from tests.support import ROOT

_RANDOM = random.Random(2026)  # fixed: the same 1000 ids on every run
ACCOUNTS = sorted({f"{_RANDOM.randrange(10**12):012d}" for _ in range(1000)})

# One replica's decision, as the exporter makes it: the real flag parser, then owns().
SHARD_PROCESS = """
import sys
from exporter.commands.daemon import serve_parser
from exporter.refresher import owns
opts = serve_parser().parse_args(sys.argv[1:])
for line in sys.stdin:
    account = line.strip()
    if account and owns(account, opts.shard, opts.total_shards):
        print(account)
"""


def run_shards(total: int, accounts: list[str], hash_seed_base: int = 0) -> list[list[str]]:
    """Each shard's accounts, every shard computed in its own process at the same time.

    Each process gets a different PYTHONHASHSEED, so a shard choice that used
    Python's salted ``hash()`` would disagree between processes.
    """
    processes = []
    for shard in range(total):
        env = {**os.environ, "PYTHONHASHSEED": str(hash_seed_base + shard + 1)}
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    SHARD_PROCESS,
                    f"--shard={shard}",
                    f"--total-shards={total}",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=env,
            )
        )
    owned = []
    for process in processes:
        out, _ = process.communicate("\n".join(accounts) + "\n", timeout=120)
        assert process.returncode == 0
        owned.append(out.split())
    return owned


@pytest.mark.parametrize("total", [1, 2, 3, 5, 8])
def test_shards_in_separate_processes_partition_the_accounts_exactly(total: int) -> None:
    owned = run_shards(total, ACCOUNTS)

    everything = [account for shard in owned for account in shard]
    assert sorted(everything) == ACCOUNTS  # union is all, and nothing twice
    assert len(set(everything)) == len(everything)
    for shard, accounts in enumerate(owned):
        assert set(accounts) == {a for a in ACCOUNTS if owns(a, shard, total)}
        # sha256 spreads 1000 accounts evenly: no shard idles or carries double.
        assert 0.6 * len(ACCOUNTS) / total <= len(accounts) <= 1.4 * len(ACCOUNTS) / total


def test_a_replica_decides_the_same_whatever_its_process_hash_seed() -> None:
    first = run_shards(3, ACCOUNTS, hash_seed_base=0)
    again = run_shards(3, ACCOUNTS, hash_seed_base=100)

    assert first == again


def test_owns_is_sha256_of_the_account_id_modulo_the_shard_count() -> None:
    for account in ACCOUNTS:
        digest = int(hashlib.sha256(account.encode()).hexdigest(), 16)
        for total in range(2, 8):
            assert [s for s in range(total) if owns(account, s, total)] == [digest % total]


def test_assignments_are_pinned_so_an_upgrade_never_moves_accounts() -> None:
    # Values of int(sha256(id)) % n, written down once: a changed hash would
    # silently move accounts between replicas during a rolling upgrade.
    pinned = {
        ("111111111111", 3): 2,
        ("222222222222", 3): 2,
        ("123456789012", 3): 0,
        ("111111111111", 10): 7,
        ("222222222222", 10): 2,
        ("123456789012", 10): 6,
    }
    for (account, total), shard in pinned.items():
        assert owns(account, shard, total), (account, total)


def test_a_single_shard_owns_every_account() -> None:
    assert all(owns(account, 0, 1) for account in ACCOUNTS)
    assert owns("", 0, 1)
