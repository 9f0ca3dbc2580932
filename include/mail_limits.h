/* mail_limits.h - the bounds every mail dissector enforces. Each one is
 * configurable with --limit NAME=VALUE; hitting one raises a named anomaly. */
#ifndef MAILSIFT_MAIL_LIMITS_H
#define MAILSIFT_MAIL_LIMITS_H

#include <stdint.h>

/* X(field, "cli-name", default, "meaning") */
#define MAIL_LIMIT_TABLE(X)                                                  \
	X(line_max, "line", 4096, "longest command/reply/header line kept, bytes") \
	X(header_bytes_max, "header-bytes", 262144, "header bytes parsed per message") \
	X(header_count_max, "header-count", 1000, "header fields parsed per message") \
	X(mime_depth_max, "mime-depth", 16, "multipart nesting depth") \
	X(parts_max, "parts", 256, "MIME parts described per message") \
	X(pipeline_max, "pipeline", 64, "commands awaiting a reply") \
	X(transactions_max, "transactions", 1000, "messages reported per flow") \
	X(recipients_max, "recipients", 1000, "recipients kept per message") \
	X(messages_max, "messages", 100, "IMAP/POP3 messages described per session") \
	X(literal_max, "literal", 1073741824, "largest IMAP literal accepted, bytes") \
	X(field_max, "field", 1024, "longest string value kept in an event, bytes")

struct mail_limits {
#define X(field, name, def, doc) uint64_t field;
	MAIL_LIMIT_TABLE(X)
#undef X
};

void mail_limits_default(struct mail_limits *l);
/* Parse "name=value"; returns 0 on success, -1 with no change otherwise. */
int mail_limits_set(struct mail_limits *l, const char *assignment);

#endif
