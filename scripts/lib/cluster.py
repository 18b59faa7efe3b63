"""The cluster topology of scripts/cluster: 3 RabbitMQ nodes, a Postgres primary with a
synchronous streaming standby, Redis with a replica and 3 Sentinels, all on loopback.

A typed program (STYLE rule 16) behind the glue script `scripts/cluster` and
`scripts/services cluster`. Every server runs from its own folder under
/var/tmp/sluice-<hash of repo path>/cluster (the postgres and rabbitmq users must be able to
traverse it; `.sluice/cluster` links to it). Each process's pid is recorded next to its data and
checked against the live command line before any signal, so `down` only ever stops what `up`
started. Ports come from SLUICE_CLUSTER_* variables with defaults that stay clear of the
single-node servers (see `Ports`).

Limits: loopback only; Debian 12 packages (postgresql 15, rabbitmq-server 3.10, redis 7);
runs as root (Postgres and RabbitMQ are started as their own users). Replication is trusted on
127.0.0.1 without a password: a development topology, not a production recipe.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HASH = hashlib.sha256(str(REPO).encode()).hexdigest()[:12]
BASE = Path(f"/var/tmp/sluice-{HASH}/cluster")
RMQ_BIN = Path("/usr/lib/rabbitmq/bin")
USER = "sluice"
PASSWORD = "sluice"
DATABASE = "sluice"
VHOST = "sluice"
MASTER_NAME = "sluice"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"cluster: {name}='{value}' is not a port number")
    return int(value)


@dataclass(frozen=True)
class Ports:
    """Where each server listens. RabbitMQ's Erlang distribution port is AMQP + 20000."""

    rabbit: tuple[int, ...] = field(default_factory=lambda: tuple(
        env_int(f"SLUICE_CLUSTER_RABBIT_PORT_{i}", 5690 + i) for i in (1, 2, 3)))
    pg_primary: int = field(default_factory=lambda: env_int("SLUICE_CLUSTER_PG_PRIMARY_PORT", 5451))
    pg_standby: int = field(default_factory=lambda: env_int("SLUICE_CLUSTER_PG_STANDBY_PORT", 5452))
    redis_master: int = field(default_factory=lambda: env_int("SLUICE_CLUSTER_REDIS_MASTER_PORT", 6401))
    redis_replica: int = field(default_factory=lambda: env_int("SLUICE_CLUSTER_REDIS_REPLICA_PORT", 6402))
    sentinels: tuple[int, ...] = field(default_factory=lambda: tuple(
        env_int(f"SLUICE_CLUSTER_SENTINEL_PORT_{i}", 26400 + i) for i in (1, 2, 3)))

    def urls(self) -> dict[str, str]:
        """The client URLs that reach the cluster (what `cluster env` prints)."""
        amqp = ",".join(f"127.0.0.1:{p}" for p in self.rabbit)
        sentinels = ",".join(f"127.0.0.1:{p}" for p in self.sentinels)
        return {
            # A 5 s heartbeat: a client on a node that hangs (rather than dies) leaves it after
            # two missed heartbeats, 10 s, instead of the default 60 s.
            "SLUICE_AMQP_URL": f"amqp://{USER}:{PASSWORD}@{amqp}/{VHOST}?heartbeat=5",
            "SLUICE_POSTGRES_URL": (f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.pg_primary},"
                                    f"127.0.0.1:{self.pg_standby}/{DATABASE}?target_session_attrs=read-write"),
            "SLUICE_REDIS_URL": f"redis-sentinel://{sentinels}/{MASTER_NAME}",
            "SLUICE_QUEUE_TYPE": "quorum",
        }


def say(text: str) -> None:
    print(text, flush=True)


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def run(args: list[str], *, user: str | None = None, env: dict[str, str] | None = None,
        cwd: Path | None = None, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    if user:
        args = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] + args
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run(args, env=full_env, cwd=str(cwd or "/"), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise SystemExit(f"cluster: {' '.join(args[-6:])} failed ({p.returncode}): {p.stderr.strip()[-800:]}")
    return p


def own_dir(path: Path, user: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, user, user)
    return path


# ------------------------------------------------------------------ processes by pid


@dataclass
class Proc:
    """One server process: its pid file and a fragment of its command line that proves it ours."""

    name: str
    pidfile: Path
    needle: str
    stop_signal: int = signal.SIGTERM
    #: The needle names this cluster's own data folder, so a process whose pid file is gone
    #: (RabbitMQ removes it as soon as it starts stopping) is still found by its command line.
    unique_needle: bool = False

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
            if self.needle in cmdline_of(pid):
                return pid
        except (OSError, ValueError, IndexError):
            pass
        if self.unique_needle:
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit() and self.needle in cmdline_of(int(entry.name)):
                    return int(entry.name)
        return None

    def signal(self, sig: int) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
            return True
        except ProcessLookupError:
            return False


def cmdline_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_all(procs: list[Proc], grace: float) -> None:
    """The stop signal to each live process, SIGKILL to what is left after `grace` seconds.
    Waits on the pids themselves (a pid file may vanish before its process exits)."""
    live: list[tuple[Proc, int]] = []
    for p in procs:
        pid = p.pid()
        if pid is not None:
            try:
                os.kill(pid, p.stop_signal)
                live.append((p, pid))
            except ProcessLookupError:
                pass

    def alive() -> list[tuple[Proc, int]]:
        return [(p, pid) for p, pid in live if p.needle in cmdline_of(pid)]
    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    for p, pid in alive():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 2
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in procs:
        if p.pid() is None:
            p.pidfile.unlink(missing_ok=True)


# ------------------------------------------------------------------ RabbitMQ


@dataclass
class RabbitNode:
    port: int
    peers: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"sluice{self.port}@localhost"

    @property
    def base(self) -> Path:
        return BASE / f"rabbitmq-{self.port}"

    @property
    def proc(self) -> Proc:
        return Proc(f"rabbitmq {self.port}", self.base / "rabbit.pid", f"-home {self.base}/home", unique_needle=True)

    def env(self) -> dict[str, str]:
        b = self.base
        return {
            "HOME": f"{b}/home", "RABBITMQ_NODENAME": self.name, "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000), "RABBITMQ_CONF_ENV_FILE": f"{b}/rabbitmq-env.conf",
            "RABBITMQ_CONFIG_FILE": f"{b}/rabbitmq.conf", "RABBITMQ_ADVANCED_CONFIG_FILE": f"{b}/advanced.config",
            "RABBITMQ_ENABLED_PLUGINS_FILE": f"{b}/enabled_plugins", "RABBITMQ_MNESIA_BASE": f"{b}/mnesia",
            "RABBITMQ_LOG_BASE": f"{b}/log", "RABBITMQ_LOGS": f"{b}/log/rabbit.log",
            "RABBITMQ_PID_FILE": f"{b}/rabbit.pid", "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    def prepare(self, cookie: str) -> None:
        b = own_dir(self.base, "rabbitmq")
        for d in ("home", "mnesia", "log"):
            own_dir(b / d, "rabbitmq")
        c = b / "home/.erlang.cookie"
        if not c.exists() or c.read_text() != cookie:
            c.unlink(missing_ok=True)
            c.write_text(cookie)
            shutil.chown(c, "rabbitmq", "rabbitmq")
            c.chmod(0o400)
        peers = "\n".join(f"cluster_formation.classic_config.nodes.{i + 1} = sluice{p}@localhost"
                          for i, p in enumerate(self.peers))
        (b / "rabbitmq.conf").write_text(f"""# Generated by scripts/cluster on every 'up'.
listeners.tcp.1 = 127.0.0.1:{self.port}
loopback_users = none
default_vhost = {VHOST}
default_user = {USER}
default_pass = {PASSWORD}
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.file.level = info
log.console = false
cluster_formation.peer_discovery_backend = classic_config
{peers}
""")
        (b / "enabled_plugins").write_text("[].\n")
        (b / "rabbitmq-env.conf").write_text("")
        for f in ("rabbitmq.conf", "enabled_plugins", "rabbitmq-env.conf"):
            shutil.chown(b / f, "rabbitmq", "rabbitmq")

    def start(self) -> None:
        (self.base / "rabbit.pid").unlink(missing_ok=True)
        log_file = self.base / "log/rabbit.log"
        if log_file.exists():
            log_file.replace(self.base / "log/rabbit.log.previous")
        log = open(self.base / "log/startup.log", "w")
        subprocess.Popen(
            ["setpriv", "--reuid=rabbitmq", "--regid=rabbitmq", "--init-groups", "--", "env"]
            + [f"{k}={v}" for k, v in self.env().items()] + [str(RMQ_BIN / "rabbitmq-server")],
            cwd=str(self.base), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def ctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return run([str(RMQ_BIN / "rabbitmqctl"), "-q", "-n", self.name, *args], user="rabbitmq", env=self.env(),
                   cwd=self.base, check=False, timeout=timeout)

    def log(self) -> str:
        try:
            return (self.base / "log/rabbit.log").read_text(errors="replace")
        except OSError:
            return ""

    def booted(self) -> bool:
        return "Server startup complete" in self.log()


def rabbits_clustered(nodes: list[RabbitNode]) -> bool:
    """Every node booted and every pair saw each other come up (read from the nodes' logs:
    rabbitmqctl starts a whole Erlang VM and takes 10-40 s on a loaded two-core machine)."""
    logs = {n.name: n.log() for n in nodes}
    if not all("Server startup complete" in text for text in logs.values()):
        return False
    for a in nodes:
        for b in nodes:
            if a is not b and f"rabbit on node {b.name} up" not in logs[a.name] \
                    and f"rabbit on node {a.name} up" not in logs[b.name]:
                return False
    return True


# ------------------------------------------------------------------ Postgres


def pg_bin() -> Path:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
    if not dirs:
        raise SystemExit("cluster: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(dirs[-1])


@dataclass
class PGNode:
    port: int
    role: str  # "primary" | "standby"

    @property
    def base(self) -> Path:
        return BASE / f"postgres-{self.port}"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def proc(self) -> Proc:
        # SIGINT: Postgres's fast shutdown (SIGTERM would wait for every client to leave).
        return Proc(f"postgres {self.port}", self.data / "postmaster.pid", f"-D {self.data}", signal.SIGINT)

    def conf(self, primary_port: int) -> str:
        common = f"""# Generated by scripts/cluster.
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.base}/run'
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
wal_level = replica
max_wal_senders = 10
wal_keep_size = '256MB'
hot_standby = on
wal_sender_timeout = '5s'
wal_receiver_timeout = '5s'
"""
        if self.role == "primary":
            # Synchronous: a commit returns only once the standby has flushed it, so a committed
            # ledger row survives a promote. (A promoted standby has no such setting: with no
            # standby left it must not wait for one.)
            return common + "synchronous_standby_names = 'sluice_standby'\nsynchronous_commit = on\n"
        return common + (f"primary_conninfo = 'host=127.0.0.1 port={primary_port} user=postgres "
                         f"application_name=sluice_standby'\n")

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run([str(pg_bin() / "pg_ctl"), "-D", str(self.data), *args], user="postgres", check=check, timeout=timeout)

    def psql(self, sql: str, db: str = "postgres") -> str:
        # synchronous_commit = local: bootstrap and inspection never wait for the standby.
        return run(["env", "PGOPTIONS=-c synchronous_commit=local", "psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", f"{self.base}/run", "-p", str(self.port),
                    "-U", "postgres", "-d", db, "-c", sql], user="postgres", timeout=30).stdout.strip()

    def write_conf(self, primary_port: int) -> None:
        (self.data / "sluice.conf").write_text(self.conf(primary_port))
        (self.data / "pg_hba.conf").write_text(
            "# Generated by scripts/cluster.\nlocal all all trust\n"
            "host replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        for f in ("sluice.conf", "pg_hba.conf"):
            shutil.chown(self.data / f, "postgres", "postgres")

    def start(self) -> None:
        own_dir(self.base / "run", "postgres")
        self.ctl("-l", str(self.base / "postgres.log"), "-w", "-t", "30", "-s", "start")


def pg_rejoin(old_primary: PGNode, new_primary: PGNode) -> None:
    """After a promote: the old primary's data is base-backed-up anew from the new primary and
    started as its synchronous standby, so the pair is whole again (roles swapped)."""
    stop_all([old_primary.proc], 5)
    shutil.rmtree(old_primary.data, ignore_errors=True)
    run([str(pg_bin() / "pg_basebackup"), "-D", str(old_primary.data), "-h", "127.0.0.1", "-p", str(new_primary.port),
         "-U", "postgres", "-X", "stream", "-c", "fast", "--no-sync"], user="postgres", timeout=120)
    (old_primary.data / "standby.signal").touch()
    shutil.chown(old_primary.data / "standby.signal", "postgres", "postgres")
    PGNode(old_primary.port, "standby").write_conf(new_primary.port)
    old_primary.start()
    new_primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'sluice_standby'")
    new_primary.psql("SELECT pg_reload_conf()")


def pg_create(primary: PGNode, standby: PGNode) -> None:
    """initdb the primary, start it, bootstrap the role, base-backup the standby and start it."""
    own_dir(primary.base, "postgres")
    own_dir(standby.base, "postgres")
    # After a promote (scripts/faults) the pair may be the other way round: the cluster's data is
    # disposable, so an unexpected layout is simply made anew.
    if (primary.data / "standby.signal").exists() or not (standby.data / "standby.signal").exists():
        shutil.rmtree(primary.data, ignore_errors=True)
        shutil.rmtree(standby.data, ignore_errors=True)
    if not (primary.data / "PG_VERSION").exists():
        shutil.rmtree(primary.data, ignore_errors=True)
        own_dir(primary.data, "postgres")
        run([str(pg_bin() / "initdb"), "-D", str(primary.data), "-U", "postgres", "--auth-local=trust",
             "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            user="postgres", timeout=120)
        with open(primary.data / "postgresql.conf", "a") as f:
            f.write("\ninclude_if_exists = 'sluice.conf'\n")
    primary.write_conf(primary.port)
    primary.start()
    u, p = USER, PASSWORD.replace("'", "''")
    primary.psql(f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{u}') THEN "
                 f"CREATE ROLE {u} SUPERUSER LOGIN PASSWORD '{p}'; END IF; END$$")
    if primary.psql(f"SELECT count(*) FROM pg_database WHERE datname = '{DATABASE}'") == "0":
        primary.psql(f"CREATE DATABASE {DATABASE} OWNER {u}")
    primary.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", db=DATABASE)
    if not (standby.data / "PG_VERSION").exists():
        shutil.rmtree(standby.data, ignore_errors=True)
        run([str(pg_bin() / "pg_basebackup"), "-D", str(standby.data), "-h", "127.0.0.1", "-p", str(primary.port),
             "-U", "postgres", "-X", "stream", "-c", "fast", "--no-sync"], user="postgres", timeout=120)
        (standby.data / "standby.signal").touch()
        shutil.chown(standby.data / "standby.signal", "postgres", "postgres")
    standby.write_conf(primary.port)
    standby.start()


# ------------------------------------------------------------------ Redis


@dataclass
class RedisNode:
    port: int
    kind: str  # "master" | "replica" | "sentinel"

    @property
    def base(self) -> Path:
        return BASE / f"redis-{self.port}"

    @property
    def proc(self) -> Proc:
        return Proc(f"redis {self.kind} {self.port}", self.base / "redis.pid", f"127.0.0.1:{self.port}")

    def start(self, master_port: int, as_replica: bool = False) -> None:
        """Starts the server; `as_replica` restarts a former master as a replica of `master_port`."""
        self.base.mkdir(parents=True, exist_ok=True)
        lines = [f"bind 127.0.0.1", f"port {self.port}", "protected-mode no", "daemonize yes",
                 f'pidfile "{self.base}/redis.pid"', f'logfile "{self.base}/redis.log"', f'dir "{self.base}"']
        if self.kind == "sentinel":
            conf = self.base / "sentinel.conf"
            # 1.5 s, not 1: on a loaded 2-core machine the Sentinels once took a replica they had
            # just promoted for down (no PING answer within 1 s of the switch) and failed over
            # again, to the old master restarted with a stale RDB, so two masters took writes
            # and one was resynced from the other (redis_failover: 740 statuses lost).
            lines += [f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} 2",
                      f"sentinel down-after-milliseconds {MASTER_NAME} 1500",
                      f"sentinel failover-timeout {MASTER_NAME} 5000",
                      f"sentinel parallel-syncs {MASTER_NAME} 1"]
            conf.write_text("\n".join(lines) + "\n")
            run(["redis-server", str(conf), "--sentinel"])
        else:
            lines += ['save ""', "appendonly no"]
            if self.kind == "replica" or as_replica:
                lines.append(f"replicaof 127.0.0.1 {master_port}")
            conf = self.base / "redis.conf"
            conf.write_text("\n".join(lines) + "\n")
            run(["redis-server", str(conf)])

    def cli(self, *args: str) -> str:
        return run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args], check=False, timeout=5).stdout.strip()


# ------------------------------------------------------------------ the topology


@dataclass
class Cluster:
    ports: Ports = field(default_factory=Ports)

    @property
    def rabbits(self) -> list[RabbitNode]:
        return [RabbitNode(p, self.ports.rabbit) for p in self.ports.rabbit]

    @property
    def pg(self) -> tuple[PGNode, PGNode]:
        return PGNode(self.ports.pg_primary, "primary"), PGNode(self.ports.pg_standby, "standby")

    @property
    def redis(self) -> list[RedisNode]:
        p = self.ports
        return ([RedisNode(p.redis_master, "master"), RedisNode(p.redis_replica, "replica")]
                + [RedisNode(s, "sentinel") for s in p.sentinels])

    def procs(self) -> list[Proc]:
        return [n.proc for n in self.redis] + [n.proc for n in self.rabbits] + [n.proc for n in self.pg]

    def check_ports_free(self) -> None:
        taken = []
        for n in self.rabbits:
            if n.proc.pid() is None and (port_open(n.port) or port_open(n.port + 20000)):
                taken.append(f"{n.port}/{n.port + 20000}")
        for pn in self.pg:
            if pn.proc.pid() is None and port_open(pn.port):
                taken.append(str(pn.port))
        for rn in self.redis:
            if rn.proc.pid() is None and port_open(rn.port):
                taken.append(str(rn.port))
        if taken:
            raise SystemExit(f"cluster: ports taken by servers this script did not start: {', '.join(taken)} "
                             "(set SLUICE_CLUSTER_*_PORT*)")

    def up(self) -> None:
        if os.geteuid() != 0:
            raise SystemExit("cluster: 'up' must run as root (Postgres and RabbitMQ run as their own users)")
        t0 = time.monotonic()
        self.check_ports_free()
        BASE.mkdir(parents=True, exist_ok=True)
        BASE.parent.chmod(0o755)
        BASE.chmod(0o755)
        link = REPO / ".sluice/cluster"
        link.parent.mkdir(exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(BASE)
        # RabbitMQ first: it is the slowest, and forms its cluster while the rest starts.
        cookie_file = BASE / "erlang.cookie"
        if not cookie_file.exists():
            cookie_file.write_text(hashlib.sha256(os.urandom(32)).hexdigest()[:40].upper())
            cookie_file.chmod(0o600)
        cookie = cookie_file.read_text()
        for n in self.rabbits:
            if n.proc.pid() is None:
                n.prepare(cookie)
                n.start()
        primary, standby = self.pg
        if primary.proc.pid() is None or standby.proc.pid() is None:
            stop_all([primary.proc, standby.proc], 5)
            pg_create(primary, standby)
        master = self.ports.redis_master
        for rn in self.redis:
            if rn.proc.pid() is None:
                rn.start(master)
        self.wait(lambda: all(port_open(n.port) for n in self.rabbits), 60, "RabbitMQ nodes listening")
        self.wait(lambda: rabbits_clustered(self.rabbits), 60, "RabbitMQ cluster of 3 running nodes")
        self.wait(lambda: primary.psql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1",
                  30, "Postgres standby streaming synchronously")
        self.wait(lambda: all(rn.cli("PING") == "PONG" for rn in self.redis), 10, "Redis and Sentinels answering")
        self.wait(lambda: self.redis[2].cli("SENTINEL", "get-master-addr-by-name", MASTER_NAME) != "", 10,
                  "Sentinel knows the master")
        say(f"cluster: up in {time.monotonic() - t0:.1f}s (data: {BASE})")
        for k, v in self.ports.urls().items():
            say(f"  export {k}='{v}'")

    def down(self) -> None:
        t0 = time.monotonic()
        stop_all(self.procs(), 3)
        say(f"cluster: down in {time.monotonic() - t0:.1f}s")

    def status(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for n in self.rabbits:
            rows.append({"server": "rabbitmq", "port": n.port, "pid": n.proc.pid(), "up": port_open(n.port)})
        for pn in self.pg:
            pid = pn.proc.pid()
            role = ""
            if pid is not None:
                try:
                    role = "standby" if pn.psql("SELECT pg_is_in_recovery()") == "t" else "primary"
                except SystemExit:
                    role = "?"
            rows.append({"server": "postgres", "port": pn.port, "pid": pid, "up": port_open(pn.port), "role": role})
        for rn in self.redis:
            pid = rn.proc.pid()
            role = rn.kind if rn.kind == "sentinel" else (rn.cli("ROLE").split("\n")[0] if pid else "")
            rows.append({"server": "redis", "port": rn.port, "pid": pid, "up": port_open(rn.port), "role": role})
        return rows

    @staticmethod
    def wait(check, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if check():
                    return
            except SystemExit:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"cluster: timed out after {timeout:.0f}s waiting for: {what} (logs under {BASE})")
            time.sleep(0.2)


def main(argv: list[str]) -> int:
    usage = "usage: scripts/cluster up|down|status|env"
    if len(argv) != 1:
        print(usage, file=sys.stderr)
        return 2
    c = Cluster()
    if argv[0] == "up":
        c.up()
    elif argv[0] == "down":
        c.down()
    elif argv[0] == "status":
        for r in c.status():
            print(f"{r['server']:<9} {'up' if r['up'] else 'down':<5} 127.0.0.1:{r['port']:<6} "
                  f"{('pid ' + str(r['pid'])) if r['pid'] else 'not ours':<12} {r.get('role', '')}")
    elif argv[0] == "env":
        for k, v in c.ports.urls().items():
            print(f"export {k}='{v}'")
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
