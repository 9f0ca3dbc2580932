/* policy_rules_net.c - per-flow network rules, evaluated on "flow" events
 * only (one per flow, so each fires at most once per flow): unsanctioned
 * relay, outflow ratio, session volume, mail on a non-standard port, and
 * non-mail traffic on a mail port.
 *
 * Ownership: reads the event and policy; every alert is a new reference
 * handed to fn. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "json_fast.h"
#include "policy_int.h"

/* Ports where a TLS flow is taken to be SMTP (implicit TLS submission, or
 * STARTTLS after the sensor stopped reading). */
static int smtp_port(uint64_t port)
{
	return port == 25 || port == 465 || port == 587 || port == 2525;
}

static int is_smtp_flow(const struct policy *p, const json_t *ev)
{
	/* app_proto is the core's reconciled verdict; nDPI's own name can be
	 * a port guess the payload contradicted. */
	const char *app = json_str(ev, "app_proto");
	uint64_t port = 0;
	json_path_u64(ev, "dest_port", &port);
	if (app && (!strcasecmp(app, "smtp") || !strcasecmp(app, "smtps")))
		return 1;
	return app && !strcasecmp(app, "tls") && smtp_port(port) &&
	       policy_is_mail_port(p, (uint16_t)port);
}

static int asn_sanctioned(const struct policy *p, const json_t *ev, uint64_t *asn)
{
	if (json_path_u64(ev, "geo.asn", asn) != 0)
		return 0;
	for (size_t i = 0; i < p->n_relay_asns; i++)
		if (p->relay_asns[i] == *asn)
			return 1;
	return 0;
}


static void emit(void (*fn)(void *, json_t *), void *user, json_t *a)
{
	if (a)
		fn(user, a);
}

static void rule_relay(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *src = json_str(ev, "src_ip"), *dst = json_str(ev, "dest_ip");
	/* Both addresses are needed; an event handed to the policy may lack one. */
	if (!src || !dst || !is_smtp_flow(p, ev) || !policy_is_home(p, src) || policy_is_home(p, dst))
		return;
	if (cidr_set_contains_text(p->senders, src))
		return;
	uint64_t asn = 0;
	const char *sni = json_path_str(ev, "tls.sni");
	const char *helo = json_path_str(ev, "smtp.helo");
	/* The relay names itself in its greeting (flow.server_name). */
	const char *server = json_path_str(ev, "flow.server_name");
	if (cidr_set_contains_text(p->relay_cidrs, dst) || asn_sanctioned(p, ev, &asn) ||
	    policy_host_name_match(&p->relay_names, sni) ||
	    policy_host_name_match(&p->relay_names, server) ||
	    policy_host_name_match(&p->relay_names, helo))
		return;
	if (!policy_rule_applies(p, RULE_UNSANCTIONED_RELAY, ev))
		return;
	char reason[320];
	snprintf(reason, sizeof(reason),
	         "Host %.64s, not an allowed mail sender, spoke SMTP to external relay %.64s "
	         "which matches no sanctioned relay CIDR, name or ASN.", src, dst);
	json_t *evd = json_object();
	jset(evd, "src_ip", json_string(src));
	jset(evd, "dest_ip", json_string(dst));
	jset(evd, "dest_port", ev_ref(json_object_get(ev, "dest_port")));
	jset(evd, "asn", ev_ref(json_path(ev, "geo.asn")));
	jset(evd, "sni", ev_str(sni));
	jset(evd, "server_name", ev_str(server));
	jset(evd, "mail_senders", policy_value(p, "mail_senders"));
	jset(evd, "sanctioned_relays", policy_value(p, "sanctioned_relays"));
	emit(fn, user, policy_alert_new(p, RULE_UNSANCTIONED_RELAY, NULL, reason, evd));
}

static void rule_volume(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *src = json_str(ev, "src_ip"), *dst = json_str(ev, "dest_ip");
	if (!policy_is_home(p, src) || policy_is_home(p, dst))
		return;
	uint64_t port = 0;
	json_path_u64(ev, "dest_port", &port);
	if (!policy_event_is_mail(p, ev) && !(port <= 65535 && policy_is_mail_port(p, (uint16_t)port)))
		return;
	uint64_t ts = 0, tc = 0;
	if (json_path_u64(ev, "flow.payload_bytes_toserver", &ts) != 0)
		return;
	json_path_u64(ev, "flow.payload_bytes_toclient", &tc);
	double ratio = (double)ts / (double)(tc ? tc : 1);
	char reason[320];
	if (ts >= p->ratio_min_bytes && ratio > p->ratio &&
	    policy_rule_applies(p, RULE_OUTFLOW_RATIO, ev)) {
		snprintf(reason, sizeof(reason),
		         "Mail flow %.64s -> %.64s sent %llu payload bytes and received %llu "
		         "(ratio %.1f > %.1f, minimum %llu bytes).", src, dst,
		         (unsigned long long)ts, (unsigned long long)tc, ratio, p->ratio,
		         (unsigned long long)p->ratio_min_bytes);
		json_t *evd = json_pack("{s:I, s:I, s:f, s:f, s:I}",
		                        "payload_bytes_toserver", (json_int_t)ts,
		                        "payload_bytes_toclient", (json_int_t)tc,
		                        "ratio", ratio,
		                        "threshold_ratio_toserver_toclient", p->ratio,
		                        "threshold_ratio_min_bytes", (json_int_t)p->ratio_min_bytes);
		emit(fn, user, policy_alert_new(p, RULE_OUTFLOW_RATIO, NULL, reason, evd));
	}
	if (ts > p->session_bytes && policy_rule_applies(p, RULE_SESSION_VOLUME, ev)) {
		snprintf(reason, sizeof(reason),
		         "Mail flow %.64s -> %.64s sent %llu payload bytes, above the session "
		         "threshold of %llu.", src, dst, (unsigned long long)ts,
		         (unsigned long long)p->session_bytes);
		json_t *evd = json_pack("{s:I, s:I}",
		                        "payload_bytes_toserver", (json_int_t)ts,
		                        "threshold_session_bytes", (json_int_t)p->session_bytes);
		emit(fn, user, policy_alert_new(p, RULE_SESSION_VOLUME, NULL, reason, evd));
	}
}

static void rule_ports(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	uint64_t port = 0;
	if (json_path_u64(ev, "dest_port", &port) != 0 || port == 0 || port > 65535)
		return;
	const char *app = json_str(ev, "app_proto");
	const char *nd = json_path_str(ev, "flow.ndpi_proto");
	int mail_app = policy_is_mail_app(app);
	int mail_port = policy_is_mail_port(p, (uint16_t)port);
	char reason[320];
	if (mail_app && !mail_port && policy_rule_applies(p, RULE_NONSTANDARD_PORT, ev)) {
		snprintf(reason, sizeof(reason),
		         "%.32s seen on port %llu, which is not a configured mail port.",
		         app, (unsigned long long)port);
		json_t *evd = json_pack("{s:s?, s:s?, s:I, s:o}", "app_proto", app, "ndpi_proto", nd,
		                        "dest_port", (json_int_t)port,
		                        "mail_ports", policy_value(p, "mail_ports"));
		emit(fn, user, policy_alert_new(p, RULE_NONSTANDARD_PORT, NULL, reason, evd));
		return;
	}
	uint64_t ts = 0, tc = 0;
	json_path_u64(ev, "flow.payload_bytes_toserver", &ts);
	json_path_u64(ev, "flow.payload_bytes_toclient", &tc);
	/* TLS is expected on 465/993/995 and after STARTTLS; an empty flow
	 * (scan, refused handshake) says nothing about the protocol. */
	int tls = app && !strcasecmp(app, "tls");
	/* A capture that began mid-session (in a message body, say) cannot
	 * identify the protocol: unidentified is not "not mail" there. */
	json_t *mid = json_object_get(json_object_get(ev, "flow"), "midstream");
	int unidentified_midstream = !app && json_is_true(mid);
	if (mail_port && !mail_app && !tls && !unidentified_midstream && ts + tc > 0 &&
	    policy_rule_applies(p, RULE_MAIL_PORT_NON_MAIL, ev)) {
		snprintf(reason, sizeof(reason),
		         "Traffic on mail port %llu is %.32s, not a mail protocol (%llu bytes).",
		         (unsigned long long)port, app ? app : (nd ? nd : "unidentified"),
		         (unsigned long long)(ts + tc));
		json_t *evd = json_pack("{s:s?, s:s?, s:I, s:I, s:o}", "app_proto", app,
		                        "ndpi_proto", nd, "dest_port", (json_int_t)port,
		                        "payload_bytes", (json_int_t)(ts + tc),
		                        "mail_ports", policy_value(p, "mail_ports"));
		emit(fn, user, policy_alert_new(p, RULE_MAIL_PORT_NON_MAIL, NULL, reason, evd));
	}
}

void policy_rules_net(const struct policy *p, const json_t *ev, policy_alert_fn fn, void *user)
{
	const char *type = json_str(ev, "event_type");
	if (!type || strcmp(type, "flow") != 0)
		return;
	rule_relay(p, ev, fn, user);
	rule_volume(p, ev, fn, user);
	rule_ports(p, ev, fn, user);
}
