#!/usr/bin/env python3
"""Live capture on the loopback interface: a real SMTP-speaking exchange
between two local sockets is seen, SIGHUP reopens the output file (the
logrotate case), SIGINT flushes every open flow and writes stats with the
kernel drop counters. Endpoint events for the first session, sent over the
--sidecar socket, put a process object on its events. Needs root (packet capture); exits 77 (skipped)
otherwise. Traffic stays on 127.0.0.1.

usage: live.py MAILSIFT"""
import json, os, signal, socket, subprocess, sys, tempfile, threading, time

exe = sys.argv[1]
if os.geteuid() != 0 or not os.path.exists('/sys/class/net/lo'):
    print('skipped: needs root and a loopback interface')
    sys.exit(77)

# The server's port is the kernel's choice at bind time: free, so two runs
# of the suite cannot collide, and from the ephemeral range, so never a
# mail port (the tests rely on that).
PORT = None


def server(lsock, sessions):
    for _ in range(sessions):
        conn, _ = lsock.accept()
        f = conn.makefile('rb')
        conn.sendall(b'220 live.test ESMTP\r\n')
        in_data = False
        for line in f:
            if in_data:
                if line == b'.\r\n':
                    in_data = False
                    conn.sendall(b'250 2.0.0 queued\r\n')
                continue
            verb = line[:4].upper()
            if verb == b'DATA':
                in_data = True
                conn.sendall(b'354 go ahead\r\n')
            elif verb == b'QUIT':
                conn.sendall(b'221 bye\r\n')
                break
            elif verb == b'EHLO':
                conn.sendall(b'250-live.test\r\n250 PIPELINING\r\n')
            else:
                conn.sendall(b'250 ok\r\n')
        f.close()  # the file object holds the socket open: close both
        conn.close()


def client(n):
    s = socket.create_connection(('127.0.0.1', PORT))
    f = s.makefile('rb')
    f.readline()
    for cmd in [b'EHLO client%d' % n, b'MAIL FROM:<job%d@example.org>' % n,
                b'RCPT TO:<drop@example.net>', b'DATA']:
        s.sendall(cmd + b'\r\n')
        line = f.readline()
        while line[3:4] == b'-':
            line = f.readline()
    s.sendall(b'Subject: live %d\r\n\r\nhello\r\n.\r\n' % n)
    f.readline()
    s.sendall(b'QUIT\r\n')
    f.readline()
    port = s.getsockname()[1]
    f.close()
    s.close()
    return port


tmp = tempfile.mkdtemp()
out = os.path.join(tmp, 'events.json')
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(('127.0.0.1', 0))
PORT = lsock.getsockname()[1]
lsock.listen(4)
srv = threading.Thread(target=server, args=(lsock, 2), daemon=True)
srv.start()
sock_path = os.path.join(tmp, 'sidecar.sock')
sensor = subprocess.Popen([exe, '-i', 'lo', '-f', 'tcp port %d' % PORT, '-w', out,
                           '--workers', '2', '--all-flows', '--no-policy',
                           '--sidecar', sock_path], stderr=subprocess.PIPE)
time.sleep(1.5)
passed = failed = 0


def check(name, ok, detail=''):
    global passed, failed
    passed += ok
    failed += not ok
    if not ok:
        print('FAIL %s %s' % (name, detail))


cport = client(1)
# The endpoint agent reports the process and its connection (Sysmon EID 1
# and 3 as Winlogbeat ships them) while the closed flow lingers.
now = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())
guid = '{11111111-2222-3333-4444-555555555555}'
sysmon = [
    {"winlog": {"event_id": "1", "provider_name": "Microsoft-Windows-Sysmon", "computer_name": "live-host",
                "event_data": {"UtcTime": now + ".000", "ProcessGuid": guid, "ProcessId": "4242",
                               "Image": "C:\\Windows\\System32\\rundll32.exe",
                               "CommandLine": "rundll32.exe mailer.dll,Send", "User": "LIVE\\svc",
                               "ParentProcessId": "4000", "ParentImage": "C:\\Windows\\explorer.exe"}}},
    {"winlog": {"event_id": "3", "provider_name": "Microsoft-Windows-Sysmon", "computer_name": "live-host",
                "event_data": {"UtcTime": now + ".100", "ProcessGuid": guid, "ProcessId": "4242",
                               "Image": "C:\\Windows\\System32\\rundll32.exe", "Protocol": "tcp",
                               "Initiated": "true", "SourceIp": "127.0.0.1", "SourcePort": str(cport),
                               "DestinationIp": "127.0.0.1", "DestinationPort": str(PORT)}}},
]
side = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
side.connect(sock_path)
side.sendall(''.join(json.dumps(e) + '\n' for e in sysmon).encode())
side.close()
# The closed flow lingers 5 s of packet time; on a quiet link packet time
# advances with the wall clock, so it is written within a few seconds.
def has_flow_event(path):
    try:
        return any(json.loads(l)['event_type'] == 'flow' for l in open(path))
    except (OSError, ValueError):
        return False


deadline = time.time() + 20
while time.time() < deadline and not has_flow_event(out):
    time.sleep(0.2)
os.rename(out, out + ".1")
sensor.send_signal(signal.SIGHUP)
time.sleep(1)
client(2)
time.sleep(0.5)
sensor.send_signal(signal.SIGINT)
try:
    rc = sensor.wait(timeout=20)
except subprocess.TimeoutExpired:
    sensor.kill()
    rc = -1
err = sensor.stderr.read().decode()
check('exit 0 after SIGINT', rc == 0, 'rc=%s %s' % (rc, err))
check('reopened output after SIGHUP', os.path.exists(out))
events = []
for path in (out + '.1', out):
    if os.path.exists(path):
        for line in open(path):
            events.append(json.loads(line))  # complete lines only
flows = [e for e in events if e['event_type'] == 'flow' and e['dest_port'] == PORT]
check('both sessions seen', len(flows) == 2, json.dumps(flows)[:500])
# Both sessions ended with FIN: a closed flow keeps that reason even when
# the shutdown flush is what writes it.
reasons = sorted(e['flow']['reason'] for e in flows)
check('flows closed by FIN', reasons == ['fin', 'fin'], reasons)
rotated = [json.loads(l) for l in open(out + '.1')] if os.path.exists(out + '.1') else []
check('first session written before the rotation, flow by idle expiry',
      sorted(e['event_type'] for e in rotated) == ['flow', 'smtp'], rotated)
smtp = [e for e in events if e['event_type'] == 'smtp']
check('smtp events for both sessions', sorted(e['smtp']['mail_from'] for e in smtp) ==
      ['job1@example.org', 'job2@example.org'], smtp)
stats = [e for e in events if e['event_type'] == 'stats']
check('stats with kernel drops', len(stats) == 1 and 'kernel' in stats[0]['stats']['drops'], stats)
for e in flows:
    check('payload bytes counted', e['flow']['payload_bytes_toserver'] > 50, e['flow'])
first = [e for e in events if e['event_type'] == 'flow' and e['src_port'] == cport]
check('sidecar process joined to the live flow',
      first and (first[0].get('process') or {}).get('image', '').endswith('rundll32.exe'), first)
check('sidecar socket removed at exit', not os.path.exists(sock_path))
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
