-- SPDX-License-Identifier: MPL-2.0
-- The e-mail channel's intake over IMAP: where each mailbox's ingest
-- stands, the raw messages kept for audit and export, and the receipts
-- (kvitteringer) already sent to each sender.
--
-- Every inbound e-mail is a contact of channel 'email' whose external_id
-- is its Message-ID with the angle brackets ("<id@host>"), so that the
-- contacts' unique (channel, external_id) dedupes a message delivered
-- twice, also across mailboxes; a message without a Message-ID gets
-- "NAME:UIDVALIDITY:UID" instead. Replies and receipts carry their
-- Message-ID the same way (channel 'outbound_email'), so that the
-- In-Reply-To and References of an answer find their case through the
-- same index.

-- One row per [mailbox:NAME]: the UIDVALIDITY of its folder and the
-- highest UID whose message is stored. Written in the transaction that
-- stores the message; the message is flagged or moved only after it.
CREATE TABLE mailbox_state (
	name text PRIMARY KEY
		CONSTRAINT mailbox_state_name_check
		CHECK (name ~ '^[a-z0-9_-]{1,32}$'),
	uidvalidity bigint NOT NULL
		CONSTRAINT mailbox_state_uidvalidity_check
		CHECK (uidvalidity BETWEEN 0 AND 4294967295),
	last_uid bigint NOT NULL DEFAULT 0
		CONSTRAINT mailbox_state_last_uid_check
		CHECK (last_uid BETWEEN 0 AND 4294967295),
	updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE mailbox_state IS
	'IMAP ingest position per mailbox (UIDVALIDITY, last stored UID)';

-- The message as it came from the IMAP server, one per inbound e-mail
-- contact (contacts.raw_ref names it as "imap:NAME:UIDVALIDITY:UID").
-- A message larger than the mailbox's max_message_size keeps its header
-- only (truncated), and its contact says so.
CREATE TABLE raw_messages (
	contact_id bigint PRIMARY KEY REFERENCES contacts (id),
	mailbox text NOT NULL
		CONSTRAINT raw_messages_mailbox_check
		CHECK (mailbox ~ '^[a-z0-9_-]{1,32}$'),
	uidvalidity bigint NOT NULL,
	uid bigint NOT NULL,
	size bigint NOT NULL
		CONSTRAINT raw_messages_size_check CHECK (size >= 0),
	truncated boolean NOT NULL DEFAULT false,
	data bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT raw_messages_data_check
		CHECK (truncated OR length(data) = size)
);

CREATE INDEX raw_messages_mailbox_uid_idx
	ON raw_messages (mailbox, uidvalidity, uid);

COMMENT ON TABLE raw_messages IS
	'Raw inbound e-mail (RFC 5322 bytes) for audit and export';

-- At most one receipt per sender per [receipt] interval: the last time
-- one was queued to the address (lower case).
CREATE TABLE receipt_senders (
	address text PRIMARY KEY
		CONSTRAINT receipt_senders_address_check
		CHECK (char_length(address) BETWEEN 3 AND 320
			AND address = lower(address)),
	last_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE receipt_senders IS
	'When each address last got an automatic receipt (RFC 3834 rate limit)';
