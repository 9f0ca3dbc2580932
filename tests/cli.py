#!/usr/bin/env python3
"""Command-line behaviour: clear one-line errors with a non-zero exit and
no partial JSON for bad input; stdin and pcapng replay.

usage: cli.py MAILSIFT SRCDIR"""
import json, os, shutil, subprocess, sys, tempfile

exe, src = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, ok, detail=''):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print('FAIL %s %s' % (name, detail))


def run(args, stdin=None):
    return subprocess.run([exe] + args, capture_output=True, input=stdin, timeout=120)


def one_line_error(name, args, must_mention):
    p = run(args)
    err = p.stderr.decode('utf-8', 'replace')
    check(name + ': non-zero exit', p.returncode != 0, 'rc=%d' % p.returncode)
    check(name + ': one line on stderr', err.count('\n') == 1, repr(err))
    check(name + ': names the problem', must_mention in err, repr(err))
    check(name + ': no JSON on stdout', p.stdout == b'', repr(p.stdout[:200]))


tmp = tempfile.mkdtemp()
try:
    pcap = os.path.join(src, 'pcaps', 'smtp-pipelining.pcap')
    one_line_error('missing file', ['-r', os.path.join(tmp, 'nope.pcap')], 'nope.pcap')
    bad = os.path.join(tmp, 'corrupt.pcap')
    with open(bad, 'wb') as f:
        f.write(b'this is not a capture file at all' * 4)
    one_line_error('corrupt file', ['-r', bad], 'corrupt.pcap')
    one_line_error('bad filter', ['-r', pcap, '-f', 'tcp port banana'], 'filter')
    one_line_error('unknown interface', ['-i', 'no-such-iface0'], 'no-such-iface0')
    one_line_error('unwritable output', ['-r', pcap, '-w', os.path.join(tmp, 'no', 'dir', 'x.json')], 'x.json')
    one_line_error('bad workers', ['-r', pcap, '--workers', '0'], '--workers')
    one_line_error('bad limit', ['-r', pcap, '--limit', 'line=abc'], '--limit')
    one_line_error('no input', [], '-r')

    # A capture cut in the middle of a packet: every packet before the cut
    # is processed, the sensor says what happened, and stdout is whole lines.
    data = open(pcap, 'rb').read()
    cut = os.path.join(tmp, 'cut.pcap')
    with open(cut, 'wb') as f:
        f.write(data[:len(data) - 7])
    p = run(['-r', cut])
    lines = p.stdout.decode().splitlines()
    check('truncated capture: complete JSON lines', all(json.loads(l) for l in lines) and len(lines) > 0)
    check('truncated capture: stats written', any(json.loads(l).get('event_type') == 'stats' for l in lines))

    # stdin replay gives the same events as the file.
    a = sorted(run(['-r', pcap]).stdout.decode().splitlines())
    b = sorted(run(['-r', '-'], stdin=data).stdout.decode().splitlines())
    check('stdin replay equals file replay', a == b and len(a) > 0)

    # pcapng (written by editcap, from tshark's package) gives the same events.
    if shutil.which('editcap'):
        ng = os.path.join(tmp, 'x.pcapng')
        subprocess.run(['editcap', '-F', 'pcapng', pcap, ng], check=True)
        c = sorted(run(['-r', ng]).stdout.decode().splitlines())
        check('pcapng replay equals pcap replay', a == c)

    # --check-policy: the effective policy as JSON, or file:line:column: key.
    good = run(['--check-policy', os.path.join(src, 'policies', 'default.json')])
    eff = json.loads(good.stdout) if good.returncode == 0 else {}
    check('check-policy prints the effective policy', 'mail_ports' in eff and 'rules' in eff, good.stderr)
    badpol = os.path.join(tmp, 'bad-policy.json')
    with open(badpol, 'w') as f:
        f.write('{\n  "home_networks": ["10.0.0.0/33"]\n}\n')
    one_line_error('check-policy on a bad CIDR', ['--check-policy', badpol], 'bad-policy.json:2:')
    p = run(['--check-policy', badpol])
    check('check-policy names the key', b'home_networks' in p.stderr, p.stderr)
    one_line_error('sensor refuses a bad policy', ['-r', pcap, '--policy', badpol], 'bad-policy.json:2:')

    # -w appends whole lines to a file.
    out = os.path.join(tmp, 'events.json')
    run(['-r', pcap, '-w', out])
    run(['-r', pcap, '-w', out])
    got = open(out).read().splitlines()
    check('-w appends', len(got) == 2 * len(a), '%d vs %d' % (len(got), 2 * len(a)))
finally:
    shutil.rmtree(tmp)

print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
