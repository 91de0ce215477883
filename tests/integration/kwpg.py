# SPDX-License-Identifier: Apache-2.0
"""A throwaway PostgreSQL cluster for tests (docs/store.md).

    with Cluster() as pg:                   # initdb + pg_ctl start, as the postgres user
        info = pg.conninfo(pg.createdb())   # Unix-socket conninfo of a fresh database
        info = pg.conninfo(db, tls=True)    # TCP 127.0.0.1, TLS verify-full, password
        pg.sql("SELECT 1", db)              # psql -At, as the superuser
        pg.restart(); pg.stop(); pg.start()

The data directory and the Unix socket live in a temp directory owned by
postgres; the server listens on 127.0.0.1 (a free port, TLS with a throwaway
CA) and on that socket only. The cluster is stopped (immediate) and removed
on every exit path: the with-block, atexit, SIGTERM/SIGINT (meson's timeout).

As a command: `python3 kwpg.py run CMD ARGS...` starts a cluster, creates a
database, runs CMD with KW_TEST_PG_CONNINFO set to its Unix-socket conninfo,
stops the cluster and exits with CMD's status.
"""
import atexit
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

PGBIN = os.environ.get("KW_PG_BIN", "/usr/lib/postgresql/15/bin")
PASSWORD = "kw-test-" + os.urandom(8).hex()

_live = []
_lock = threading.Lock()


def _cleanup_all():
    for c in list(_live):
        c.destroy()


def _on_signal(signum, frame):
    _cleanup_all()
    sys.exit(128 + signum)


atexit.register(_cleanup_all)
for _s in (signal.SIGTERM, signal.SIGINT):
    try:
        if signal.getsignal(_s) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(_s, _on_signal)
    except ValueError:      # not the main thread
        pass


def _free_port():
    """A port below the ephemeral range, claimed across the test processes that run
    side by side (kwtest.free_port): initdb runs between this choice and the bind."""
    import kwtest
    return kwtest.free_port()


class Cluster:
    def __init__(self):
        self.pw = pwd.getpwnam("postgres")
        self.dir = tempfile.mkdtemp(prefix="kwpg-")
        os.chmod(self.dir, 0o755)      # the broker (root) reads the CA; postgres owns the rest
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.tls = os.path.join(self.dir, "tls")
        self.logfile = os.path.join(self.dir, "postgres.log")
        self.port = _free_port()
        self.running = False
        self._n = 0
        os.mkdir(self.sock)
        os.mkdir(self.tls)
        self._make_tls()
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        for p in (self.dir, self.sock, pwfile):
            os.chown(p, self.pw.pw_uid, self.pw.pw_gid)
        with _lock:
            _live.append(self)
        self._as_pg([os.path.join(PGBIN, "initdb"), "-D", self.data, "-U", "postgres",
                     "-E", "UTF8", "--locale=C", "--auth-local=trust",
                     "--auth-host=scram-sha-256", "--pwfile=" + pwfile])
        os.unlink(pwfile)
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            # Unix socket: trust (the directory is the test's); TCP: TLS + password only
            f.write("local all all trust\n"
                    "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\nlisten_addresses = '127.0.0.1'\nport = %d\n"
                    "unix_socket_directories = '%s'\nssl = on\n"
                    "ssl_cert_file = '%s/server.pem'\nssl_key_file = '%s/server.key'\n"
                    "max_connections = 100\nlog_min_messages = warning\n"
                    % (self.port, self.sock, self.tls, self.tls))
        self.start()

    def _make_tls(self):
        t = self.tls
        run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", t + "/ca.key", "-out", t + "/ca.pem", "-days", "2",
            "-subj", "/CN=kwpg test CA")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", t + "/server.key", "-out", t + "/server.csr", "-subj", "/CN=127.0.0.1")
        ext = t + "/ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", t + "/server.csr", "-CA", t + "/ca.pem",
            "-CAkey", t + "/ca.key", "-CAcreateserial", "-out", t + "/server.pem", "-days", "2",
            "-extfile", ext)
        os.unlink(t + "/ca.key")
        for n in ("server.key", "server.pem"):
            os.chown(os.path.join(t, n), self.pw.pw_uid, self.pw.pw_gid)
        os.chmod(t + "/server.key", 0o600)

    def _as_pg(self, args, check=True, input=None, timeout=60):
        p = subprocess.run(["runuser", "-u", "postgres", "--"] + args, input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           cwd=self.dir)
        if check and p.returncode != 0:
            raise RuntimeError("%s failed (%d): %s\n%s" % (args[0], p.returncode,
                                                           p.stderr.decode(), self.log()))
        return p

    def log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def start(self):
        self._as_pg([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-l", self.logfile,
                     "-w", "-t", "60", "start"])
        self.running = True

    def stop(self, mode="fast"):
        if self.running:
            self._as_pg([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                         "-t", "60", "stop"], check=False)
        self.running = False

    def restart(self):
        self.stop()
        self.start()

    def destroy(self):
        try:
            self.stop("immediate")
        except Exception:
            pass
        with _lock:
            if self in _live:
                _live.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()

    def sql(self, text, db="postgres"):
        """Run SQL as the superuser over the socket; the rows, '|'-separated, as text."""
        p = self._as_pg([os.path.join(PGBIN, "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                         "-h", self.sock, "-p", str(self.port), "-d", db, "-c", text])
        return p.stdout.decode().strip()

    def createdb(self, name=None):
        if name is None:
            self._n += 1
            name = "kw%d_%s" % (self._n, os.urandom(3).hex())
        self.sql('CREATE DATABASE "%s"' % name)
        return name

    def conninfo(self, db, tls=False):
        if tls:
            return ("host=127.0.0.1 port=%d dbname=%s user=postgres password=%s "
                    "sslmode=verify-full sslrootcert=%s/ca.pem connect_timeout=5"
                    % (self.port, db, PASSWORD, self.tls))
        return "host=%s port=%d dbname=%s user=postgres" % (self.sock, self.port, db)


def main(argv):
    if len(argv) < 3 or argv[1] != "run":
        print("usage: kwpg.py run CMD [ARGS...]", file=sys.stderr)
        return 2
    with Cluster() as pg:
        env = dict(os.environ, KW_TEST_PG_CONNINFO=pg.conninfo(pg.createdb()))
        return subprocess.run(argv[2:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
