# Real Debian daemons for the STARTTLS tests (issue 13): postfix, dovecot, slapd,
# postgresql, mariadb, prosody, vsftpd. Each is started with its own instance directory
# (under the system temporary directory, readable by the daemon's own user, see
# /work/shared/notes/daemons.md) on free ports of 127.0.0.1, and stopped by its pid.
#
# Rules kept: nothing outside the instance directory is written; every wait is bounded;
# a daemon that is not installed (or a run without root) skips the tests that need it.
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scanner.lab.certs import IssuedCert


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need(*programs: str) -> None:
    """Skip the test unless every program exists and we are root (daemons drop to their
    own users, which needs root)."""
    if os.geteuid() != 0:
        pytest.skip("starting the real daemons needs root")
    for p in programs:
        if not (shutil.which(p) or Path(p).exists()):
            pytest.skip(f"{p} is not installed (.ci/run installs it)")


def wait_port(port: int, seconds: float = 15.0, log: Path | None = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    text = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds}s\n{text}")


def instance_dir(name: str, owner: str | None = None) -> Path:
    d = Path(tempfile.mkdtemp(prefix=f"tlscompat-{name}-", dir="/tmp"))
    d.chmod(0o755)
    if owner:
        chown(d, owner)
    return d


def chown(path: Path, user: str, group: str | None = None) -> None:
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(group).gr_gid if group else pwd.getpwnam(user).pw_gid
    os.chown(path, uid, gid)


def copy_cert(cert: IssuedCert, d: Path, owner: str | None = None) -> tuple[Path, Path]:
    """The certificate (with its chain) and key in ``d``, the key readable by ``owner``."""
    crt, key = d / "server.crt", d / "server.key"
    shutil.copyfile(cert.fullchain_path, crt)
    shutil.copyfile(cert.key_path, key)
    crt.chmod(0o644)
    key.chmod(0o600)
    if owner:
        chown(key, owner)
        chown(crt, owner)
    return crt, key


@dataclass
class Daemon:
    """A running daemon: its ports by protocol, its directory, how to stop it."""

    name: str
    directory: Path
    ports: dict[str, int]
    proc: subprocess.Popen[bytes] | None = None
    pidfile: Path | None = None
    stop_cmd: list[str] = field(default_factory=list)

    def stop(self) -> None:
        if self.stop_cmd:
            subprocess.run(self.stop_cmd, capture_output=True, timeout=30, check=False)
        if self.pidfile is not None and self.pidfile.exists():
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(self.pidfile.read_text().split()[0]), signal.SIGTERM)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


def _started(daemon: Daemon, log: Path, seconds: float = 15.0) -> Daemon:
    """``daemon`` once each of its ports listens; stopped (its directory removed) and the
    error raised, with the end of ``log``, when one does not within ``seconds``."""
    try:
        for p in daemon.ports.values():
            wait_port(p, seconds, log=log)
    except BaseException:
        daemon.stop()
        raise
    return daemon


def _start(
    name: str, d: Path, ports: dict[str, int], cmd: list[str], *, output: str = "stdout.log",
    log: str | None = None, seconds: float = 15.0, pidfile: Path | None = None,
    env: dict[str, str] | None = None,
) -> Daemon:
    """Run ``cmd`` in the foreground, its output to ``d/output``, and wait for its
    ``ports`` (_started; ``log``, in ``d``, is the file quoted if they do not open:
    ``output`` unless the daemon logs elsewhere)."""
    out = open(d / output, "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    finally:
        out.close()
    daemon = Daemon(name=name, directory=d, ports=ports, proc=proc, pidfile=pidfile)
    return _started(daemon, d / (log or output), seconds)


# -- postfix ---------------------------------------------------------------------------------

_POSTFIX_SERVICES = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def start_postfix(cert: IssuedCert) -> Daemon:
    """postfix with three smtpd listeners: "smtp" (STARTTLS offered, AUTH advertised
    before TLS by a fake SASL-less setting is not possible, so none), "submission"
    (STARTTLS, client certificates asked for) and "plain" (no TLS at all); "smtps" is the
    same server on implicit TLS."""
    need("postfix")
    d = instance_dir("postfix")
    for sub in ("etc", "spool", "data"):
        (d / sub).mkdir()
    chown(d / "data", "postfix")
    crt, key = copy_cert(cert, d)
    ports = {k: free_port() for k in ("smtp", "submission", "plain", "smtps")}
    (d / "etc" / "main.cf").write_text(
        f"""compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.test.invalid
mydestination =
maillog_file_prefixes = /tmp
maillog_file = {d}/maillog
smtpd_tls_chain_files = {key}, {crt}
smtpd_tls_security_level = may
alias_maps =
alias_database =
"""
    )
    (d / "etc" / "master.cf").write_text(
        f"127.0.0.1:{ports['smtp']} inet n - n - - smtpd\n"
        f"127.0.0.1:{ports['submission']} inet n - n - - smtpd -o smtpd_tls_ask_ccert=yes\n"
        f"127.0.0.1:{ports['plain']} inet n - n - - smtpd -o smtpd_tls_security_level=none\n"
        f"127.0.0.1:{ports['smtps']} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n"
        + _POSTFIX_SERVICES
    )
    daemon = Daemon(
        name="postfix", directory=d, ports=ports,
        stop_cmd=["postfix", "-c", str(d / "etc"), "stop"],
    )
    r = subprocess.run(["postfix", "-c", str(d / "etc"), "start"], capture_output=True, timeout=60, check=False)
    if r.returncode:
        daemon.stop()
        raise RuntimeError(f"postfix start failed: {r.stderr.decode(errors='replace')}")
    return _started(daemon, d / "maillog")


# -- dovecot ---------------------------------------------------------------------------------


def start_dovecot(cert: IssuedCert) -> Daemon:
    """dovecot serving IMAP, POP3, ManageSieve and LMTP with STARTTLS, plaintext
    authentication allowed before TLS (disable_plaintext_auth = no)."""
    need("dovecot", "/usr/lib/dovecot/managesieve-login", "/usr/lib/dovecot/lmtp")
    d = instance_dir("dovecot")
    crt, key = copy_cert(cert, d)
    ports = {k: free_port() for k in ("imap", "pop3", "sieve", "lmtp", "imaps")}
    (d / "dovecot.conf").write_text(
        f"""protocols = imap pop3 sieve lmtp
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = yes
ssl_cert = <{crt}
ssl_key = <{key}
default_internal_user = dovecot
default_login_user = dovenull
auth_mechanisms = plain login
disable_plaintext_auth = no
mail_location = maildir:{d}/mail/%u
passdb {{
  driver = static
  args = password=not-used
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {ports['imap']}
  }}
  inet_listener imaps {{
    port = {ports['imaps']}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {ports['pop3']}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service managesieve-login {{
  inet_listener sieve {{
    port = {ports['sieve']}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {ports['lmtp']}
  }}
}}
"""
    )
    return _start("dovecot", d, ports, ["dovecot", "-F", "-c", str(d / "dovecot.conf")], log="dovecot.log")


# -- slapd -----------------------------------------------------------------------------------


def start_slapd(cert: IssuedCert, *, tls: bool = True, extra: str = "") -> Daemon:
    """OpenLDAP's slapd (built with GnuTLS on Debian) with StartTLS ("ldap") and implicit
    TLS ("ldaps"); ``tls=False``: no certificate configured, so StartTLS is answered
    protocolError (and no "ldaps"). ``extra``: global slapd.conf lines (e.g. `security
    simple_bind=1`)."""
    need("slapd")
    d = instance_dir("slapd", "openldap")
    (d / "db").mkdir()
    chown(d / "db", "openldap")
    crt, key = copy_cert(cert, d, "openldap")
    port = free_port()
    ldaps = free_port() if tls else None
    tls_lines = f"TLSCertificateFile {crt}\nTLSCertificateKeyFile {key}\n" if tls else ""
    (d / "slapd.conf").write_text(
        f"""include /etc/ldap/schema/core.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
{tls_lines}{extra}
database mdb
suffix "dc=test,dc=invalid"
rootdn "cn=admin,dc=test,dc=invalid"
directory {d}/db
"""
    )
    ports = {"ldap": port, **({"ldaps": ldaps} if ldaps else {})}
    return _start(
        "slapd", d, ports,
        ["slapd", "-h", f"ldap://127.0.0.1:{port}/" + (f" ldaps://127.0.0.1:{ldaps}/" if ldaps else ""),
         "-f", str(d / "slapd.conf"), "-u", "openldap", "-d", "0"],
        output="slapd.log",
    )


# -- postgresql ------------------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.skip("postgresql is not installed (.ci/run installs it)")
    return str(found[-1])


def start_postgres(cert: IssuedCert, *, ssl: bool = True) -> Daemon:
    """A PostgreSQL cluster of its own (initdb as the postgres user), ssl on or off."""
    need("su")
    initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
    d = instance_dir("postgres", "postgres")
    data = d / "data"
    r = subprocess.run(
        ["su", "postgres", "-s", "/bin/sh", "-c", f"{initdb} -D {data} -A trust"],
        capture_output=True, timeout=120, check=False,
    )
    if r.returncode:
        shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {r.stderr.decode(errors='replace')}")
    crt, key = copy_cert(cert, data, "postgres")
    with open(data / "postgresql.conf", "a") as fp:
        fp.write(f"ssl = {'on' if ssl else 'off'}\nssl_cert_file = '{crt}'\nssl_key_file = '{key}'\n")
    port = free_port()
    return _start(
        "postgres", d, {"postgres": port},
        ["su", "postgres", "-s", "/bin/sh", "-c", f"exec {postgres} -D {data} -p {port} -k {d} -h 127.0.0.1"],
        output="postgres.log", pidfile=data / "postmaster.pid",
    )


# -- mariadb ---------------------------------------------------------------------------------


def start_mariadb(cert: IssuedCert, *, max_connections: int = 100) -> Daemon:
    """MariaDB with its own data directory (mariadb-install-db), TLS configured."""
    need("mariadbd", "mariadb-install-db")
    d = instance_dir("mariadb", "mysql")
    crt, key = copy_cert(cert, d, "mysql")
    r = subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={d}/data", "--user=mysql",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        capture_output=True, timeout=120, check=False,
    )
    if r.returncode:
        shutil.rmtree(d, ignore_errors=True)
        raise RuntimeError(f"mariadb-install-db failed: {r.stdout.decode(errors='replace')[-1000:]}")
    port = free_port()
    return _start(
        "mariadb", d, {"mysql": port},
        ["mariadbd", "--no-defaults", f"--datadir={d}/data", f"--socket={d}/sock", f"--port={port}",
         "--bind-address=127.0.0.1", "--user=mysql", f"--ssl-cert={crt}", f"--ssl-key={key}",
         f"--pid-file={d}/mariadb.pid", f"--log-error={d}/error.log", f"--max-connections={max_connections}"],
        log="error.log", seconds=60,
    )


# -- prosody ---------------------------------------------------------------------------------


def start_prosody(cert: IssuedCert) -> Daemon:
    """prosody serving the domain "localhost", client and server-to-server with STARTTLS."""
    need("prosody")
    d = instance_dir("prosody", "prosody")
    crt, key = copy_cert(cert, d, "prosody")
    ports = {"xmpp": free_port(), "xmpp-server": free_port()}
    conf = d / "prosody.cfg.lua"
    conf.write_text(
        f"""pidfile = "{d}/prosody.pid"
data_path = "{d}"
log = {{ info = "{d}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {ports['xmpp']} }}
s2s_ports = {{ {ports['xmpp-server']} }}
c2s_direct_tls_ports = {{}}
s2s_direct_tls_ports = {{}}
modules_enabled = {{ "tls", "saslauth", "disco", "dialback" }}
c2s_require_encryption = false
s2s_require_encryption = false
daemonize = false
run_as_root = true
ssl = {{ certificate = "{crt}", key = "{key}" }}
VirtualHost "localhost"
"""
    )
    chown(conf, "prosody")
    return _start("prosody", d, ports, ["prosody", "--config", str(conf), "-F"], log="prosody.log")


# -- vsftpd ----------------------------------------------------------------------------------


def start_vsftpd(cert: IssuedCert) -> Daemon:
    """vsftpd with AUTH TLS (ssl_enable=YES), no anonymous access."""
    need("vsftpd")
    d = instance_dir("vsftpd")
    crt, key = copy_cert(cert, d)
    (d / "empty").mkdir()
    port = free_port()
    (d / "vsftpd.conf").write_text(
        f"""listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=NO
local_enable=YES
ssl_enable=YES
rsa_cert_file={crt}
rsa_private_key_file={key}
secure_chroot_dir={d}/empty
vsftpd_log_file={d}/vsftpd.log
seccomp_sandbox=NO
"""
    )
    return _start("vsftpd", d, {"ftp": port}, ["vsftpd", str(d / "vsftpd.conf")])


# -- inn2 (nnrpd) ----------------------------------------------------------------------------


def start_nnrpd(cert: IssuedCert) -> Daemon:
    """INN's reader daemon nnrpd, standalone (-D), with its own inn.conf (INNCONF), one
    empty group and its overview, TLS configured (STARTTLS, RFC 4642)."""
    need("/usr/lib/news/bin/nnrpd", "/usr/lib/news/bin/tdx-util")
    if not Path("/etc/news/inn.conf").exists():
        pytest.skip("inn2 is not configured (.ci/run)")
    d = instance_dir("inn", "news")
    crt, key = copy_cert(cert, d, "news")
    for sub in ("run", "db", "log", "etc", "spool/overview", "spool/articles", "spool/tmp"):
        (d / sub).mkdir(parents=True)
    for f in Path("/etc/news").iterdir():
        if f.is_file():
            shutil.copyfile(f, d / "etc" / f.name)
    paths = {
        "pathrun": d / "run", "pathlog": d / "log", "pathetc": d / "etc", "pathdb": d / "db",
        "pathspool": d / "spool", "pathoverview": d / "spool/overview",
        "patharticles": d / "spool/articles", "pathtmp": d / "spool/tmp",
    }
    lines = []
    for line in Path("/etc/news/inn.conf").read_text().splitlines():
        key_name = line.split(":", 1)[0].strip().lstrip("#")
        if key_name in paths or key_name in ("tlscertfile", "tlskeyfile", "domain"):
            continue
        lines.append(line)
    lines += [f"{k}: {v}" for k, v in paths.items()]
    lines += [f"tlscertfile: {crt}", f"tlskeyfile: {key}", "domain: test.invalid"]
    conf = d / "etc" / "inn.conf"
    conf.write_text("\n".join(lines) + "\n")
    (d / "etc" / "readers.conf").write_text(
        'auth "all" {\n    hosts: "*"\n    default: "<all>"\n}\n'
        'access "all" {\n    users: "*"\n    newsgroups: "*"\n}\n'
    )
    (d / "db" / "active").write_text("local.test 0000000000 0000000001 y\n")
    (d / "db" / "newsgroups").write_text("local.test\tlocal test group\n")
    (d / "db" / "history").write_text("")
    (d / "spool" / "tradspool.map").write_text("")
    subprocess.run(["chown", "-R", "news:news", str(d)], check=True, timeout=30)
    env = {**os.environ, "INNCONF": str(conf)}
    subprocess.run(
        ["su", "news", "-s", "/bin/sh", "-c", f"INNCONF={conf} /usr/lib/news/bin/tdx-util -A"],
        capture_output=True, timeout=60, check=False, env=env,
    )
    port = free_port()
    return _start("nnrpd", d, {"nntp": port}, ["/usr/lib/news/bin/nnrpd", "-D", "-f", "-b", "127.0.0.1", "-p", str(port)], env=env)


# -- xrdp ------------------------------------------------------------------------------------


def start_xrdp(cert: IssuedCert) -> Daemon:
    """xrdp with Debian's xrdp.ini, on its own port, security_layer=tls, ssl_protocols
    TLSv1.2 and TLSv1.3 (what the test compares with: openssl s_client has no RDP)."""
    need("xrdp")
    d = instance_dir("xrdp")
    crt, key = copy_cert(cert, d)
    port = free_port()
    replaced = {  # Debian's xrdp.ini lines that begin so -> ours
        "port=3389": f"port=tcp://127.0.0.1:{port}",
        "security_layer=": "security_layer=tls",
        "certificate=": f"certificate={crt}",
        "key_file=": f"key_file={key}",
        "ssl_protocols=": "ssl_protocols=TLSv1.2, TLSv1.3",
        "LogFile=": f"LogFile={d}/xrdp.log",
    }
    out = [
        next((new for old, new in replaced.items() if line.startswith(old)), line)
        for line in Path("/etc/xrdp/xrdp.ini").read_text().splitlines()
    ]
    (d / "xrdp.ini").write_text("\n".join(out) + "\n")
    return _start("xrdp", d, {"rdp": port}, ["xrdp", "--nodaemon", "--config", str(d / "xrdp.ini")], log="xrdp.log")


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    try:
        yield daemon
    finally:
        daemon.stop()


def s_client(proto: str, port: int, *extra: str) -> tuple[str, str, bytes]:
    """What `openssl s_client -starttls PROTO` establishes: (protocol version, cipher
    suite in OpenSSL's name, the server's leaf certificate in PEM)."""
    cmd = [
        "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", proto,
        "-servername", "localhost", *extra,
    ]
    if proto.startswith("xmpp"):
        cmd += ["-xmpphost", "localhost"]
    r = subprocess.run(cmd, input=b"", capture_output=True, timeout=30, check=False)
    out = r.stdout.decode(errors="replace")
    version = cipher = ""
    for line in out.splitlines():
        # "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"
        if line.startswith("New, ") and ", Cipher is " in line:
            head, _, cipher = line.partition(", Cipher is ")
            version = head.split(", ")[1].strip()
            cipher = cipher.strip()
            if cipher == "(NONE)":
                version = cipher = ""
    begin, end = out.find("-----BEGIN CERTIFICATE-----"), out.find("-----END CERTIFICATE-----")
    pem = out[begin : end + 25].encode() if begin >= 0 else b""
    return version, cipher, pem
