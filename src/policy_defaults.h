/* policy_defaults.h - built-in default policy text (private). */
#ifndef MAILSIFT_POLICY_DEFAULTS_H
#define MAILSIFT_POLICY_DEFAULTS_H

extern const char policy_defaults_json[];

#endif
