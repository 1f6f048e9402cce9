# SPDX-License-Identifier: MPL-2.0
"""A private Dovecot IMAP server for the e-mail tests (Debian's
dovecot-imapd): its own configuration, base_dir and maildir in a temporary
folder, plaintext login without TLS on 127.0.0.1 and a free port, one test
user from a passwd-file, run in the foreground (dovecot -F) and stopped at
the end. The system's Dovecot service and /etc/dovecot are not used.

The TLS variants: dovecot_tls has a self-signed certificate (for the
tls_fingerprint pin); dovecot_ca one issued by a test CA made here with
openssl (root -> intermediate -> server, the server sending the
intermediate along), whose root a test names as ca_file.

As root, Dovecot's processes run as the packaged users (dovecot, dovenull)
and the mail belongs to dovecot; the folder is opened up for them.
"""

import contextlib
import imaplib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from utils import free_port, wait_until

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "kontakt@example.dk"
PASSWORD = "imap-test-secret"

CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = ktd-{port}
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
log_path = {dir}/dovecot.log
mail_location = maildir:{dir}/mail/%n
mail_uid = {user}
mail_gid = {group}
first_valid_uid = 1
mail_max_userip_connections = 100
imap_idle_notify_interval = 1 secs
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={dir}/mail/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Done {{
    auto = create
  }}
}}
"""


def _users():
    """(internal user, group, login user) that exist here."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        return me, me, me
    for internal in ("dovecot", "nobody"):
        with contextlib.suppress(KeyError):
            pw = pwd.getpwnam(internal)
            import grp
            group = grp.getgrgid(pw.pw_gid).gr_name
            login = "dovenull"
            try:
                pwd.getpwnam(login)
            except KeyError:
                login = internal
            return internal, group, login
    raise RuntimeError("no user for Dovecot's processes")


CA_CNF = """\
[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = Testrup Test Root CA
[ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

INTERMEDIATE_EXT = """\
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

SERVER_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {san}
"""


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _issue(d, name, subject, ext, ca_cert, ca_key, serial):
    """A key and a certificate signed by ca_cert/ca_key: (cert, key)."""
    key, csr, cert = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem"
    extfile = d / f"{name}.ext"
    extfile.write_text(ext)
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
             "-keyout", str(key), "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert),
             "-CAkey", str(ca_key), "-set_serial", str(serial), "-days", "2",
             "-extfile", str(extfile), "-out", str(cert))
    return cert, key


def make_test_pki(d, san):
    """In folder d: a root CA, an intermediate CA and a server certificate
    for san (an openssl subjectAltName value). Returns (root certificate,
    server chain (server then intermediate, as a server sends it),
    server key)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    cnf = d / "ca.cnf"
    cnf.write_text(CA_CNF)
    root, root_key = d / "root.pem", d / "root.key"
    _openssl("req", "-x509", "-config", str(cnf), "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-keyout", str(root_key), "-out", str(root))
    inter, inter_key = _issue(d, "intermediate",
                              "/CN=Testrup Test Intermediate CA",
                              INTERMEDIATE_EXT, root, root_key, 2)
    server, server_key = _issue(d, "server", "/CN=imap.testrup.example",
                                SERVER_EXT.format(san=san), inter, inter_key,
                                3)
    chain = d / "server-chain.pem"
    chain.write_text(server.read_text() + inter.read_text())
    return root, chain, server_key


CRL_CNF = """\
[ca]
default_ca = ca_opts
[ca_opts]
database = {db}/index.txt
crlnumber = {db}/crlnumber
default_md = sha256
default_crl_days = 2
"""


def make_crl(d, name, ca_cert, ca_key, revoke=()):
    """A PEM CRL issued by the CA ca_cert/ca_key (openssl ca -gencrl) that
    lists the certificates of revoke (paths) as revoked. Returns its
    path."""
    d = Path(d)
    db = d / f"{name}-db"
    db.mkdir(parents=True, exist_ok=True)
    (db / "index.txt").write_text("")
    (db / "crlnumber").write_text("01\n")
    cnf = db / "ca.cnf"
    cnf.write_text(CRL_CNF.format(db=db))
    for cert in revoke:
        _openssl("ca", "-config", str(cnf), "-cert", str(ca_cert),
                 "-keyfile", str(ca_key), "-revoke", str(cert))
    out = d / f"{name}.crl"
    _openssl("ca", "-config", str(cnf), "-cert", str(ca_cert), "-keyfile",
             str(ca_key), "-gencrl", "-out", str(out))
    return out


def make_test_crls(d, revoked=False, only_intermediate=False):
    """For the PKI make_test_pki made in folder d: one PEM file with the
    CRL of each CA (the root's, listing nothing; the intermediate's,
    listing the server certificate when revoked). only_intermediate: the
    root's is left out (a CA of the chain without a CRL). Returns the
    file's path."""
    d = Path(d)
    tag = ("revoked" if revoked else "valid") + \
        ("-inter" if only_intermediate else "")
    inter = make_crl(d, f"intermediate-{tag}", d / "intermediate.pem",
                     d / "intermediate.key",
                     [d / "server.pem"] if revoked else [])
    text = inter.read_text()
    if not only_intermediate:
        root = make_crl(d, f"root-{tag}", d / "root.pem", d / "root.key")
        text = root.read_text() + text
    out = d / f"crls-{tag}.pem"
    out.write_text(text)
    return out


class Dovecot:
    def __init__(self, directory, tls=False, idle=True):
        self.dir = Path(directory)
        # idle=False: a server without IDLE (kontaktd polls)
        self.idle = idle
        self.port = free_port()
        # imaps (and STARTTLS on port) with a self-signed certificate
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.cert = self.dir / "cert.pem"
        self.key = self.dir / "key.pem"
        self.proc = None
        self.user = USER
        self.password = PASSWORD

    def start(self):
        d = self.dir
        for sub in ("run", "state", "mail"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        user, group, login = _users()
        ssl = "ssl = no"
        if self.tls:
            if not self.cert.exists():
                subprocess.run(
                    ["openssl", "req", "-x509", "-newkey", "rsa:2048",
                     "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                     "-keyout", str(self.key), "-out", str(self.cert)],
                    check=True, capture_output=True)
            ssl = (f"ssl = yes\nssl_cert = <{self.cert}\n"
                   f"ssl_key = <{self.key}")
        if not self.idle:
            ssl += ("\nimap_capability = IMAP4rev1 LITERAL+ SASL-IR "
                    "UIDPLUS MOVE")
        (d / "dovecot.conf").write_text(CONF.format(
            dir=d, port=self.port, tls_port=self.tls_port, ssl=ssl,
            user=user, group=group, login_user=login))
        (d / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if os.geteuid() == 0:
            ids = pwd.getpwnam(user)
            # The mail and Dovecot's state belong to its user.
            for sub in ("mail", "state"):
                os.chown(d / sub, ids.pw_uid, ids.pw_gid)
            os.chmod(d, 0o755)
            os.chmod(d / "passwd", 0o644)
        log = open(d / "dovecot.out", "ab")
        try:
            self.proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(d / "dovecot.conf")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()
        wait_until(self._accepts, 20, "Dovecot to accept a login")
        return self

    def _accepts(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"dovecot exited with {self.proc.returncode}"
                                 f":\n{self.log()}")
        try:
            with self.client():
                return True
        except (OSError, imaplib.IMAP4.error):
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Its children (imap, auth) go with it; wait for the port.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._port_open():
            time.sleep(0.1)

    def _port_open(self):
        import socket
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def reset_uids(self):
        """Stopped: forgets the folders' UIDs, so that Dovecot gives the
        same messages new UIDs under a new UIDVALIDITY when it starts."""
        assert self.proc.poll() is not None, "stop Dovecot first"
        for p in (self.dir / "mail").rglob("dovecot*"):
            if p.is_file():
                p.unlink()

    def fingerprint(self):
        """SHA-256 of the certificate (DER), as openssl prints it."""
        p = subprocess.run(["openssl", "x509", "-in", str(self.cert),
                            "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True)
        return p.stdout.strip().split("=", 1)[1]

    def tls_logins(self):
        """Dovecot's log lines of logins over TLS (the tests' own client
        logs in without TLS)."""
        return [line for line in self.log().splitlines()
                if "Login: " in line and re.search(r", TLS\b", line)]

    def log(self):
        text = ""
        for name in ("dovecot.out", "dovecot.log"):
            with contextlib.suppress(FileNotFoundError):
                text += (self.dir / name).read_text(errors="replace")
        return text

    @contextlib.contextmanager
    def client(self):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            m.login(USER, PASSWORD)
            yield m
        finally:
            with contextlib.suppress(Exception):
                m.logout()

    def append(self, raw, folder="INBOX"):
        """APPENDs raw (bytes or str; LF made CRLF); returns its UID."""
        if isinstance(raw, str):
            raw = raw.encode()
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        with self.client() as m:
            typ, data = m.append(folder, None, None, raw)
            assert typ == "OK", data
            text = data[0].decode()
        # "[APPENDUID <uidvalidity> <uid>] ..."
        return int(text.split("APPENDUID ", 1)[1].split()[1].rstrip("]"))

    def flags(self, uid, folder="INBOX"):
        """The flags of message uid, or None when it is not in folder."""
        with self.client() as m:
            m.select(folder)
            typ, data = m.uid("FETCH", str(uid), "(FLAGS)")
            assert typ == "OK", data
            if not data or data[0] is None:
                return None
            return data[0].decode()

    def count(self, folder="INBOX"):
        with self.client() as m:
            typ, data = m.select(folder)
            assert typ == "OK", data
            return int(data[0])

    def mailbox_config(self, password_file, **over):
        """A [mailbox:NAME] section for kontaktd."""
        cfg = {"host": "127.0.0.1", "port": self.port, "tls": "none",
               "user": USER, "password_file": str(password_file),
               "poll_interval": "2s"}
        cfg.update(over)
        return cfg


def server_dir():
    """A new folder for one Dovecot, in the system's temporary directory:
    Dovecot's unprivileged users must reach it wherever the checkout is (a
    checkout in /root is closed to them, and pytest's own temporary folders
    are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="ktd-dovecot-"))
    path.chmod(0o755)
    return path


@pytest.fixture
def dovecot(run_dir):
    path = server_dir()
    d = Dovecot(path).start()
    yield d
    d.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dovecot_tls(run_dir):
    """A Dovecot with imaps and STARTTLS (self-signed certificate)."""
    path = server_dir()
    d = Dovecot(path, tls=True).start()
    yield d
    d.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dovecot_ca(run_dir):
    """A Dovecot with imaps and STARTTLS whose certificate a test CA issued
    for 127.0.0.1 and imap.testrup.example (not for localhost); the CA's
    root certificate is its ca_file."""
    path = server_dir()
    d = Dovecot(path, tls=True)
    root, chain, key = make_test_pki(
        path / "pki", "IP:127.0.0.1, DNS:imap.testrup.example")
    shutil.copy(chain, d.cert)
    shutil.copy(key, d.key)
    d.ca_file = root
    d.start()
    yield d
    d.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dovecot_no_idle(run_dir):
    """A Dovecot whose CAPABILITY has no IDLE."""
    path = server_dir()
    d = Dovecot(path, idle=False).start()
    yield d
    d.stop()
    shutil.rmtree(path, ignore_errors=True)
