#!/usr/bin/env python3
"""The documentation covers what the code emits: every anomaly in
include/anomaly_table.h, every limit in include/mail_limits.h and every
long option in src/main.c appear in docs/reference.md, every policy rule
in src/policy_int.h has its section in policies/README.md, and every field
name found in the golden events appears in docs/ or policies/README.md.

usage: docs_check.py SRCDIR"""
import glob, json, os, re, sys

src = sys.argv[1]
ref = open(os.path.join(src, 'docs', 'reference.md')).read()
alldocs = ref + ''.join(open(p).read() for p in glob.glob(os.path.join(src, 'docs', '*.md')))
alldocs += open(os.path.join(src, 'policies', 'README.md')).read()
missing = []

for name in re.findall(r'X\(\w+, "([a-z_0-9]+)", "', open(os.path.join(src, 'include', 'anomaly_table.h')).read()):
    if '`%s`' % name not in ref:
        missing.append('anomaly %s' % name)
for name in re.findall(r'X\(\w+, "([a-z-]+)", \d+,', open(os.path.join(src, 'include', 'mail_limits.h')).read()):
    if '`%s`' % name not in ref:
        missing.append('limit %s' % name)
policy_readme = open(os.path.join(src, 'policies', 'README.md')).read()
for name in re.findall(r'X\(\w+, "([a-z_0-9]+)", "[A-Z0-9-]+", "T', open(os.path.join(src, 'src', 'policy_int.h')).read()):
    if '### %s (' % name not in policy_readme and '- **%s** (' % name not in policy_readme:
        missing.append('policy rule %s (policies/README.md)' % name)
for name in re.findall(r'\{ "([a-z-]+)", (?:no|required)_argument', open(os.path.join(src, 'src', 'main.c')).read()):
    if '--%s' % name not in ref:
        missing.append('option --%s' % name)


def keys(obj, prefix):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + k, k
            # evidence and stats internals are documented as groups
            if k in ('evidence', 'commands', 'decode_errors', 'dissected', 'sidecar', 'workers'):
                continue
            yield from keys(v, prefix + k + '.')
    elif isinstance(obj, list):
        for v in obj:
            yield from keys(v, prefix)


seen = set()
for path in glob.glob(os.path.join(src, 'tests', 'expected', '*.jsonl')):
    for line in open(path):
        for full, leaf in keys(json.loads(line), ''):
            if leaf not in seen:
                seen.add(leaf)
                if not re.search(r'[`{,. ]%s[`},. ]' % re.escape(leaf), alldocs):
                    missing.append('field %s (e.g. %s)' % (leaf, full))

for m in missing:
    print('undocumented:', m)
print('%d passed, %d failed' % (1 if not missing else 0, 1 if missing else 0))
sys.exit(1 if missing else 0)
