# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for keywarden's integration tests.

Runs with Debian's /usr/bin/python3 (python3-jwcrypto, python3-cryptography).
Starts the real broker (which starts the real keywarden-hsm with a
SoftHSM2 token) on a free loopback port with TLS, and offers an independent
client-side implementation of the protocol (runtime-data, JCS for our
ASCII-keyed objects, an emulated SNP report signed with the emulation VCEK),
so that the tests do not only check kwget against itself.
"""
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

SRC = os.environ.get("KW_SOURCE_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("KW_BUILD_ROOT", os.path.join(SRC, "build"))
KEYWARDEN = os.path.join(BUILD, "broker", "keywarden")
KWGET = os.path.join(BUILD, "attester", "kwget")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jcs(obj):
    """RFC 8785 for objects whose keys and values are ASCII strings/objects
    (all that runtime-data holds here): sorted keys, no whitespace."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def policy_for(measurement, **extra):
    """A policy document (docs/policy.md) admitting one measurement. The
    tests' evidence chains to the emulation root, so test roots are allowed
    unless the caller says allow_test_roots=False."""
    doc = {"version": 1, "allow_test_roots": True,
           "reference_values": {"measurements": [{"value": measurement}]}}
    doc.update(extra)
    return doc


def es256_raw(jwk_key, data):
    """ES256 signature in the JWS r||s form with a jwcrypto EC key."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature as dds
    priv = jwk_key.get_op_key("sign")
    r, s = dds(priv.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


_PORT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "kwtest-ports")
_port_locks = []     # descriptors holding this process's port claims (released at exit)


def _claim_port(p):
    """Claim port p among concurrent test processes: an exclusive flock on
    $TMPDIR/kwtest-ports/P held until this process exits (the kernel drops it
    then, so a crashed test leaves nothing stale). False when another process
    (or an earlier free_port() of this one) holds it."""
    import fcntl
    if not os.path.isdir(_PORT_LOCK_DIR):
        try:
            os.mkdir(_PORT_LOCK_DIR)
            os.chmod(_PORT_LOCK_DIR, 0o1777)     # shared by every user's tests
        except FileExistsError:
            pass
    fd = os.open(os.path.join(_PORT_LOCK_DIR, str(p)), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _port_locks.append((p, fd))
    return True


def _release_port(p):
    for i, (q, fd) in enumerate(_port_locks):
        if q == p:
            os.close(fd)
            del _port_locks[i]
            return


def free_port():
    """A loopback port p with p + 1 free as well (the broker's admin listener
    takes port + 1), chosen below the kernel's ephemeral range so that the
    client side of other tests' (and kwbench's) connections cannot take it
    between this check and the broker's bind. Both ports stay claimed
    (_claim_port) for the life of this process, so that tests running
    concurrently (meson test --num-processes, both builds) never get the
    same pair between this check and their broker's bind."""
    import random
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    low = max(low, 12000)
    for _ in range(200):
        p = random.randrange(10000, low - 2)
        if not _claim_port(p):
            continue
        if not _claim_port(p + 1):
            _release_port(p)
            continue
        socks = []
        try:
            for q in (p, p + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", q))
            return p
        except OSError:
            _release_port(p)
            _release_port(p + 1)
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free pair of loopback ports")


_pg_cluster = None


def pg_cluster():
    """The process's throwaway PostgreSQL cluster (kwpg.py), started on first use."""
    global _pg_cluster
    if _pg_cluster is None:
        import kwpg
        _pg_cluster = kwpg.Cluster()
    return _pg_cluster


class Broker:
    """A real keywarden on loopback, set up with scripts/setup-local.sh.

    store: "sqlite" (the default, or $KW_TEST_STORE) or "postgresql" (a fresh
    database in pg_cluster()); pg_conninfo: use this PostgreSQL database
    instead (several brokers, one database). share_with: another Broker whose
    SoftHSM token (softhsm2.conf, PIN) and SNP emulation roots this one uses,
    so that the same attester and the same HSM keys work at both."""

    def __init__(self, config_edit=None, store=None, pg_conninfo=None, share_with=None):
        self.dir = tempfile.mkdtemp(prefix="kwit-")
        self.port = free_port()
        # the emulated ARK and ASK keys from the key cache (mk-emu-chain.sh certifies them)
        emu_keys = dict(os.environ, KW_EMU_ARK_KEY=cached_rsa3072("emu-ark", load=False)[1],
                        KW_EMU_ASK_KEY=cached_rsa3072("emu-ask", load=False)[1])
        subprocess.run(["sh", os.path.join(SRC, "scripts", "setup-local.sh"), self.dir, str(self.port)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=emu_keys)
        self.cfg_path = os.path.join(self.dir, "keywarden.json")
        with open(self.cfg_path) as f:
            self.cfg = json.load(f)
        with open(os.path.join(self.dir, "emu", "emu.json")) as f:
            self.emu = json.load(f)
        store = store or os.environ.get("KW_TEST_STORE") or "sqlite"
        if pg_conninfo is None and store == "postgresql":
            pg = pg_cluster()
            pg_conninfo = pg.conninfo(pg.createdb())
        self.pg_conninfo = pg_conninfo
        if pg_conninfo is not None:
            self.cfg.setdefault("store", {}).update(kind="postgresql", conninfo=pg_conninfo)
        if share_with is not None:
            o = share_with
            self.cfg["hsm"]["softhsm2_conf"] = os.path.join(o.dir, "softhsm2.conf")
            self.cfg["hsm"]["pin_file"] = os.path.join(o.dir, "hsm.pin")
            shutil.rmtree(os.path.join(self.dir, "emu"))
            shutil.copytree(os.path.join(o.dir, "emu"), os.path.join(self.dir, "emu"))
            self.emu = o.emu
        if config_edit:
            config_edit(self.cfg)
        with open(self.cfg_path, "w") as f:
            json.dump(self.cfg, f, indent=2)
        self.log_path = os.path.join(self.dir, "keywarden.log")
        self.proc = None
        self.ca = os.path.join(self.dir, "tls", "ca.pem")
        self.url = "https://127.0.0.1:%d" % self.port
        self.admin_port = self.port + 1
        self.tls_dir = os.path.join(self.dir, "tls")
        self.clock_file = os.path.join(self.dir, "clock-offset")
        self.set_clock(0)
        self._tl = threading.local()    # response headers per client thread
        self.preexec_fn = None          # run in the broker's process before exec (e.g. setrlimit)
        self.env = {}                   # extra environment (the helper inherits it)
        self.args = []                  # extra command-line arguments (e.g. --log-format json)

    @property
    def last_headers(self):
        return getattr(self._tl, "headers", {})

    @last_headers.setter
    def last_headers(self, h):
        self._tl.headers = h

    def set_clock(self, offset):
        """Shift the broker's clock (KEYWARDEN_TEST_CLOCK_FILE) by offset seconds."""
        self.offset = offset
        with open(self.clock_file, "w") as f:
            f.write("%+d\n" % offset)

    def now(self):
        return int(time.time()) + self.offset

    def start(self):
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ, KEYWARDEN_TEST_CLOCK_FILE=self.clock_file)
        env.update(self.env)
        self.proc = subprocess.Popen([KEYWARDEN, "--config", self.cfg_path] + self.args,
                                     stdout=self.logf, stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=self.preexec_fn)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keywarden exited with %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                st, _, _ = self.request("GET", "/healthz")
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("keywarden did not become ready:\n" + self.log())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc is not None else None
        self.proc = None
        if hasattr(self, "logf"):
            self.logf.close()
        return rc

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def request(self, method, path, body=None, headers=None, raw=False):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ssl_context(), timeout=30)
        hdrs = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        ctype = resp.getheader("Content-Type", "")
        self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
        conn.close()
        if raw:
            return resp.status, ctype, data
        try:
            parsed = json.loads(data) if data and "json" in ctype else data
        except ValueError:
            parsed = data
        return resp.status, ctype, parsed

    def admin(self, method, path, body=None, who="demo-admin", cert=None, raw=False):
        """A request to the admin listener with the client certificate of `who`."""
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if cert is None and who is not None:
            cert = (os.path.join(self.tls_dir, who + ".pem"), os.path.join(self.tls_dir, who + ".key"))
        if cert is not None:
            ctx.load_cert_chain(*cert)
        conn = http.client.HTTPSConnection("127.0.0.1", self.admin_port, context=ctx, timeout=60)
        hdrs = {}
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        ctype = resp.getheader("Content-Type", "")
        conn.close()
        if raw:
            return resp.status, ctype, data
        try:
            parsed = json.loads(data) if data and "json" in ctype else data
        except ValueError:
            parsed = data
        return resp.status, ctype, parsed

    def provision(self, path, algorithm="aes-256", policy="demo", document=None, length=None):
        """Register a policy and a key generated in the HSM through /admin/v1."""
        if document is None:
            document = policy_for(self.emu["measurement"])
        st, _, body = self.admin("PUT", "/admin/v1/policies/%s/%s" % (path.split("/")[0], policy),
                                 {"document": document})
        assert st == 201, (st, body)
        repo, typ, tag = path.split("/")
        req = {"repository": repo, "type": typ, "tag": tag, "algorithm": algorithm, "policy": policy}
        if length is not None:
            req["length"] = length
        st, _, body = self.admin("POST", "/admin/v1/keys", req)
        assert st == 201, (st, body)
        return body

    def kwget(self, *args, check=False, tee="snp", env=None):
        emu = os.path.join(self.dir, "emu" if tee == "snp" else "tdx-emu")
        cmd = [KWGET, "--url", self.url, "--cacert", self.ca, "--emulate", tee, "--emu-dir", emu] + list(args)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        if check and p.returncode != 0:
            raise AssertionError("kwget failed (%d): %s" % (p.returncode, p.stderr.decode()))
        return p


def _rs_raw(der_sig):
    r, s = decode_dss_signature(der_sig)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class TdxPlatform:
    """Emulated Intel TDX, written here independently of attester/att_tdx_emu.c
    from the NOT INTEL set scripts/mk-tdx-emu.sh made (setup-local.sh:
    DIR/tdx-emu): DCAP v4 quotes (TD report, QE report signed by the PCK key,
    attestation key) and the matching collateral in dcap-qvl's
    QuoteCollateralV3 layout (TCB Info v3 and TD_QE identity signed by the
    TCB Signing key, PCK CRL and Root CA CRL), for the broker's offline
    collateral directory."""

    QE_VENDOR = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
    QE_MRSIGNER = bytes.fromhex("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")
    QE_ATTRIBUTES = bytes.fromhex("1100000000000000e700000000000000")

    def __init__(self, emu_dir):
        from cryptography import x509
        self.dir = emu_dir
        with open(os.path.join(emu_dir, "emu.json")) as f:
            self.emu = json.load(f)

        def pem(name):
            with open(os.path.join(emu_dir, name), "rb") as f:
                return f.read()

        def key(name):
            return serialization.load_pem_private_key(pem(name), None)
        self.pem = {n: pem(n + ".pem") for n in ("root", "pck-ca", "pck", "tcb-signing")}
        self.key = {n: key(n + ".key") for n in ("root", "pck-ca", "pck", "tcb-signing")}
        self.cert = {n: x509.load_pem_x509_certificate(v) for n, v in self.pem.items()}
        self.tee_tcb_svn = bytes.fromhex(self.emu["tee_tcb_svn"])
        self.mrtd = bytes.fromhex(self.emu["mrtd"])
        self.rtmr = [bytes([16 * k + i for i in range(48)]) for k in range(4)]

    # ---- quotes ----

    def quote(self, report_data, mrtd=None, rtmr=None, tee_tcb_svn=None, td_attributes=None):
        ak = ec.generate_private_key(ec.SECP256R1())
        n = ak.public_key().public_numbers()
        ak_raw = n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")
        rtmr = rtmr or self.rtmr
        hdr = struct.pack("<HHII", 4, 2, 0x81, 0) + self.QE_VENDOR + bytes(20)
        body = (tee_tcb_svn or self.tee_tcb_svn) + bytes(range(0x50, 0x80)) + bytes(48) + bytes(8)
        body += (td_attributes or bytes.fromhex("0000001000000000")) + bytes.fromhex("e702060000000000")
        body += (mrtd or self.mrtd) + bytes(48 * 3) + b"".join(rtmr) + report_data
        assert len(body) == 584
        sig = _rs_raw(ak.sign(hdr + body, ec.ECDSA(hashes.SHA256())))
        auth = bytes(range(32))
        qe_rd = hashlib.sha256(ak_raw + auth).digest() + bytes(32)
        cpusvn = bytes(self.emu["sgx_tcb_components"])
        qe = cpusvn + bytes(4 + 28) + self.QE_ATTRIBUTES + hashlib.sha256(b"qe").digest() + bytes(32)
        qe += self.QE_MRSIGNER + bytes(96) + struct.pack("<HH", 2, self.emu["qe_isvsvn"]) + bytes(60) + qe_rd
        assert len(qe) == 384
        qe_sig = _rs_raw(self.key["pck"].sign(qe, ec.ECDSA(hashes.SHA256())))
        chain = self.pem["pck"] + self.pem["pck-ca"] + self.pem["root"] + b"\0"
        inner = qe + qe_sig + struct.pack("<H", len(auth)) + auth + struct.pack("<HI", 5, len(chain)) + chain
        sigdata = sig + ak_raw + struct.pack("<HI", 6, len(inner)) + inner
        return hdr + body + struct.pack("<I", len(sigdata)) + sigdata

    # ---- collateral ----

    @staticmethod
    def _time(t):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    def _crl(self, issuer, now, next_update):
        import datetime
        from cryptography import x509
        utc = datetime.timezone.utc
        rev = x509.RevokedCertificateBuilder().serial_number(9999).revocation_date(
            datetime.datetime.fromtimestamp(now - 3600, utc)).build()
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.cert[issuer].subject)
             .last_update(datetime.datetime.fromtimestamp(now - 3600, utc))
             .next_update(datetime.datetime.fromtimestamp(next_update, utc)).add_revoked_certificate(rev))
        return b.sign(self.key[issuer], hashes.SHA256()).public_bytes(serialization.Encoding.DER).hex()

    def collateral(self, now, levels=None, eval_number=18, days=30):
        """QuoteCollateralV3 JSON text. levels: [(tdx components, status, [advisories])],
        highest first; default one UpToDate level that the emulated TD meets."""
        sgx = [{"svn": v} for v in self.emu["sgx_tcb_components"]]
        if levels is None:
            levels = [(list(self.tee_tcb_svn), "UpToDate", [])]
        tcb_levels = []
        for comps, status, adv in levels:
            lv = {"tcb": {"sgxtcbcomponents": sgx, "pcesvn": self.emu["pcesvn"],
                          "tdxtcbcomponents": [{"svn": c} for c in comps]},
                  "tcbDate": self._time(now - 60 * 86400), "tcbStatus": status}
            if adv:
                lv["advisoryIDs"] = adv
            tcb_levels.append(lv)
        z48 = "00" * 48
        tcb_info = {"id": "TDX", "version": 3, "issueDate": self._time(now - 3600),
                    "nextUpdate": self._time(now + days * 86400), "fmspc": self.emu["fmspc"].upper(),
                    "pceId": "0000", "tcbType": 0, "tcbEvaluationDataNumber": eval_number,
                    "tdxModule": {"mrsigner": z48, "attributes": "0000000000000000",
                                  "attributesMask": "FFFFFFFFFFFFFFFF"},
                    "tdxModuleIdentities": [{"id": "TDX_01", "mrsigner": z48, "attributes": "0000000000000000",
                                             "attributesMask": "FFFFFFFFFFFFFFFF",
                                             "tcbLevels": [{"tcb": {"isvsvn": 3},
                                                            "tcbDate": self._time(now - 60 * 86400),
                                                            "tcbStatus": "UpToDate"}]}],
                    "tcbLevels": tcb_levels}
        qe_identity = {"id": "TD_QE", "version": 2, "issueDate": self._time(now - 3600),
                       "nextUpdate": self._time(now + days * 86400), "tcbEvaluationDataNumber": eval_number,
                       "miscselect": "00000000", "miscselectMask": "FFFFFFFF",
                       "attributes": "11000000000000000000000000000000",
                       "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
                       "mrsigner": self.QE_MRSIGNER.hex().upper(), "isvprodid": 2,
                       "tcbLevels": [{"tcb": {"isvsvn": 8}, "tcbDate": self._time(now - 60 * 86400),
                                      "tcbStatus": "UpToDate"}]}
        # the signed texts, exactly as signed (never re-serialized by the broker)
        ti = json.dumps(tcb_info, separators=(",", ":"))
        qi = json.dumps(qe_identity, separators=(",", ":"))
        signer = self.key["tcb-signing"]
        signing_chain = (self.pem["tcb-signing"] + self.pem["root"]).decode()
        doc = {"pck_crl_issuer_chain": (self.pem["pck-ca"] + self.pem["root"]).decode(),
               "root_ca_crl": self._crl("root", now, now + 365 * 86400),
               "pck_crl": self._crl("pck-ca", now, now + days * 86400),
               "tcb_info_issuer_chain": signing_chain, "tcb_info": ti,
               "tcb_info_signature": _rs_raw(signer.sign(ti.encode(), ec.ECDSA(hashes.SHA256()))).hex(),
               "qe_identity_issuer_chain": signing_chain, "qe_identity": qi,
               "qe_identity_signature": _rs_raw(signer.sign(qi.encode(), ec.ECDSA(hashes.SHA256()))).hex()}
        return json.dumps(doc)


_KEY_CACHE = os.environ.get("KW_TEST_KEY_CACHE") or os.path.join(tempfile.gettempdir(),
                                                                   "kwtest-keys-%d" % os.geteuid())


def _key_cache_dir():
    """The cache directory, made 0700; None (no cache: fresh keys) unless it is a directory
    of ours that nobody else can write, so another local user cannot plant test keys."""
    import stat
    try:
        os.makedirs(_KEY_CACHE, mode=0o700, exist_ok=True)
        st = os.lstat(_KEY_CACHE)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    return _KEY_CACHE
_keys_taken = {}


def cached_rsa3072(kind, load=True):
    """(key, PEM path) of an RSA-3072 key (key None with load=False and a cached file:
    the taker checks it, as mk-emu-chain.sh does), distinct from every other one of that kind this
    process has taken. OpenSSL 3.0 spends ~0.7 s of CPU on one RSA-3072 key here and a
    suite run needs hundreds (each Attester's TEE key, each Broker's emulated ARK and ASK),
    so the n-th key of a kind a test process takes is kept in $KW_TEST_KEY_CACHE (default
    $TMPDIR/kwtest-keys-UID/KIND-N.pem, 0700, ours, else no cache) for the next process: each process still gets its own
    distinct keys; other processes (with other brokers) get the same ones."""
    n = _keys_taken.get(kind, 0)
    _keys_taken[kind] = n + 1
    cache = _key_cache_dir()
    path = os.path.join(cache or tempfile.mkdtemp(prefix="kwtest-key-"), "%s-%04d.pem" % (kind, n))
    try:
        with open(path, "rb") as f:
            pem = f.read()
        if not load and pem.startswith(b"-----BEGIN PRIVATE KEY-----"):
            return None, path
        key = serialization.load_pem_private_key(pem, None)
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size == 3072:
            return key, path
    except (OSError, ValueError):
        pass
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".new-")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, path)      # a concurrent process writing the same N: either is whole
    return key, path


def tee_rsa_key():
    """An Attester's TEE encryption key (RSA-3072, cached_rsa3072)."""
    return cached_rsa3072("tee")[0]


class Attester:
    """Independent client: TEE keys, runtime-data, emulated SNP report or (tee="tdx")
    emulated TDX quote (TdxPlatform)."""

    def __init__(self, broker, send_config=True, tee="snp"):
        self.b = broker
        self.tee = tee
        self.send_config = send_config    # False: runtime-data without "config"
        self.enc = tee_rsa_key()
        self.sig = ec.generate_private_key(ec.SECP256R1())
        with open(os.path.join(broker.dir, "emu", "vcek.key"), "rb") as f:
            self.vcek_key = serialization.load_pem_private_key(f.read(), None)
        with open(os.path.join(broker.dir, "emu", "vcek.pem"), "rb") as f:
            from cryptography import x509
            self.vcek_der = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
        if tee == "tdx":
            self.tdx = TdxPlatform(os.path.join(broker.dir, "tdx-emu"))

    def jwk_enc(self):
        n = self.enc.public_key().public_numbers()
        return {"kty": "RSA", "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                "e": b64u(n.e.to_bytes((n.e.bit_length() + 7) // 8, "big"))}

    def jwk_sig(self):
        n = self.sig.public_key().public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}

    def runtime_data(self, nonce):
        rd = {"nonce": nonce, "tee-pubkey": self.jwk_enc(), "tee-sigkey": self.jwk_sig(), "config": {}}
        if not self.send_config:
            del rd["config"]
        return rd

    def report(self, report_data, measurement=None, debug=False, version=3):
        emu = self.b.emu
        m = bytes.fromhex(measurement or emu["measurement"])
        chip = bytes.fromhex(emu["chip_id"])
        tcb = int(emu["reported_tcb"], 16)
        policy = 0x30000 | (1 << 19 if debug else 0)
        r = bytearray(0x4A0)
        struct.pack_into("<IIQ", r, 0x000, version, 0, policy)
        struct.pack_into("<II", r, 0x030, 0, 1)          # VMPL 0, ECDSA P-384/SHA-384
        struct.pack_into("<QQ", r, 0x038, tcb, 0x1)      # CURRENT_TCB, PLATFORM_INFO
        struct.pack_into("<I", r, 0x048, 0)               # signed with the VCEK
        r[0x050:0x090] = report_data
        r[0x090:0x0C0] = m
        struct.pack_into("<Q", r, 0x180, tcb)             # REPORTED_TCB
        r[0x188:0x18B] = bytes([0x19, 0x01, 0x01])
        r[0x1A0:0x1E0] = chip
        struct.pack_into("<Q", r, 0x1E0, tcb)             # COMMITTED_TCB
        struct.pack_into("<Q", r, 0x1F0, tcb)             # LAUNCH_TCB
        der = self.vcek_key.sign(bytes(r[:0x2A0]), ec.ECDSA(hashes.SHA384()))
        rr, ss = decode_dss_signature(der)
        r[0x2A0:0x2A0 + 72] = rr.to_bytes(72, "little")
        r[0x2E8:0x2E8 + 72] = ss.to_bytes(72, "little")
        return bytes(r)

    def nonce(self, tee=None):
        st, _, body = self.b.request("POST", "/kbs/v0/auth",
                                     {"version": "0.1.0", "tee": tee or self.tee, "extra-params": {}})
        assert st == 200, (st, body)
        return body["nonce"]

    def attest_body(self, nonce=None, report_data=None, **kw):
        rd = self.runtime_data(nonce if nonce is not None else self.nonce())
        digest = hashlib.sha384(jcs(rd)).digest() + bytes(16)
        if self.tee == "tdx":
            q = self.tdx.quote(report_data if report_data is not None else digest, **kw)
            return {"runtime-data": rd, "tee-evidence": {"quote": b64u(q)}}
        rep = self.report(report_data if report_data is not None else digest, **kw)
        return {"runtime-data": rd, "tee-evidence": {"report": b64u(rep), "vcek": b64u(self.vcek_der)}}

    def attest(self, **kw):
        st, ct, body = self.b.request("POST", "/kbs/v0/attest", self.attest_body(**kw))
        if st == 200:
            self.dpop_nonce = self.b.last_headers.get("dpop-nonce")
        return st, ct, body

    def token(self, **kw):
        st, _, body = self.attest(**kw)
        assert st == 200, (st, body)
        assert set(body) == {"token"}, body
        return body["token"]

    def dpop_jwk(self):
        from jwcrypto import jwk
        return jwk.JWK.from_pyca(self.sig)

    def proof(self, token, htu, htm="GET", iat=None, jti=None, nonce="default", key=None,
              header_extra=None, claims_extra=None, drop=()):
        """A DPoP proof made with python3-jwcrypto."""
        from jwcrypto import jws
        from jwcrypto.common import json_encode
        key = key or self.dpop_jwk()
        pub = {k: v for k, v in key.export_public(as_dict=True).items() if k in ("kty", "crv", "x", "y")}
        hdr = {"typ": "dpop+jwt", "alg": "ES256", "jwk": pub}
        hdr.update(header_extra or {})
        claims = {"htm": htm, "htu": htu, "iat": self.b.now() if iat is None else iat,
                  "jti": jti or b64u(os.urandom(16)),
                  "ath": b64u(hashlib.sha256(token.encode()).digest())}
        if nonce == "default":
            nonce = getattr(self, "dpop_nonce", None)
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(claims_extra or {})
        for k in drop:
            claims.pop(k, None)
        if "crit" in hdr:
            # jwcrypto refuses to emit unknown critical headers: sign by hand
            si = b64u(json_encode(hdr).encode()) + "." + b64u(json_encode(claims).encode())
            return si + "." + b64u(es256_raw(key, si.encode()))
        t = jws.JWS(json_encode(claims))
        t.add_signature(key, alg="ES256", protected=json_encode(hdr))
        return t.serialize(compact=True)

    def resource(self, token, path, proof=None, auth_scheme="DPoP", **kw):
        url_path = "/kbs/v0/resource/" + path
        headers = {}
        if token is not None:
            headers["Authorization"] = "%s %s" % (auth_scheme, token)
        if proof is None and token is not None:
            proof = self.proof(token, self.b.url + url_path, **kw)
        if proof:
            headers["DPoP"] = proof
        st, ct, body = self.b.request("GET", url_path, headers=headers, raw=True)
        if st == 401 and "dpop-nonce" in self.b.last_headers:
            self.dpop_nonce = self.b.last_headers["dpop-nonce"]
        return st, ct, body

    def decrypt(self, jwe_compact):
        from jwcrypto import jwe, jwk
        # one JWK per TEE key (jwcrypto checks an RSA private key each time it builds one)
        if getattr(self, "_enc_jwk", (None, None))[0] is not self.enc:
            pem = self.enc.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
            self._enc_jwk = (self.enc, jwk.JWK.from_pem(pem))
        key = self._enc_jwk[1]
        tok = jwe.JWE()
        tok.deserialize(jwe_compact if isinstance(jwe_compact, str) else jwe_compact.decode(), key=key)
        return tok.payload

    def enc_pem(self):
        return self.enc.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def assert_problem(st, ctype, body, status, slug=None):
    """An RFC 7807 problem answer of this status (and type urn:keywarden:problem:<slug>)."""
    assert st == status, "expected %d, got %d: %r" % (status, st, body)
    assert ctype.startswith("application/problem+json"), ctype
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    assert body["status"] == status and body["type"].startswith("urn:keywarden:problem:"), body
    if slug is not None:
        assert body["type"] == "urn:keywarden:problem:" + slug, body
    return body


def assert_single_use(b, body):
    """body (an /attest request) is accepted once, then refused: its challenge is spent."""
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 200, r
    st, _, r = b.request("POST", "/kbs/v0/attest", body)
    assert st == 401 and r["type"] == "urn:keywarden:problem:attestation-failed", (st, r)


def assert_no_secrets(log, secrets):
    """None of the released keys (at least one) appears in the log, in hex or base64url."""
    assert secrets
    for k in secrets:
        for form in (k.hex(), b64u(k)):
            assert form not in log


def run_tests(b, tests, setup=None, log_tail=5000):
    """Start b, run setup(b) and each test, stop and clean up; print
    "ok"/"FAIL" per test and the closing "N passed, N failed" line.
    A broker that exits non-zero (e.g. a sanitizer report) is a failure."""
    import traceback
    passed = failed = 0
    try:
        b.start()
        if setup is not None:
            setup(b)
        for t in tests:
            try:
                t(b)
                passed += 1
                print("ok   %s" % t.__name__)
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__)
                traceback.print_exc()
        rc = b.stop()
        if rc != 0:
            failed += 1
            print("FAIL broker exit status %r" % rc)
    except Exception:
        failed += 1
        traceback.print_exc()
    finally:
        if failed:
            print("--- broker log (tail) ---\n" + b.log()[-log_tail:])
        b.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def run_group(ctx, tests, brokers, start, extra_log=None, killed=lambda x: False):
    """run_tests for several brokers: start(), then test(ctx) for each test with its time,
    then stop every broker of brokers() ((name, Broker or None) pairs) and clean up. A broker
    exit other than 0 fails, unless killed(broker) (a kill -9 the test made). extra_log():
    more to print after the brokers' logs when something failed."""
    import traceback
    passed = failed = 0
    try:
        start()
        for t in tests:
            t0 = time.time()
            try:
                t(ctx)
                passed += 1
                print("ok   %s (%.1f s)" % (t.__name__, time.time() - t0))
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__)
                traceback.print_exc()
        for _, x in brokers():
            rc = x.stop() if x is not None else None
            if rc not in (0, None) and not (rc == -9 and killed(x)):
                failed += 1
                print("FAIL broker exit status %r" % rc)
    except Exception:
        failed += 1
        traceback.print_exc()
    finally:
        if failed:
            for n, x in brokers():
                if x is not None:
                    print("--- broker %s log (tail) ---\n%s" % (n, x.log()[-4000:]))
            if extra_log is not None:
                print(extra_log())
        for _, x in brokers():
            if x is not None:
                x.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
