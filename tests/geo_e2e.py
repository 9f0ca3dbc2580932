#!/usr/bin/env python3
"""GeoIP/ASN enrichment through the sensor: real .mmdb files built at test
time by tools/make-test-mmdb put geo on the flow, protocol and alert events
of a replayed capture; a missing database is a warning, not an error.
Exit 77 (skipped) only when the Perl MaxMind writer is not installed.

usage: geo_e2e.py MAILSIFT SRCDIR"""
import json, os, shutil, subprocess, sys, tempfile

exe, src = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp()
passed = failed = 0


def check(name, ok, detail=''):
    global passed, failed
    passed += bool(ok)
    failed += not ok
    if not ok:
        print('FAIL %s %s' % (name, detail))


try:
    mk = subprocess.run(['perl', os.path.join(src, 'tools', 'make-test-mmdb'), tmp],
                        capture_output=True)
    if mk.returncode != 0:
        if b'MaxMind/DB/Writer' in mk.stderr:
            print('skipped: libmaxmind-db-writer-perl is not installed')
            sys.exit(77)
        sys.exit('make-test-mmdb failed: %s' % mk.stderr.decode())
    pcap = os.path.join(src, 'pcaps', 'smtp-swaks-attachments.pcap')
    pol = os.path.join(src, 'policies', 'default.json')
    p = subprocess.run([exe, '-r', pcap, '--policy', pol,
                        '--geoip-db', os.path.join(tmp, 'test-city.mmdb'),
                        '--asn-db', os.path.join(tmp, 'test-asn.mmdb')],
                       capture_output=True, timeout=120)
    check('exit 0', p.returncode == 0, p.stderr)
    events = [json.loads(l) for l in p.stdout.decode().splitlines()]
    enriched = [e for e in events if e['event_type'] in ('flow', 'smtp', 'alert')]
    types = {e['event_type'] for e in enriched}
    check('flow, smtp and alert events present', types == {'flow', 'smtp', 'alert'}, types)
    for e in enriched:
        # 203.0.113.25 (the external relay) is DE in the test City database;
        # the internal client 10.20.30.40 is not looked up.
        check('%s carries geo of the external end' % e['event_type'],
              (e.get('geo') or {}).get('country') == 'DE', e.get('geo'))
    # A database that is not there: a warning, the events still flow.
    q = subprocess.run([exe, '-r', pcap, '--no-policy', '--geoip-db', os.path.join(tmp, 'absent.mmdb')],
                       capture_output=True, timeout=120)
    check('missing database is not fatal', q.returncode == 0 and b'warning' in q.stderr, q.stderr)
    check('no geo without a database', all('geo' not in json.loads(l)
                                           for l in q.stdout.decode().splitlines()))
finally:
    shutil.rmtree(tmp)
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
