/* anomaly_table.h - every named anomaly a dissector can raise, in one list.
 * X(ID, "json_name", "what it means") generates the enum (anomaly.h), the
 * names in events and stats, and docs/anomalies.md (tools/gen-anomaly-doc).
 * Append only: ids are stable bit positions. */
#define ANOMALY_TABLE(X)                                                      \
	X(LINE_TOO_LONG, "line_too_long", "a command or reply line exceeded the line limit; bytes up to the next LF were discarded") \
	X(UNMATCHED_REPLY, "unmatched_reply", "a server reply arrived with no pending command to pair it with") \
	X(PIPELINE_OVERFLOW, "pipeline_overflow", "more pipelined commands were pending than the limit allows; the oldest were dropped") \
	X(BAD_BASE64, "bad_base64", "invalid characters inside base64 content or a base64 SASL argument") \
	X(BAD_QUOTED_PRINTABLE, "bad_quoted_printable", "malformed =XX escape in quoted-printable content") \
	X(TRUNCATED_MESSAGE, "truncated_message", "the message ended early: a packet gap, the connection closed, or the session was cut") \
	X(GAP, "gap", "packets were missing from the TCP stream; parsing resynchronised at the next command") \
	X(HEADER_TOO_LONG, "header_too_long", "message header bytes exceeded the limit; the rest were skipped") \
	X(TOO_MANY_HEADERS, "too_many_headers", "the header count exceeded the limit") \
	X(MIME_TOO_DEEP, "mime_too_deep", "multipart nesting exceeded the depth limit; deeper parts were treated as opaque") \
	X(TOO_MANY_PARTS, "too_many_parts", "MIME part count exceeded the limit; later parts were not described") \
	X(TOO_MANY_TRANSACTIONS, "too_many_transactions", "transactions (messages) per flow exceeded the limit; later ones were only counted") \
	X(TOO_MANY_RECIPIENTS, "too_many_recipients", "recipients per message exceeded the limit kept in the event") \
	X(BAD_COMMAND, "bad_command", "a client line was not a known command of the protocol") \
	X(BAD_REPLY, "bad_reply", "a server line was not a well-formed reply") \
	X(BAD_SEQUENCE, "bad_sequence", "a command arrived in a state where it is not valid (e.g. RCPT before MAIL)") \
	X(BAD_BDAT, "bad_bdat", "a BDAT chunk size was missing, negative or too large") \
	X(BAD_ADDRESS, "bad_address", "an envelope or header address could not be parsed") \
	X(BAD_ENCODED_WORD, "bad_encoded_word", "an RFC 2047 encoded word or RFC 2231 parameter could not be decoded") \
	X(BAD_MIME_BOUNDARY, "bad_mime_boundary", "a multipart part had no usable boundary or its closing boundary was missing") \
	X(INVALID_UTF8, "invalid_utf8", "text was not valid UTF-8: header text was read as Windows-1252 (the charset of most undeclared 8-bit headers), other text repaired with U+FFFD") \
	X(DATA_AFTER_STARTTLS, "data_after_starttls", "cleartext was pipelined behind STARTTLS, or the server spoke in cleartext first once it had accepted STARTTLS (command or response injection, as in CVE-2011-0411)") \
	X(BAD_LITERAL, "bad_literal", "an IMAP literal size was malformed or too large") \
	X(TOO_MANY_MESSAGES, "too_many_messages", "retrieved/appended messages per session exceeded the limit kept in the event") \
	X(AUTH_FAILED, "auth_failed", "an authentication attempt was rejected by the server") \
	X(COMPRESSED, "compressed", "the session switched to COMPRESS=DEFLATE; the rest is opaque") \
	X(ONE_SIDED, "one_sided", "only one direction of the session was captured") \
	X(CLEARTEXT_AFTER_STARTTLS, "cleartext_after_starttls", "the session went on in cleartext after STARTTLS was accepted (a decrypted capture, or a fake upgrade that hides the session from sensors that stop at STARTTLS); it was parsed on")
