# SPDX-License-Identifier: MPL-2.0
"""The Dovecot of tools/bench mail (Debian's /usr/bin/python3):

  bench-mail.py start DIR N   a private Dovecot in DIR (as the integration
                              tests start it: tests/integration/imap_server.py,
                              127.0.0.1 only), then N generated messages
                              APPENDed to its INBOX over one connection;
                              prints "PORT USER PASSWORD"
  bench-mail.py stop DIR      stops that Dovecot

The messages are the same in every run (a fixed seed): plain Danish text
in UTF-8 (8bit) and in Latin-1 quoted-printable, HTML only, with a small
attachment, and replies (In-Reply-To, References) to earlier ones; about
2,000 senders, so that some citizens write more than once. Every message
has its own Message-ID."""

import base64
import imaplib
import os
import quopri
import random
import signal
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent
                       / "tests" / "integration"))
import imap_server  # noqa: E402

# Not a mail store to trust, a fixture to fill fast: no fsync per message.
imap_server.CONF += "mail_fsync = never\n"

SEED = 5
WORDS = ("vej skrald affald container storskrald byggetilladelse carport "
         "ansøgning kommune borgerservice pas kørekort flytning adresse "
         "tømning haveaffald rotter kloak fortov snerydning bus skole "
         "daginstitution plads venteliste ældrepleje hjemmehjælp madservice "
         "ejendomsskat betaling rykker frist svar sagsbehandling afgørelse "
         "klage høring naboer støj træer fældning parkering licens "
         "æbletræ gårdsplads økonomi ønske øjeblikkelig åben være både "
         "også måske hurtigt venlig hilsen tak på forhånd").split()
NAMES = ("Jens Hansen", "Mette Nielsen", "Søren Østergaard", "Åse Jørgensen",
         "Birgitte Lærke", "Ole Kjær", "Hanne Bøgh", "Niels Ærø")


def sentence(rnd, n):
    w = [rnd.choice(WORDS) for _ in range(n)]
    return " ".join(w).capitalize() + "."


def text(rnd):
    paras = []
    for _ in range(rnd.randint(1, 5)):
        paras.append(" ".join(sentence(rnd, rnd.randint(5, 14))
                              for _ in range(rnd.randint(1, 4))))
    return "\n\n".join(paras) + "\n\nVenlig hilsen\n"


def message(rnd, i, earlier):
    sender = rnd.randint(1, 2000)
    name = rnd.choice(NAMES)
    mid = f"<bench-{i}-{SEED}@borger{sender}.example>"
    subject = sentence(rnd, rnd.randint(2, 6))[:-1]
    kind = rnd.random()
    head = [f"From: {name} <borger{sender}@example.dk>",
            "To: kontakt@kommune.example",
            f"Subject: =?UTF-8?B?"
            f"{base64.b64encode(subject.encode()).decode()}?=",
            f"Date: Thu, 26 Nov 2026 {8 + i % 9:02d}:{i % 60:02d}:00 +0100",
            f"Message-ID: {mid}", "MIME-Version: 1.0"]
    if kind < 0.10 and earlier:
        parent = rnd.choice(earlier)
        head += [f"In-Reply-To: {parent}", f"References: {parent}"]
    body = text(rnd)
    if kind < 0.45:
        head += ["Content-Type: text/plain; charset=utf-8",
                 "Content-Transfer-Encoding: 8bit"]
        raw = "\r\n".join(head).encode() + b"\r\n\r\n" + body.encode()
    elif kind < 0.65:
        head += ["Content-Type: text/plain; charset=iso-8859-1",
                 "Content-Transfer-Encoding: quoted-printable"]
        raw = ("\r\n".join(head).encode() + b"\r\n\r\n"
               + quopri.encodestring(body.encode("latin-1")))
    elif kind < 0.82:
        html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
        head += ["Content-Type: text/html; charset=utf-8",
                 "Content-Transfer-Encoding: 8bit"]
        raw = ("\r\n".join(head).encode() + b"\r\n\r\n"
               + f"<html><body>{html}</body></html>\n".encode())
    else:
        blob = rnd.randbytes(rnd.randint(1000, 8000))
        att = base64.encodebytes(blob).decode()
        head += ['Content-Type: multipart/mixed; boundary="b-%d"' % i]
        raw = "\r\n".join(head + [
            "", f"--b-{i}", "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit", "", body,
            f"--b-{i}", "Content-Type: application/pdf",
            'Content-Disposition: attachment; filename="bilag.pdf"',
            "Content-Transfer-Encoding: base64", "", att,
            f"--b-{i}--", ""]).encode()
    earlier.append(mid)
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def start(directory, n):
    d = imap_server.Dovecot(Path(directory)).start()
    (Path(directory) / "dovecot.pid").write_text(f"{d.proc.pid}\n")
    rnd = random.Random(SEED)
    earlier = []
    deadline = time.monotonic() + 600
    m = imaplib.IMAP4("127.0.0.1", d.port, timeout=30)
    # The literal of each APPEND goes out at once, not after the ACK of
    # the command before it.
    m.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    m.login(d.user, d.password)
    for i in range(n):
        if time.monotonic() > deadline:
            sys.exit("bench-mail.py: APPEND took more than 600 s")
        typ, data = m.append("INBOX", None, None, message(rnd, i, earlier))
        if typ != "OK":
            sys.exit(f"bench-mail.py: APPEND failed: {data}")
    typ, data = m.select("INBOX")
    m.logout()
    if int(data[0]) != n:
        sys.exit(f"bench-mail.py: INBOX has {data[0]} messages, not {n}")
    print(d.port, d.user, d.password)


def stop(directory):
    pidfile = Path(directory) / "dovecot.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    pidfile.unlink()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "start":
        start(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "stop":
        stop(sys.argv[2])
    else:
        sys.exit(__doc__)
