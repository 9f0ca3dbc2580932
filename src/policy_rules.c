/* policy_rules.c - entry point of the per-event rules: dispatch one event
 * to the network, mail and process rule sets.
 *
 * Ownership: the event stays the caller's; each alert body is a new
 * reference handed to fn. Read-only on the policy, so any number of worker
 * threads may evaluate events against one policy at once. */
#include "policy_int.h"

void policy_eval_event(const struct policy *p, const json_t *event,
                       policy_alert_fn fn, void *user)
{
	if (!p || !json_is_object(event) || !fn)
		return;
	policy_rules_net(p, event, fn, user);
	policy_rules_mail(p, event, fn, user);
	policy_rules_proc(p, event, fn, user);
}
