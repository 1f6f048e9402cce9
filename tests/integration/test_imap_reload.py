# SPDX-License-Identifier: MPL-2.0
"""[mailbox:NAME] sections on SIGHUP, against a real Dovecot: an added
mailbox starts, a removed one stops, a changed one restarts with its new
keys, an unchanged one runs on untouched; a reload whose new mailbox
cannot be used changes nothing."""

import signal
import time

from imap_server import dovecot  # noqa: F401  (the fixture)
from test_imap import FROM, contacts, mail, wait_contacts


def test_sighup_starts_stops_and_restarts_mailboxes(kontaktd, dovecot,  # noqa: F811
                                                    tmp_path):
    pw = tmp_path / "imap.password"
    pw.write_text(dovecot.password + "\n")
    with dovecot.client() as m:
        for f in ("Other", "Third"):
            m.create(f)
    a = dovecot.mailbox_config(pw, poll_interval="1s")
    d = kontaktd(config={"mailbox:a": a, "smtp": {"from": FROM}},
                 allowed_errors=[r"event=config_reload_failed"])
    base = d.config_path.read_text()
    dovecot.append(mail("Til a", message_id="r1@borger.example"))
    dovecot.append(mail("Til b", message_id="r2@borger.example"),
                   folder="Other")
    wait_contacts(d, 1)

    def reload(extra):
        mark = d.log_mark()
        d.config_path.write_text(base + "\n" + extra)
        d.signal(signal.SIGHUP)
        d.wait_for_log(r"event=config_reload(ed|_failed)", start=mark)
        return mark

    # Added: b starts and takes the mail waiting in its folder.
    b_text = ("[mailbox:b]\n" + "\n".join(
        f"{k} = {v}" for k, v in dovecot.mailbox_config(
            pw, poll_interval="1s", folder="Other").items()) + "\n")
    mark = reload(b_text)
    d.wait_for_log(r"event=mailbox_started mailbox=b reason=added",
                   start=mark)
    wait_contacts(d, 2)
    assert not d.log_contains(r"event=mailbox_(stopped|started) mailbox=a",
                              start=mark)
    assert not d.log_contains(r"section=mailbox", start=mark)

    # Changed: b reads another folder from now on.
    dovecot.append(mail("Til b, tredje", message_id="r3@borger.example"),
                   folder="Third")
    mark = reload(b_text.replace("folder = Other", "folder = Third"))
    d.wait_for_log(r"event=mailbox_stopped mailbox=b reason=changed",
                   start=mark)
    d.wait_for_log(r"event=mailbox_started mailbox=b reason=changed",
                   start=mark)
    wait_contacts(d, 3)
    d.wait_for_log(r"event=imap_connected mailbox=b .*folder=Third",
                   start=mark)

    # A new mailbox that cannot be used: nothing changes.
    bad = ("[mailbox:c]\nhost = 127.0.0.1\nuser = u\ntls = none\n"
           f"password_file = {tmp_path / 'missing'}\n")
    mark = reload(b_text.replace("folder = Other", "folder = Third") + bad)
    line = d.wait_for_log(r"event=config_reload_failed", start=mark)
    assert "[mailbox:c] password_file" in line
    assert "keeping the running configuration" in line
    assert not d.log_contains(r"event=mailbox_(stopped|started)",
                              start=mark)
    dovecot.append(mail("Stadig b", message_id="r4@borger.example"),
                   folder="Third")
    wait_contacts(d, 4)

    # Removed: b stops; its folder is left alone.
    mark = reload("")
    d.wait_for_log(r"event=mailbox_stopped mailbox=b reason=removed",
                   start=mark)
    dovecot.append(mail("Ingen læser", message_id="r5@borger.example"),
                   folder="Third")
    dovecot.append(mail("Til a igen", message_id="r6@borger.example"))
    wait_contacts(d, 5)
    time.sleep(2)
    assert sorted(r[5] for r in contacts(d)) == [
        f"<r{i}@borger.example>" for i in (1, 2, 3, 4, 6)]
    assert not d.log_contains(r"event=mailbox_(stopped|started) mailbox=a")
    assert not d.log_contains(r"event=imap_error")
    assert d.stop() == 0
