# SPDX-License-Identifier: Apache-2.0
"""Software emulation of TPM 2.0 attestation artefacts, for tests only.

This is NOT a TPM: the AK is an ordinary software key, the TPMS_ATTEST is
marshalled here by hand (independently of tss2-mu, which the verifier uses)
and signed with python3-cryptography, the AK certificate comes from a
throwaway test CA, the event log is constructed. What it proves is that the
broker and kwctl accept well-formed evidence and refuse the rest; the real
TPM quotes are the vectors under ../shared/vectors/tpm and the live swtpm.
"""
import datetime
import hashlib
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ALG = {"sha1": 0x0004, "sha256": 0x000B, "sha384": 0x000C}
HASH = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384}
SIZE = {"sha1": 20, "sha256": 32, "sha384": 48}

# TPMA_OBJECT of an AK: fixedTPM fixedParent sensitiveDataOrigin userWithAuth restricted sign
AK_ATTRS = 0x00000002 | 0x00000010 | 0x00000020 | 0x00000040 | 0x00010000 | 0x00040000


def b2(data):
    return struct.pack(">H", len(data)) + data


def tpmt_public(key, attrs=AK_ATTRS, name_alg="sha256"):
    """Marshal the public area of key (RSA or EC P-256/P-384) as a TPMT_PUBLIC."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    head = struct.pack(">HHI", 0x0001 if isinstance(pub, rsa.RSAPublicKey) else 0x0023, ALG[name_alg], attrs)
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        # authPolicy empty; symmetric NULL; scheme RSASSA/SHA-256; keyBits; exponent 0 (= 65537)
        body = b2(b"") + struct.pack(">HHHHI", 0x0010, 0x0014, 0x000B, pub.key_size,
                                      0 if nums.e == 65537 else nums.e)
        return head + body + b2(n)
    nums = pub.public_numbers()
    size = (pub.curve.key_size + 7) // 8
    curve = {"secp256r1": 0x0003, "secp384r1": 0x0004}[pub.curve.name]
    body = b2(b"") + struct.pack(">HHHHH", 0x0010, 0x0018, 0x000B, curve, 0x0010)
    return head + body + b2(nums.x.to_bytes(size, "big")) + b2(nums.y.to_bytes(size, "big"))


def tpm_name(public_area, name_alg="sha256"):
    return struct.pack(">H", ALG[name_alg]) + HASH[name_alg](public_area).digest()


def pcr_select(bank, indices):
    bits = 0
    for i in indices:
        bits |= 1 << i
    return struct.pack(">HB", ALG[bank], 3) + bits.to_bytes(3, "little")


def attest_quote(signer, extra, pcrs, hash_name="sha256", clock=123456, reset=1, restart=0, safe=1,
                 firmware=0x2019102300163636, magic=0xFF544347, st=0x8018):
    """TPMS_ATTEST of a quote over pcrs {bank: {index: bytes}} (each bank's PCRs ascending)."""
    sel = b""
    h = hashlib.new(hash_name)
    for bank, values in pcrs.items():
        idx = sorted(values)
        sel += pcr_select(bank, idx)
        for i in idx:
            h.update(values[i])
    return (struct.pack(">IH", magic, st) + b2(signer) + b2(extra) +
            struct.pack(">QIIB", clock, reset, restart, safe) + struct.pack(">Q", firmware) +
            struct.pack(">I", len(pcrs)) + sel + b2(h.digest()))


def sign(key, msg, scheme="rsassa", hash_name="sha256"):
    """TPMT_SIGNATURE of msg with key: rsassa, rsapss or ecdsa."""
    halg = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384()}[hash_name]
    if scheme == "rsassa":
        return struct.pack(">HH", 0x0014, ALG[hash_name]) + b2(key.sign(msg, padding.PKCS1v15(), halg))
    if scheme == "rsapss":
        pss = padding.PSS(mgf=padding.MGF1(halg), salt_length=halg.digest_size)
        return struct.pack(">HH", 0x0016, ALG[hash_name]) + b2(key.sign(msg, pss, halg))
    r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(halg)))
    size = (key.curve.key_size + 7) // 8
    return struct.pack(">HH", 0x0018, ALG[hash_name]) + b2(r.to_bytes(size, "big")) + b2(s.to_bytes(size, "big"))


class EventLog:
    """A TCG crypto-agile event log with sha1, sha256 and sha384, and its replay."""

    BANKS = ("sha1", "sha256", "sha384")

    def __init__(self):
        spec = (b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, len(self.BANKS)) +
                b"".join(struct.pack("<HH", ALG[b], SIZE[b]) for b in self.BANKS) + b"\0")
        self.data = struct.pack("<II", 0, 3) + b"\0" * 20 + struct.pack("<I", len(spec)) + spec
        self.pcrs = {b: {} for b in self.BANKS}

    def event(self, pcr, etype, measured, data, extend=True):
        digests = {b: HASH[b](measured).digest() for b in self.BANKS}
        self.data += struct.pack("<III", pcr, etype, len(self.BANKS))
        for b in self.BANKS:
            self.data += struct.pack("<H", ALG[b]) + digests[b]
        self.data += struct.pack("<I", len(data)) + data
        if extend:
            for b in self.BANKS:
                old = self.pcrs[b].get(pcr, b"\0" * SIZE[b])
                self.pcrs[b][pcr] = HASH[b](old + digests[b]).digest()

    def secure_boot(self, on):
        name = "SecureBoot".encode("utf-16-le")
        var = (bytes.fromhex("61dfe48bca93d211aa0d00e098032b8c") + struct.pack("<QQ", 10, 1) + name +
               bytes([1 if on else 0]))
        self.event(7, 0x80000001, var, var)

    def boot_app(self, image):
        self.event(4, 0x80000003, image, b"\0" * 32)

    def grub_cmdline(self, text):
        self.event(8, 0x0000000D, text.encode(), b"kernel_cmdline: " + text.encode() + b"\0")


def sample_boot_log():
    """A boot as the tests use it: firmware, Secure Boot on, shim, grub, a kernel, grub's command line."""
    log = EventLog()
    log.event(0, 0x00000008, b"firmware 1.0", b"firmware 1.0")
    log.secure_boot(True)
    log.boot_app(b"shim 15.8")
    log.boot_app(b"grub 2.12")
    log.boot_app(b"vmlinuz 6.1")
    log.grub_cmdline("root=/dev/vda1 ro quiet")
    return log


def bank_values(log, bank, upto=24):
    """All PCRs 0..upto-1 of bank: the log's replay, zeros elsewhere."""
    return {i: log.pcrs[bank].get(i, b"\0" * SIZE[bank]) for i in range(upto)}


def test_ca(common_name="keywarden test AK CA (NOT A TPM VENDOR)"):
    """A self-signed P-256 CA: (key, certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def ak_cert(ca_key, ca_cert, ak_key, common_name="keywarden test AK"):
    """An AK certificate for ak_key issued by the CA (DER)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(ak_key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)
