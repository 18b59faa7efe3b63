"""The fault suite behind scripts/faults: each scenario runs Sluice on the cluster topology
(scripts/lib/cluster.py), injects one kind of fault while jobs flow, and counts what happened
to every job whose enqueue was confirmed, in Jepsen's vocabulary.

Load and count are Sluice's own code (`sluice-dev faults produce|verify`: the real Producer,
the ledger, Redis, the dead-letter queue); workers are real `sluice worker` processes. This
program only starts and kills processes, by the pids it recorded, and measures time. Every
scenario uses its own ledger schema, queue prefix and Redis prefix, removed afterwards. A seed
fixes every random choice (victims, jitter). Loopback only.

A scenario passes when lost = 0, completed_twice = 0 and dead_lettered = 0 (plus its own
condition: Redis statuses complete after a Redis failover).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cluster as topo  # noqa: E402
from tcp_proxy import FaultProxy  # noqa: E402

SCENARIOS = ["worker_kill_storm", "rabbit_node_kill", "postgres_promote", "redis_failover",
             "proxy_latency", "proxy_blackhole", "proxy_reset", "rabbit_leader_freeze"]


@dataclass
class Outcome:
    scenario: str
    attempted: int = 0
    confirmed: int = 0
    completed: int = 0
    lost: int = 0
    completed_twice: int = 0
    dead_lettered: int = 0
    recovery_s: float = 0.0
    redis_missing: int = 0
    seconds: float = 0.0
    ok: bool = False
    note: str = ""

    def line(self) -> str:
        return (f"{self.scenario}: attempted {self.attempted} confirmed {self.confirmed} completed {self.completed} "
                f"lost {self.lost} completed_twice {self.completed_twice} dead_lettered {self.dead_lettered} "
                f"recovery_s {self.recovery_s:.2f} redis_missing {self.redis_missing} ({self.seconds:.0f}s) "
                f"{'OK' if self.ok else 'FAIL'}{' — ' + self.note if self.note else ''}")


@dataclass
class Plan:
    """How big a scenario runs: `--quick` shrinks jobs and holds."""

    jobs: int
    rate: int
    workers: int = 2
    every_s: float = 15.0
    batch: int = 20


class Run:
    """One scenario's processes: workers and the producer, its names, its measurements."""

    def __init__(self, scenario: str, seed: int, bins: Path, urls: dict[str, str], workdir: Path) -> None:
        self.scenario = scenario
        self.rng = random.Random(f"{seed}:{scenario}")
        self.bins = bins
        tag = f"faults_{scenario}_{seed}_{os.getpid()}"
        self.env = dict(os.environ)
        self.env.update(urls)
        self.env.update({"SLUICE_SCHEMA": tag, "SLUICE_QUEUE_PREFIX": tag, "SLUICE_REDIS_PREFIX": f"{tag}:",
                         "SLUICE_QUEUE_TYPE": "quorum", "SLUICE_LOG_LEVEL": os.environ.get("SLUICE_LOG_LEVEL", "warning")})
        self.dir = workdir / tag
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.worker_count = 0
        self.samples: list[tuple[float, int]] = []
        self.faults: list[float] = []
        self._sampling = False
        #: Seconds `verify` waits for the confirmed jobs to finish after the load ends.
        self.verify_timeout = 120

    def sluice(self, *args: str, dev: bool = False, timeout: float = 300) -> str:
        exe = self.bins / ("sluice-dev" if dev else "sluice")
        p = subprocess.run([str(exe), *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                           cwd=str(topo.REPO))
        if p.returncode != 0:
            raise RuntimeError(f"{exe.name} {' '.join(args[:2])} failed ({p.returncode}): {p.stderr.strip()[-1500:]}")
        return p.stdout

    def start_worker(self) -> None:
        n = self.worker_count
        self.worker_count += 1
        log = open(self.dir / f"worker-{n}.log", "ab")
        self.workers.append(subprocess.Popen(
            [str(self.bins / "sluice"), "worker", "--classes", "analytics", "--concurrency", "16", "--prefetch", "32",
             "--lease", "6s", "--rescue-interval", "2s", "--grace", "2s"],
            env=self.env, cwd=str(topo.REPO), stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def start_workers(self, n: int) -> None:
        """Starts `n` workers and checks, 3 s later, that they all still run."""
        for _ in range(n):
            self.start_worker()
        time.sleep(3)
        dead = [i for i, p in enumerate(self.workers) if p.poll() is not None]
        if dead:
            tail = (self.dir / f"worker-{dead[0]}.log").read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"worker {dead[0]} exited at start: {' '.join(tail)[:400]}")

    def kill_worker(self, index: int) -> None:
        p = self.workers[index]
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()

    def stop_workers(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.workers:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()

    # Completed jobs over time, from the ledger (psql to whichever server is primary).
    def completed_now(self) -> int | None:
        url = self.env["SLUICE_POSTGRES_URL"]
        schema = self.env["SLUICE_SCHEMA"]
        try:
            p = subprocess.run(["psql", url, "-X", "-At", "-c",
                                f"SELECT count(*) FROM {schema}.jobs WHERE state = 'completed'"],
                               capture_output=True, text=True, timeout=3, env={**os.environ, "PGCONNECT_TIMEOUT": "2"})
            return int(p.stdout.strip()) if p.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            return None

    def sample(self) -> None:
        self._sampling = True

        def loop() -> None:
            while self._sampling:
                n = self.completed_now()
                if n is not None:
                    self.samples.append((time.monotonic(), n))
                time.sleep(0.25)
        threading.Thread(target=loop, daemon=True).start()

    def recovery(self, rate: float, confirmed: int) -> float:
        """Worst time, over the faults, from a fault until completions run at ≥ 80 % of `rate`
        over a 1 s window again (or until the next completion, when the flow ended first; 0 when
        all `confirmed` jobs had completed by then)."""
        worst = 0.0
        for t in self.faults:
            after = [(ts, n) for ts, n in self.samples if ts >= t]
            recovered = None
            for i, (ts, n) in enumerate(after):
                window = [(t2, n2) for t2, n2 in after[i:] if t2 - ts <= 1.0]
                if len(window) >= 2 and window[-1][0] - ts >= 0.7:
                    if (window[-1][1] - n) / (window[-1][0] - ts) >= 0.8 * rate:
                        recovered = ts - t
                        break
            if recovered is None:
                # The flow may have ended: the first sample after the fault showing progress. A
                # fault after the last job completed left nothing to recover (0): counting it to
                # the last sample measured how long the verification ran (~15-18 s in
                # `worker_kill_storm --quick` when the last kill fell after the last completion).
                base = after[0][1] if after else 0
                moved = next((ts for ts, n in after if n > base), None)
                if moved is not None:
                    recovered = moved - t
                elif after and base >= confirmed:
                    recovered = 0.0
                else:
                    recovered = after[-1][0] - t if after else 0.0
            worst = max(worst, recovered)
        return worst

    def produce(self, plan: Plan) -> subprocess.Popen[bytes]:
        out = open(self.dir / "produce.json", "wb")
        return subprocess.Popen(
            [str(self.bins / "sluice-dev"), "faults", "produce", "--jobs", str(plan.jobs), "--rate", str(plan.rate),
             "--batch", str(plan.batch), "--ids", str(self.dir / "ids.txt")],
            env=self.env, cwd=str(topo.REPO), stdout=out, stderr=open(self.dir / "produce.log", "wb"),
            start_new_session=True)

    def finish(self, outcome: Outcome, producer: subprocess.Popen[bytes], rate: float) -> Outcome:
        producer.wait(timeout=1800)
        produced = json.loads((self.dir / "produce.json").read_text() or "{}")
        verified = json.loads(self.sluice("faults", "verify", "--ids", str(self.dir / "ids.txt"),
                                          "--timeout", str(self.verify_timeout), dev=True, timeout=self.verify_timeout + 300))
        self._sampling = False
        outcome.attempted = produced.get("attempted", 0)
        outcome.confirmed = verified["confirmed"]
        outcome.completed = verified["completed"]
        outcome.lost = verified["lost"]
        outcome.completed_twice = verified["completed_twice"]
        outcome.dead_lettered = verified["dead_lettered"] + max(0, verified["dead_queue_depth"])
        outcome.redis_missing = verified["redis_missing"]
        outcome.recovery_s = round(self.recovery(rate, outcome.confirmed), 2)
        if outcome.lost or outcome.dead_lettered:
            outcome.note += f"{'; ' if outcome.note else ''}ledger states of the confirmed jobs: {verified['states']}"
        outcome.ok = outcome.lost == 0 and outcome.completed_twice == 0 and outcome.dead_lettered == 0 \
            and outcome.confirmed > 0 and outcome.completed == outcome.confirmed
        return outcome

    def cleanup(self, keep: bool = False) -> None:
        self._sampling = False
        self.stop_workers()
        if keep:
            print(f"faults: kept schema/queue prefix {self.env['SLUICE_SCHEMA']}, logs in {self.dir}", file=sys.stderr)
            return
        try:
            self.sluice("faults", "clean", dev=True, timeout=120)
        except Exception as e:  # cleanup is best effort; the names are unique per run
            print(f"faults: cleanup of {self.scenario}: {e}", file=sys.stderr)


def at(start: float, offset: float) -> None:
    delay = start + offset - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# ------------------------------------------------------------------ scenarios


def worker_kill_storm(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    """A worker kill -9'ed every 5 s (2.5 s quick) while jobs flow; prefetch 32."""
    plan = Plan(jobs=3000 if quick else 45000, rate=100 if quick else 150, workers=3, every_s=2.5 if quick else 5.0)
    run.start_workers(plan.workers)
    run.sample()
    producer = run.produce(plan)
    start = time.monotonic()
    k = 1
    while producer.poll() is None:
        at(start, k * plan.every_s + run.rng.uniform(-0.5, 0.5))
        if producer.poll() is not None:
            break
        live = [i for i, p in enumerate(run.workers) if p.poll() is None]
        victim = run.rng.choice(live)
        run.kill_worker(victim)
        run.faults.append(time.monotonic())
        run.start_worker()
        k += 1
    return run.finish(Outcome("worker_kill_storm", note=f"{k - 1} workers killed"), producer, plan.rate)


def rabbit_node_kill(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    """A random RabbitMQ node kill -9'ed every 15 s and restarted 3 s later."""
    plan = Plan(jobs=2000 if quick else 10000, rate=100 if quick else 300, workers=2, every_s=8 if quick else 15)
    run.start_workers(plan.workers)
    run.sample()
    producer = run.produce(plan)
    start = time.monotonic()
    k = 1
    killed = []
    while producer.poll() is None:
        at(start, k * plan.every_s)
        if producer.poll() is not None:
            break
        node = run.rng.choice(c.rabbits)
        node.proc.signal(signal.SIGKILL)
        run.faults.append(time.monotonic())
        killed.append(node.port)
        time.sleep(3)
        node.start()
        k += 1
    outcome = run.finish(Outcome("rabbit_node_kill", note=f"killed nodes {killed}"), producer, plan.rate)
    topo.Cluster.wait(lambda: all(topo.port_open(n.port) for n in c.rabbits), 60, "RabbitMQ nodes back")
    return outcome


def postgres_promote(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    """The primary stopped (immediate) and the standby promoted mid-flow."""
    plan = Plan(jobs=1500 if quick else 6000, rate=100 if quick else 200, workers=2)
    primary, standby = c.pg
    if standby.psql("SELECT pg_is_in_recovery()") != "t":
        primary, standby = standby, primary
    run.start_workers(plan.workers)
    run.sample()
    producer = run.produce(plan)
    start = time.monotonic()
    at(start, plan.jobs / plan.rate / 3)
    primary.ctl("-m", "immediate", "-s", "stop", check=False)
    standby.ctl("-s", "promote", "-w")
    run.faults.append(time.monotonic())
    outcome = run.finish(Outcome("postgres_promote", note=f"promoted :{standby.port}"), producer, plan.rate)
    topo.pg_rejoin(primary, standby)
    return outcome


def redis_failover(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    """The Redis master kill -9'ed; Sentinel promotes the replica; the old master rejoins."""
    plan = Plan(jobs=1500 if quick else 6000, rate=100 if quick else 200, workers=2)
    sentinel = c.redis[2]
    host_port = sentinel.cli("SENTINEL", "get-master-addr-by-name", topo.MASTER_NAME).split()
    old = next(r for r in c.redis if r.kind != "sentinel" and r.port == int(host_port[1]))
    run.start_workers(plan.workers)
    run.sample()
    producer = run.produce(plan)
    start = time.monotonic()
    at(start, plan.jobs / plan.rate / 3)
    old.proc.signal(signal.SIGKILL)
    t_kill = time.monotonic()
    wall_kill_ms = int(time.time() * 1000)
    run.faults.append(t_kill)
    # Statuses reach the new master: the first events entry written after the kill.
    events_key = run.env["SLUICE_REDIS_PREFIX"] + "events"
    status_back = None
    deadline = t_kill + 60
    while time.monotonic() < deadline and status_back is None:
        addr = sentinel.cli("SENTINEL", "get-master-addr-by-name", topo.MASTER_NAME).split()
        if len(addr) == 2 and int(addr[1]) != old.port:
            last = topo.RedisNode(int(addr[1]), "master").cli("XREVRANGE", events_key, "+", "-", "COUNT", "1")
            first = last.split("\n")[0] if last else ""
            if "-" in first and int(first.split("-")[0]) > wall_kill_ms:
                status_back = time.monotonic() - t_kill
        time.sleep(0.1)
    new_port = int(sentinel.cli("SENTINEL", "get-master-addr-by-name", topo.MASTER_NAME).split()[1])
    old.start(new_port, as_replica=True)
    outcome = run.finish(Outcome("redis_failover"), producer, plan.rate)
    outcome.recovery_s = round(status_back if status_back is not None else 60.0, 2)
    outcome.note = f"statuses on the new master :{new_port} {outcome.recovery_s:.1f}s after the kill" \
        + (f"; {outcome.note}" if outcome.note else "")
    outcome.ok = outcome.ok and outcome.redis_missing == 0 and status_back is not None and status_back <= 5.0
    return outcome


def proxied(run: Run, c: topo.Cluster, quick: bool, name: str,
            fault: Callable[[list[FaultProxy]], None], heal: Callable[[list[FaultProxy]], None], hold: float,
            note: str) -> Outcome:
    """Every client link through a TCP fault proxy: RabbitMQ (one node), Postgres (the primary),
    Redis (the master). `fault` is applied to all three for `hold` seconds, then `heal`."""
    primary = next(p for p in c.pg if p.psql("SELECT pg_is_in_recovery()") == "f")
    addr = c.redis[2].cli("SENTINEL", "get-master-addr-by-name", topo.MASTER_NAME).split()
    targets = [c.rabbits[0].port, primary.port, int(addr[1])]
    proxies = [FaultProxy(("127.0.0.1", t)) for t in targets]
    for p in proxies:
        p.start()
    run.env["SLUICE_AMQP_URL"] = f"amqp://{topo.USER}:{topo.PASSWORD}@127.0.0.1:{proxies[0].port}/{topo.VHOST}?heartbeat=5"
    run.env["SLUICE_POSTGRES_URL"] = (f"postgresql://{topo.USER}:{topo.PASSWORD}@127.0.0.1:{proxies[1].port}/"
                                      f"{topo.DATABASE}?connect_timeout=5")
    run.env["SLUICE_REDIS_URL"] = f"redis://127.0.0.1:{proxies[2].port}/0"
    plan = Plan(jobs=1500 if quick else 4000, rate=100 if quick else 200, workers=2)
    if name == "proxy_latency":
        # Every enqueue batch pays several round trips of +400 ms: bigger batches, fewer jobs.
        plan = Plan(jobs=1000 if quick else 3000, rate=100 if quick else 200, workers=2, batch=100)
    try:
        run.start_workers(plan.workers)
        run.sample()
        producer = run.produce(plan)
        start = time.monotonic()
        at(start, 3)
        fault(proxies)
        run.faults.append(time.monotonic())
        time.sleep(hold)
        heal(proxies)
        if hold > 0:
            run.faults[-1] = time.monotonic()  # recovery counts from the end of the fault
        outcome = run.finish(Outcome(name, note=note), producer, plan.rate)
    finally:
        for p in proxies:
            p.stop()
    return outcome


def proxy_latency(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    def on(ps: list[FaultProxy]) -> None:
        for p in ps:
            p.latency = 0.2
    return proxied(run, c, quick, "proxy_latency", on, lambda ps: None, 0, "+200 ms each way on every link for the whole run")


def proxy_blackhole(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    def on(ps: list[FaultProxy]) -> None:
        for p in ps:
            p.blackhole = True

    def off(ps: list[FaultProxy]) -> None:
        for p in ps:
            p.blackhole = False
    hold = 5 if quick else 10
    return proxied(run, c, quick, "proxy_blackhole", on, off, hold,
                   f"every link stalls (no byte forwarded) for {hold}s, then heals; recovery_s from the heal")


def proxy_reset(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    def on(ps: list[FaultProxy]) -> None:
        for p in ps:
            p.reset_all()
    return proxied(run, c, quick, "proxy_reset", on, lambda ps: None, 0, "every open connection reset (RST) mid-stream")


def rabbit_leader_freeze(run: Run, c: topo.Cluster, quick: bool) -> Outcome:
    """The RabbitMQ node most clients use frozen (SIGSTOP) for 30 s (10 s quick), then resumed."""
    plan = Plan(jobs=2000 if quick else 6000, rate=100 if quick else 150, workers=2)
    run.start_workers(plan.workers)
    run.sample()
    producer = run.produce(plan)
    start = time.monotonic()
    at(start, 3)
    node = c.rabbits[0]
    hold = 10 if quick else 30
    node.proc.signal(signal.SIGSTOP)
    run.faults.append(time.monotonic())
    try:
        time.sleep(hold)
    finally:
        node.proc.signal(signal.SIGCONT)
    return run.finish(Outcome("rabbit_leader_freeze", note=f"node :{node.port} frozen {hold}s (the first node of the URL, "
                                                         "where the queues were declared: their leader)"), producer, plan.rate)


RUNNERS: dict[str, Callable[[Run, topo.Cluster, bool], Outcome]] = {
    "worker_kill_storm": worker_kill_storm, "rabbit_node_kill": rabbit_node_kill,
    "postgres_promote": postgres_promote, "redis_failover": redis_failover,
    "proxy_latency": proxy_latency, "proxy_blackhole": proxy_blackhole, "proxy_reset": proxy_reset,
    "rabbit_leader_freeze": rabbit_leader_freeze,
}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="scripts/faults", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer jobs and shorter holds (CI)")
    ap.add_argument("--json", action="store_true", help="one JSON object per scenario line")
    ap.add_argument("--only", action="append", choices=SCENARIOS, help="run only this scenario (repeatable)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep each scenario's schema, queues and Redis keys (to inspect)")
    ap.add_argument("--bin-dir", default=os.environ.get("SLUICE_BIN_DIR", str(topo.REPO / ".build/debug")))
    args = ap.parse_args(argv)
    bins = Path(args.bin_dir)
    for exe in ("sluice", "sluice-dev"):
        if not (bins / exe).exists():
            print(f"faults: {bins / exe} missing; run `swift build` (or pass --bin-dir)", file=sys.stderr)
            return 2
    c = topo.Cluster()
    if any(p.pid() is None for p in c.procs()):
        c.up()
    urls = c.ports.urls()
    workdir = topo.BASE / "faults"
    failed = False
    for name in args.only or SCENARIOS:
        run = Run(name, args.seed, bins, urls, workdir)
        run.verify_timeout = 120 if args.quick else 300
        t0 = time.monotonic()
        try:
            run.sluice("migrate")
            outcome = RUNNERS[name](run, c, args.quick)
        except (Exception, SystemExit) as e:
            outcome = Outcome(name, note=f"error: {e}"[:600])
        finally:
            run.cleanup(keep=args.keep)
        outcome.seconds = time.monotonic() - t0
        failed = failed or not outcome.ok
        print(json.dumps(asdict(outcome)) if args.json else outcome.line(), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
