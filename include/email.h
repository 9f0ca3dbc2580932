/* email.h - streaming parser for one RFC 5322 message with MIME, shared by
 * the SMTP, IMAP and POP3 dissectors.
 *
 * Feed it the message bytes exactly as the message is (SMTP DATA already
 * dot-unstuffed, BDAT chunk bodies, IMAP literal contents, POP3 RETR bodies
 * unstuffed), in pieces of any size. It never buffers the whole message:
 * header lines are assembled in a bounded buffer, bodies are decoded
 * (base64, quoted-printable) on the fly into a small window used for magic
 * detection, SHA-256 (libcrypto EVP) and URL counting.
 *
 * Ownership: email_new() allocates; email_free() frees (NULL-safe).
 * email_to_json() returns a new reference the caller owns. Strings in the
 * JSON are valid UTF-8 (invalid bytes repaired, INVALID_UTF8 raised) and cut
 * at limits->field_max bytes. */
#ifndef MAILSIFT_EMAIL_H
#define MAILSIFT_EMAIL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "anomaly.h"
#include "mail_limits.h"

struct email;

struct email_counts {
	uint64_t raw_bytes;        /* message bytes fed */
	uint64_t header_bytes;     /* top-level header block bytes */
	uint64_t body_bytes;       /* raw_bytes - header_bytes */
	uint64_t attachment_bytes; /* decoded bytes of attachment/non-text parts */
	uint32_t parts;            /* MIME leaf parts seen */
	uint32_t attachments;      /* parts reported in email.attachments */
	uint32_t urls;             /* URLs counted in text parts */
};

struct email *email_new(const struct mail_limits *limits);
void email_free(struct email *e);
void email_feed(struct email *e, const uint8_t *data, size_t len);
/* No more bytes will come. truncated != 0 marks the message incomplete
 * (raises TRUNCATED_MESSAGE) and closes every open part. */
void email_finish(struct email *e, int truncated);

const struct email_counts *email_counts(const struct email *e);
const struct anomaly_set *email_anomalies(const struct email *e);
/* The "email" object: from {address, display_name}, sender, to[], cc[],
 * reply_to[], subject, date, message_id, in_reply_to, x_mailer,
 * user_agent, x_originating_ip, return_path, received_count,
 * received_first, received_last, attachments[] {filename, content_type,
 * size, magic_type, extension_mismatch, sha256}, part_count, url_count,
 * report_labels (only when some were seen), header_bytes, body_bytes,
 * attachment_bytes. Absent headers are omitted.
 *
 * Shapes: from and sender are objects {address, display_name}; to, cc and
 * reply_to are arrays of such objects (always present, empty when none;
 * group members are listed, empty groups add nothing). display_name is
 * omitted when there is none; addresses are normalised as by
 * email_normalize_address(). subject, x_mailer, user_agent and display
 * names are RFC 2047 decoded; return_path is a normalised address ("" for
 * <>); received_first/received_last are the topmost and bottom-most
 * Received values, unfolded. Each attachment also has "script_kind"
 * (shell, powershell, python, perl, ruby, php, vbscript, batch,
 * javascript) when magic_type is "script"; filename and content_type
 * (lower-cased type/subtype as declared) are omitted when absent. */
json_t *email_to_json(const struct email *e);

/* --- pieces other modules reuse --- */

/* Normalise an address: strip <>, surrounding space and a source route,
 * lower-case the domain. Writes at most outsz-1 bytes plus NUL; returns the
 * length, or -1 if no address could be found. */
int email_normalize_address(const char *in, size_t inlen, char *out, size_t outsz);

#endif
