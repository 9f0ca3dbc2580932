#!/usr/bin/env python3
"""End-to-end golden tests: replay every capture in pcaps/ and compare the
events with tests/expected/<case>.jsonl.

usage: e2e.py MAILSIFT SRCDIR [--regen] [--only CASE] [--determinism]

Per case, tests/expected/<case>.args (optional) holds extra command-line
arguments, one per line; "@SRC@" is replaced by the source directory.
Without one, the case runs with the default policy. A variant
tests/expected/<case>@<variant>.args replays the same capture with other
arguments (a sidecar file, say) against <case>@<variant>.jsonl.

Events are compared as a set of canonical JSON lines (sorted keys), so the
order in which worker threads write does not matter. The stats event is
kept, minus its per-worker split. --determinism instead checks that
--workers 1 and --workers 4 give the same set for every capture."""
import difflib, glob, json, os, subprocess, sys


def canon(ev):
    ev = dict(ev)
    if ev.get('event_type') == 'stats':
        st = dict(ev.get('stats', {}))
        st.pop('workers', None)
        ev['stats'] = st
    return json.dumps(ev, sort_keys=True, ensure_ascii=False)


def case_args(src, case):
    path = os.path.join(src, 'tests', 'expected', case + '.args')
    if '@' in case and not os.path.exists(path):
        raise RuntimeError('variant %s has no .args file' % case)
    if os.path.exists(path):
        with open(path) as f:
            return [l.strip().replace('@SRC@', src) for l in f if l.strip() and not l.startswith('#')]
    pol = os.path.join(src, 'policies', 'default.json')
    return ['--policy', pol] if os.path.exists(pol) else []


def run(exe, pcap, args, workers):
    cmd = [exe, '-r', pcap, '--workers', str(workers)] + args
    p = subprocess.run(cmd, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError('%s exited %d: %s' % (' '.join(cmd), p.returncode,
                                                 p.stderr.decode('utf-8', 'replace')))
    lines = []
    for raw in p.stdout.decode('utf-8').splitlines():
        lines.append(canon(json.loads(raw)))  # every line must be complete JSON
    return sorted(lines)


def main():
    exe, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    regen = '--regen' in sys.argv
    determinism = '--determinism' in sys.argv
    only = sys.argv[sys.argv.index('--only') + 1] if '--only' in sys.argv else None
    pcaps = sorted(glob.glob(os.path.join(src, 'pcaps', '*.pcap')) +
                   glob.glob(os.path.join(src, 'pcaps', '*.pcapng')))
    runs = []
    for pcap in pcaps:
        case = os.path.splitext(os.path.basename(pcap))[0]
        runs.append((pcap, case))
        for v in sorted(glob.glob(os.path.join(src, 'tests', 'expected', case + '@*.args'))):
            runs.append((pcap, os.path.basename(v)[:-len('.args')]))
    passed = failed = 0
    for pcap, case in runs:
        if only and case != only:
            continue
        args = case_args(src, case)
        try:
            if determinism:
                one, four = run(exe, pcap, args, 1), run(exe, pcap, args, 4)
                if one == four:
                    passed += 1
                else:
                    failed += 1
                    print('FAIL %s: --workers 1 and --workers 4 differ' % case)
                    sys.stdout.writelines(difflib.unified_diff(
                        [l + '\n' for l in one], [l + '\n' for l in four], 'workers-1', 'workers-4', n=0))
                continue
            got = run(exe, pcap, args, 2)
        except Exception as e:  # a crash or bad JSON is a failure of this case
            failed += 1
            print('FAIL %s: %s' % (case, e))
            continue
        exp_path = os.path.join(src, 'tests', 'expected', case + '.jsonl')
        if regen:
            with open(exp_path, 'w') as f:
                f.write(''.join(l + '\n' for l in got))
            print('wrote %s (%d events)' % (exp_path, len(got)))
            continue
        if not os.path.exists(exp_path):
            failed += 1
            print('FAIL %s: no golden file %s (run with --regen and review it)' % (case, exp_path))
            continue
        with open(exp_path) as f:
            want = [l.rstrip('\n') for l in f if l.strip()]
        if got == sorted(want):
            passed += 1
        else:
            failed += 1
            print('FAIL %s' % case)
            sys.stdout.writelines(difflib.unified_diff(
                [l + '\n' for l in sorted(want)], [l + '\n' for l in got], 'expected', 'got', n=0))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
