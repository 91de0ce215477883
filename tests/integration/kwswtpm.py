# SPDX-License-Identifier: Apache-2.0
"""A live software TPM for keywarden's tests (swtpm, loopback only).

EkCA: a throw-away manufacturer CA made with openssl in a temporary
directory. Swtpm: a TPM 2.0 whose state swtpm_setup manufactured with an
RSA-2048 (and ECC) EK whose certificate EkCA signed (swtpm_localca, written
to NV 0x01c00002), served by `swtpm socket` on two consecutive loopback
ports (commands, control) — the layout the tss2 "swtpm" TCTI expects.

Used by tests/integration/test_tpm.py and, as a runner, by the unit test
of credential activation:

    python3 kwswtpm.py run-unit PROGRAM [ARGS...]

manufactures one CA and two TPMs, starts both, runs PROGRAM with
KW_TPM_TCTI_A, KW_TPM_TCTI_B (TCTI strings), KW_TPM_EK_CA (the CA's PEM)
and KW_TPM_OTHER_CA (a CA that signed nothing) in its environment, and
stops the TPMs whatever happens.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

START_TIMEOUT = 10.0


class EkCA:
    """A self-signed CA (RSA-2048) in its own directory."""

    def __init__(self, workdir, name="keywarden test EK CA"):
        self.dir = os.path.join(workdir, "ca-" + name.replace(" ", "-"))
        os.makedirs(self.dir)
        self.key = os.path.join(self.dir, "ca.key")
        self.pem = os.path.join(self.dir, "ca.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                        "-out", self.pem, "-days", "3", "-subj", "/CN=" + name,
                        "-addext", "basicConstraints=critical,CA:true",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
                       check=True, capture_output=True, timeout=60)


def _port_pair():
    """Two consecutive free loopback ports (a later bind may still race: start() retries)."""
    for _ in range(100):
        a = socket.socket()
        b = socket.socket()
        try:
            a.bind(("127.0.0.1", 0))
            p = a.getsockname()[1]
            if p >= 65535:
                continue
            b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
        finally:
            a.close()
            b.close()
    raise RuntimeError("no two consecutive free loopback ports")


class Swtpm:
    """A manufactured swtpm (EK certificate from ca) that start()/stop() serve."""

    def __init__(self, workdir, ca, name="tpm"):
        self.dir = os.path.join(workdir, name)
        self.state = os.path.join(self.dir, "state")
        os.makedirs(self.state)
        self.ca = ca
        self.proc = None
        self.port = None
        conf = os.path.join(self.dir, "localca.conf")
        with open(conf, "w") as f:
            f.write("statedir = %s\nsigningkey = %s\nissuercert = %s\ncertserial = %s\n" % (
                self.dir, ca.key, ca.pem, os.path.join(self.dir, "certserial")))
        opts = os.path.join(self.dir, "localca.options")
        with open(opts, "w") as f:
            f.write("--platform-manufacturer keywarden\n--platform-version 1\n--platform-model test\n")
        setup = os.path.join(self.dir, "swtpm_setup.conf")
        with open(setup, "w") as f:
            f.write("create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\n"
                    "create_certs_tool_options = %s\nactive_pcr_banks = sha256\n" % (conf, opts))
        r = subprocess.run(["swtpm_setup", "--tpm2", "--tpm-state", self.state, "--create-ek-cert",
                            "--config", setup, "--logfile", os.path.join(self.dir, "setup.log")],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            with open(os.path.join(self.dir, "setup.log")) as f:
                raise RuntimeError("swtpm_setup failed: %s %s" % (r.stderr, f.read()[-2000:]))

    @property
    def tcti(self):
        return "swtpm:host=127.0.0.1,port=%d" % self.port

    def env(self, base=None):
        e = dict(os.environ if base is None else base)
        e["TPM2TOOLS_TCTI"] = self.tcti
        e.pop("TCTI", None)
        return e

    def start(self):
        for _ in range(5):
            port = _port_pair()
            log = open(os.path.join(self.dir, "swtpm.log"), "ab")
            proc = subprocess.Popen(
                ["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + self.state,
                 "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % port,
                 "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % (port + 1),
                 "--flags", "not-need-init,startup-clear"],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port + 1), timeout=1).close()
                    self.proc, self.port = proc, port
                    return self
                except OSError:
                    time.sleep(0.02)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        raise RuntimeError("swtpm did not start (see %s)" % os.path.join(self.dir, "swtpm.log"))

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def tools(self, *args, **kw):
        """Run a tpm2-tools command against this TPM; its stdout (bytes)."""
        r = subprocess.run(list(args), env=self.env(), capture_output=True, timeout=30, **kw)
        if r.returncode != 0:
            raise RuntimeError("%s failed: %s" % (args[0], r.stderr.decode(errors="replace")[-1000:]))
        return r.stdout


def run_unit(argv):
    work = tempfile.mkdtemp(prefix="kw-swtpm-")
    tpms = []
    try:
        ca = EkCA(work)
        other = EkCA(work, "keywarden other CA")
        tpms = [Swtpm(work, ca, "tpm-a").start(), Swtpm(work, ca, "tpm-b").start()]
        env = dict(os.environ, KW_TPM_TCTI_A=tpms[0].tcti, KW_TPM_TCTI_B=tpms[1].tcti,
                   KW_TPM_EK_CA=ca.pem, KW_TPM_OTHER_CA=other.pem)
        env.pop("TPM2TOOLS_TCTI", None)
        env.pop("TCTI", None)
        return subprocess.run(argv, env=env, timeout=300).returncode
    finally:
        for t in tpms:
            t.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "run-unit":
        sys.stderr.write("usage: kwswtpm.py run-unit PROGRAM [ARGS...]\n")
        sys.exit(2)
    sys.exit(run_unit(sys.argv[2:]))
