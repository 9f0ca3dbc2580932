#!/usr/bin/env python3
"""SIGHUP reloads the policy without losing flows, and a bad new policy is
rejected while the old one stays in force. Live capture on loopback (root
needed; exit 77 otherwise), SMTP sessions on a port that only policy B
lists as a mail port:

  policy A (port not listed)  -> session 1 raises mail_nonstandard_port
  SIGHUP to policy B (listed) -> session 2 raises nothing
  SIGHUP to a broken policy   -> rejected, B stays: session 3 raises nothing

usage: live_reload.py MAILSIFT SRCDIR"""
import json, os, signal, subprocess, sys, tempfile, threading, time

sys.argv = [sys.argv[0], sys.argv[1]] + sys.argv[2:]
exe, src = sys.argv[1], sys.argv[2]
here = os.path.dirname(os.path.abspath(__file__))
if os.geteuid() != 0 or not os.path.exists('/sys/class/net/lo'):
    print('skipped: needs root and a loopback interface')
    sys.exit(77)
# The SMTP peer pair is shared with the live capture test.
live = {}
code = open(os.path.join(here, 'live.py')).read().split('tmp = tempfile.mkdtemp()')[0]
code = code.replace("exe = sys.argv[1]", "exe = None")
exec(compile(code, 'live.py', 'exec'), live)

tmp = tempfile.mkdtemp()
out = os.path.join(tmp, 'events.json')
pol = os.path.join(tmp, 'policy.json')


def write_policy(text):
    with open(pol + '.new', 'w') as f:
        f.write(text)
    os.rename(pol + '.new', pol)


# Only the rule under test, so the result does not depend on the defaults.
only_port_rule = '"rules": {%s}' % ', '.join(
    '"%s": {"enabled": %s}' % (r, 'true' if r == 'mail_nonstandard_port' else 'false')
    for r in ['unsanctioned_relay', 'outflow_ratio', 'session_volume', 'host_window_volume',
              'mail_port_non_mail', 'recipients_per_message', 'suspicious_attachment',
              'attachment_type_mismatch', 'identity_mismatch', 'cleartext_credentials',
              'off_hours_mail', 'beaconing', 'mailbox_dead_drop', 'mailbox_dead_drop_cycles',
              'mail_nonstandard_port'])
write_policy('{%s}' % only_port_rule)
lsock = live['socket'].socket()
lsock.setsockopt(live['socket'].SOL_SOCKET, live['socket'].SO_REUSEADDR, 1)
lsock.bind(('127.0.0.1', 0))  # a free port, as in live.py
PORT = lsock.getsockname()[1]
live['PORT'] = PORT  # the shared client connects to it
lsock.listen(4)
threading.Thread(target=live['server'], args=(lsock, 3), daemon=True).start()
sensor = subprocess.Popen([exe, '-i', 'lo', '-f', 'tcp port %d' % PORT, '-w', out,
                           '--policy', pol, '--workers', '2'], stderr=subprocess.PIPE)
time.sleep(1.5)


def flows_written(n):
    deadline = time.time() + 25
    while time.time() < deadline:
        try:
            if sum(json.loads(l)['event_type'] == 'flow' for l in open(out)) >= n:
                return True
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    return False


passed = failed = 0


def check(name, ok, detail=''):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    if not ok:
        print('FAIL %s %s' % (name, detail))


live['client'](1)
check('session 1 written', flows_written(1))
write_policy('{"mail_ports": [25, 465, 587, 2525, 110, 995, 143, 993, %d], %s}' % (PORT, only_port_rule))
sensor.send_signal(signal.SIGHUP)
time.sleep(1)
live['client'](2)
check('session 2 written', flows_written(2))
write_policy('{"mail_ports": [25, "not a port"')
sensor.send_signal(signal.SIGHUP)
time.sleep(1)
live['client'](3)
check('session 3 written', flows_written(3))
sensor.send_signal(signal.SIGINT)
rc = sensor.wait(timeout=20)
err = sensor.stderr.read().decode()
check('exit 0', rc == 0, rc)
check('the bad policy was reported on stderr with its position',
      'reload' in err and 'policy.json:1:' in err, repr(err))
events = [json.loads(l) for l in open(out)]
flows = sorted((e for e in events if e['event_type'] == 'flow'), key=lambda e: e['flow']['start'])
alerts = [e for e in events if e['event_type'] == 'alert']
check('three sessions, no flow lost', len(flows) == 3, len(flows))
if len(flows) == 3:
    fired = [sum(a['flow_id'] == f['flow_id'] and a['alert']['rule'] == 'mail_nonstandard_port'
                 for a in alerts) for f in flows]
    check('old policy fired, new policy did not, bad policy kept the new one', fired == [1, 0, 0], fired)
stats = [e for e in events if e['event_type'] == 'stats'][0]['stats']['policy']
check('one reload, one rejected', stats['reloads'] == 1 and stats['reload_failures'] == 1, stats)
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
