"""A throwaway PostgreSQL cluster for test runs: started, used and removed by one command.

    python -m tests.support.pgcluster [--require] -- CMD ARGS...  # CMD gets DATABASE_URL
    python -m tests.support.pgcluster --check                      # start, connect, stop
    PGCLUSTER_DURABLE=1 python -m tests.support.pgcluster -- ...   # fsync and synchronous commit on,
                                                                   # as in production (benchmarks)

Exit status is CMD's. Without server binaries the run is skipped (one line on stderr, exit 0)
unless --require or LEADHUB_REQUIRE_POSTGRES=1, which make it an error (exit 3, also used when the
cluster fails to start). With TEST_DATABASE_URL set no cluster is started: CMD gets
DATABASE_URL=$TEST_DATABASE_URL. Standard library only.
"""
from __future__ import annotations

import argparse, contextlib, glob, os, pwd, shutil, signal, socket, subprocess, sys, tempfile
import threading, urllib.parse
from typing import Iterator

DB_NAME = "leadhub"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
NOT_FOUND = "PostgreSQL server binaries not found (looked on PATH and /usr/lib/postgresql/*/bin)"
# Appended to postgresql.conf rather than passed via `pg_ctl -o`, whose string goes through a shell.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'", "max_connections": "100",
    # Durability is pointless for a cluster that is deleted in a few minutes; these make it fast.
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
}
DURABLE_SETTINGS = {"listen_addresses": SETTINGS["listen_addresses"], "max_connections": SETTINGS["max_connections"]}


def find_pg_bin() -> str | None:
    """Directory holding initdb, pg_ctl and postgres: from PATH first, else the newest
    /usr/lib/postgresql/*/bin. None if neither has them all."""
    initdb = shutil.which("initdb")
    # Resolve symlinks first: here /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb links
    # only the three server tools, and createdb must come from the server's own directory.
    on_path = [os.path.dirname(os.path.realpath(initdb)), os.path.dirname(initdb)] if initdb else []
    version = lambda d: [int(x) if x.isdigit() else -1 for x in d.split("/")[-2].split(".")]
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    return next((d for d in on_path + debian
                 if all(os.access(os.path.join(d, t), os.X_OK) for t in SERVER_TOOLS)), None)


def _free_port() -> int:
    # Ask the kernel for an unused port. Tiny race until the server binds it; fine for tests.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through `finally`, so the cluster gets removed


@contextlib.contextmanager
def _cleanup_signals() -> Iterator[None]:
    """While the cluster lives, SIGTERM unwinds like Ctrl-C does (the default would kill us
    without running `finally`). Only in the main thread, and never over someone else's handler."""
    main = threading.current_thread() is threading.main_thread()
    prev = signal.getsignal(signal.SIGTERM) if main else None
    if prev is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    finally:
        if prev is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, prev)


@contextlib.contextmanager
def throwaway_cluster(*, bin_dir: str | None = None) -> Iterator[str]:
    """Start a private cluster and yield ``postgres://postgres@127.0.0.1:PORT/leadhub``.

    initdb (trust auth, UTF8, no fsync) into a fresh temp dir; the server listens only on
    127.0.0.1 at a free port, with its unix socket inside the temp dir. On leaving the block,
    however it is left (return, exception, Ctrl-C, SIGTERM), the server is stopped with
    ``pg_ctl stop -m immediate`` and the directory removed. Raises RuntimeError (after printing
    the server log tail to stderr) if the cluster cannot be started.
    """
    bin_dir = bin_dir or find_pg_bin()
    if not bin_dir:
        raise RuntimeError(NOT_FOUND)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # initdb and pg_ctl refuse to run as root ("cannot be run as root"), and CI runs as root,
        # so run them as the `postgres` OS user, in a directory that user owns.
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("running as root, and initdb refuses to run as root; create a "
                               "'postgres' OS user (useradd -r postgres) or run as non-root"
                               ) from None
        # runuser lives in /usr/sbin, which a trimmed PATH may leave out.
        runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
        if not runuser:
            raise RuntimeError("running as root needs `runuser` (util-linux) to drop to 'postgres'")
        prefix = [runuser, "-u", "postgres", "--"]

    def run(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        # Own process group, so an interrupted step can be killed whole: killing only runuser
        # would leave initdb writing into the directory we are about to delete.
        # cwd=tmp: after runuser, a cwd like /root is unreadable and the tools complain about it.
        proc = subprocess.Popen([*prefix, os.path.join(bin_dir, tool), *args], cwd=tmp, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=120)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        if check and proc.returncode:  # show the tool's output and the server log, then give up
            tail = (out + err).strip().splitlines()[-20:]
            if os.path.exists(log):
                with open(log, errors="replace") as f:
                    tail += ["--- server log tail ---", *f.read().splitlines()[-40:]]
            print("\n".join(f"pgcluster: {line}" for line in tail), file=sys.stderr)
            raise RuntimeError(f"PostgreSQL cluster failed to start: {tool} exited "
                               f"{proc.returncode}")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    tmp = log = None
    with _cleanup_signals():
        try:
            # /tmp, not $TMPDIR: the postgres user must be able to traverse every parent dir.
            tmp = tempfile.mkdtemp(prefix="pgcluster-", dir="/tmp" if prefix else None)
            os.chmod(tmp, 0o700)
            if prefix:
                os.chown(tmp, user.pw_uid, user.pw_gid)
            data, log, port = f"{tmp}/data", f"{tmp}/server.log", _free_port()
            run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale",
                "--no-sync")
            durable = os.environ.get("PGCLUSTER_DURABLE") == "1"  # production's fsync, for benchmarks
            conf = {**(DURABLE_SETTINGS if durable else SETTINGS), "port": str(port),
                    "unix_socket_directories": f"'{tmp}'"}
            with open(os.path.join(data, "postgresql.conf"), "a") as f:
                f.write("\n# pgcluster\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()))
            run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", log)
            # createdb from the server's own bin dir: /usr/bin/createdb may be a version wrapper.
            run("createdb", "-h", tmp, "-p", str(port), "-U", "postgres", DB_NAME)
            yield f"postgres://postgres@127.0.0.1:{port}/{DB_NAME}"
        finally:
            if tmp:
                _teardown(run, tmp)


def _teardown(run, tmp: str) -> None:
    # A second Ctrl-C/SIGTERM must not interrupt the cleanup and strand a running server.
    main = threading.current_thread() is threading.main_thread()
    sigs = (signal.SIGINT, signal.SIGTERM) if main else ()
    saved = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        data, pidfile = f"{tmp}/data", f"{tmp}/data/postmaster.pid"
        stop = ("pg_ctl", "stop", "-w", "-m", "immediate", "-D", data)
        if os.path.exists(pidfile) and run(*stop, check=False).returncode:
            with contextlib.suppress(OSError, ValueError), open(pidfile) as f:  # last resort
                os.kill(int(f.readline()), signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(tmp):
            print(f"pgcluster: warning: could not remove {tmp}", file=sys.stderr)
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def _run_forwarding(cmd: list[str], env: dict[str, str]) -> int:
    """Run CMD, passing SIGTERM (and a SIGINT not already sent by the terminal) on to it."""
    try:
        child = subprocess.Popen(cmd, env=env)
    except OSError as exc:
        print(f"pgcluster: cannot run {cmd[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127  # what a shell returns for a missing command

    def forward(signum, frame):
        if signum == signal.SIGINT:
            with contextlib.suppress(OSError):  # Ctrl-C hits the whole foreground group already
                if os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp():
                    return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    saved = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        rc = child.wait()
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
    return 128 - rc if rc < 0 else rc  # killed by signal N -> 128+N, like a shell


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cut = argv.index("--") if "--" in argv else len(argv)
    own, cmd = argv[:cut], argv[cut + 1:]
    ap = argparse.ArgumentParser(prog="python -m tests.support.pgcluster", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--require", action="store_true", help="fail (exit 3) instead of skipping")
    ap.add_argument("--check", action="store_true", help="start a cluster, connect, stop")
    args = ap.parse_args(own)
    if not args.check and not cmd:
        ap.error("give a command after --, or --check")
    env = dict(os.environ)
    if not args.check and env.get("TEST_DATABASE_URL"):
        return _run_forwarding(cmd, {**env, "DATABASE_URL": env["TEST_DATABASE_URL"]})
    bin_dir = find_pg_bin()
    if not bin_dir:
        if args.require or env.get("LEADHUB_REQUIRE_POSTGRES") == "1":
            print(f"pgcluster: error: {NOT_FOUND}", file=sys.stderr)
            return 3
        print(f"pgcluster: {NOT_FOUND}; skipping the PostgreSQL run", file=sys.stderr)
        return 0
    try:
        with throwaway_cluster(bin_dir=bin_dir) as url:
            if not args.check:
                return _run_forwarding(cmd, {**env, "DATABASE_URL": url})
            psql = next((p for p in (os.path.join(bin_dir, "psql"), shutil.which("psql"))
                         if p and os.access(p, os.X_OK)), None)
            if psql:  # a real query; psql runs fine as root, only the server tools refuse it
                q = subprocess.run([psql, url, "-XtAqc", "select 1"], capture_output=True,
                                   text=True)
                if q.stdout.strip() != "1":
                    raise RuntimeError(f"psql check failed: {q.stderr.strip()}")
            else:
                socket.create_connection(("127.0.0.1", urllib.parse.urlsplit(url).port), 5).close()
            print(f"ok {url}")
            return 0
    except (RuntimeError, OSError) as exc:
        print(f"pgcluster: error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
