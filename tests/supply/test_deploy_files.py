# SPDX-License-Identifier: Apache-2.0
"""deploy/Containerfile and deploy/k8s/: they cannot be built or applied here
(no container runtime, no cluster), so this checks what can be checked: every
YAML document parses and has the settings docs/build.md promises, the broker's
ConfigMap passes `keywarden --check-config`, the helper's arguments are options
`keywarden-hsm --help` lists, the PIN Secret is mounted only into the helper,
and the runtime images install the Debian packages of every library the
shipped binaries link (readelf NEEDED -> dpkg -S).
Usage: test_deploy_files.py SOURCE_ROOT BUILD_ROOT
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

from supplytest import check, dpkg_s, finish

top, bdir = sys.argv[1], sys.argv[2]




docs = {}
for f in sorted(glob.glob(os.path.join(top, 'deploy', 'k8s', '*.yaml'))):
    for d in yaml.safe_load_all(open(f)):
        check(isinstance(d, dict) and d.get('apiVersion') and d.get('kind'), f'{f}: document without kind')
        if d.get('kind') == 'Kustomization':
            for r in d['resources']:
                check(os.path.exists(os.path.join(top, 'deploy', 'k8s', r)), f'kustomization: {r} missing')
            continue
        docs[(d['kind'], d['metadata']['name'])] = d
check(('StatefulSet', 'keywarden') in docs and ('Service', 'keywarden') in docs and
      ('ConfigMap', 'keywarden-config') in docs and ('ConfigMap', 'keywarden-hsm-config') in docs,
      f'documents: {sorted(docs)}')
sts = docs[('StatefulSet', 'keywarden')]
pod = sts['spec']['template']['spec']
check(sts['spec']['replicas'] == 1, 'more than one replica of a file token')
check(pod['securityContext'].get('runAsNonRoot') is True, 'pod: runAsNonRoot')
check(pod['securityContext'].get('seccompProfile', {}).get('type') == 'RuntimeDefault', 'pod: seccomp')
check(pod.get('shareProcessNamespace') is False, 'pod: shareProcessNamespace must be false')
check(pod.get('automountServiceAccountToken') is False, 'pod: service account token mounted')
check(sts['spec']['selector']['matchLabels'].items() <= sts['spec']['template']['metadata']['labels'].items(),
      'selector does not match the pod labels')
svc = docs[('Service', 'keywarden')]
check(svc['spec']['selector'].items() <= sts['spec']['template']['metadata']['labels'].items(),
      'service selector does not match the pod')

containers = {c['name']: c for c in pod['containers']}
check(sorted(containers) == ['broker', 'hsm'], f'containers: {sorted(containers)}')
for c in pod['containers'] + pod.get('initContainers', []):
    sc = c.get('securityContext', {})
    check(sc.get('readOnlyRootFilesystem') is True, f'{c["name"]}: readOnlyRootFilesystem')
    check(sc.get('allowPrivilegeEscalation') is False, f'{c["name"]}: allowPrivilegeEscalation')
    check(sc.get('capabilities', {}).get('drop') == ['ALL'] and not sc['capabilities'].get('add'),
          f'{c["name"]}: capabilities')
    check(isinstance(sc.get('runAsUser'), int) and sc['runAsUser'] > 0, f'{c["name"]}: runAsUser')
    check(c.get('command', ['x'])[0] not in ('sh', 'bash', '/bin/sh', '/bin/bash'), f'{c["name"]}: a shell')
broker, hsm = containers['broker'], containers['hsm']
check(broker['securityContext']['runAsUser'] != hsm['securityContext']['runAsUser'], 'one uid for both')
vols = {v['name']: v for v in pod['volumes']}
pin_vols = [n for n, v in vols.items() if v.get('secret', {}).get('secretName') == 'keywarden-hsm-pin']
check(len(pin_vols) == 1, 'no (or more than one) PIN Secret volume')


def mounts(c):
    return {m['name']: m['mountPath'] for m in c.get('volumeMounts', [])}


for pv in pin_vols:
    check(pv in mounts(hsm), 'PIN Secret not mounted into hsm')
    check(pv not in mounts(broker), 'PIN Secret mounted into broker')
    for c in pod.get('initContainers', []):
        check(pv not in mounts(c), f'PIN Secret mounted into init container {c["name"]}')
check('tokens' in mounts(hsm) and 'tokens' not in mounts(broker), 'token volume placement')
check('tls' in mounts(broker) and 'tls' not in mounts(hsm), 'TLS Secret placement')
sock = [n for n, v in vols.items() if 'emptyDir' in v and n in mounts(hsm) and n in mounts(broker)]
check(len(sock) == 1, 'no emptyDir shared by both containers for the socket')

# the helper's arguments: options keywarden-hsm has; the uid it allows is the broker's
args = hsm['args']
usage = subprocess.run([os.path.join(bdir, 'hsm', 'keywarden-hsm'), '--help'], capture_output=True, text=True,
                       timeout=30)
known = set(re.findall(r'--[a-z0-9-]+', usage.stdout + usage.stderr))
for a in args:
    if a.startswith('--'):
        check(a in known, f'keywarden-hsm has no option {a}')
opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1) if args[i].startswith('--')}
check(opt.get('--allow-uid') == str(broker['securityContext']['runAsUser']), '--allow-uid is not the broker uid')
check(opt.get('--listen', '').startswith(mounts(hsm)[sock[0]] + '/') if sock else False,
      'socket not in the shared emptyDir')
check(opt.get('--pin-file', '').startswith(mounts(hsm)[pin_vols[0]] + '/') if pin_vols else False,
      '--pin-file not in the Secret mount')

# the broker's configuration: valid for keywarden, and consistent with the pod
cfg_text = docs[('ConfigMap', 'keywarden-config')]['data']['keywarden.json']
cfg = json.loads(cfg_text)
check(cfg['hsm'].get('socket') == opt.get('--listen'), 'hsm.socket differs from the helper --listen')
check('pin_file' not in cfg['hsm'] and 'module' not in cfg['hsm'], 'PIN or module in the broker configuration')
check(cfg['hsm'].get('token') == opt.get('--token'), 'token label differs')
check(cfg['store']['path'].startswith(mounts(broker)['state'] + '/'), 'store not on the state volume')
check(cfg['tls']['private_key'].startswith(mounts(broker)['tls'] + '/'), 'TLS key not from the Secret')
check(int(cfg['listen'].rsplit(':', 1)[1]) == broker['ports'][0]['containerPort'], 'listen port differs')
conf = docs[('ConfigMap', 'keywarden-hsm-config')]['data']['softhsm2.conf']
tokdir = re.search(r'^directories\.tokendir = (\S+)$', conf, re.M).group(1)
check(tokdir.startswith(mounts(hsm)['tokens'] + '/') and
      tokdir in pod['initContainers'][0]['command'], 'tokendir not on the token volume or not made')
with tempfile.TemporaryDirectory(prefix='kwdeploy.') as d:
    p = os.path.join(d, 'keywarden.json')
    with open(p, 'w') as f:
        f.write(cfg_text)
    r = subprocess.run([os.path.join(bdir, 'broker', 'keywarden'), '--config', p, '--check-config'],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f'keywarden --check-config: {r.stdout} {r.stderr}')
    # and the check is not a rubber stamp
    bad = json.loads(cfg_text)
    bad['hsm']['pin_file'] = '/etc/keywarden-hsm/pin/hsm.pin'
    with open(p, 'w') as f:
        json.dump(bad, f)
    r = subprocess.run([os.path.join(bdir, 'broker', 'keywarden'), '--config', p, '--check-config'],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode != 0, 'keywarden --check-config accepted pin_file in socket mode')

# the Containerfile: Debian 12, non-root final stages, exec-form entry points, and
# the runtime packages of every library the shipped binaries need
cf = open(os.path.join(top, 'deploy', 'Containerfile')).read()
stages = {}
cur = None
for line in cf.splitlines():
    m = re.match(r'^FROM (\S+)(?: AS (\S+))?$', line)
    if m:
        cur = m.group(2) or m.group(1)
        stages[cur] = {'from': m.group(1), 'text': ''}
    elif cur:
        stages[cur]['text'] += line + '\n'
check(set(stages) >= {'build', 'runtime', 'hsm', 'broker'}, f'stages: {sorted(stages)}')
for s in ('build', 'runtime'):
    check(re.match(r'^(docker\.io/library/)?debian:12', stages[s]['from']), f'{s}: not Debian 12')


def pkgs(text):
    m = re.findall(r'apt-get install -y --no-install-recommends((?:\\\n|[^\n&])*)', text)
    return set(' '.join(m).replace('\\', ' ').split())


runtime_pkgs = pkgs(stages['runtime']['text'])
for s, user in (('hsm', '10002:10002'), ('broker', '10001:10001')):
    check(f'\nUSER {user}\n' in stages[s]['text'], f'{s}: not USER {user}')
    check(re.search(r'^ENTRYPOINT \[', stages[s]['text'], re.M), f'{s}: ENTRYPOINT not in exec form')
    check(stages[s]['from'] == 'runtime', f'{s}: not from the runtime stage')
check('softhsm2' not in stages['broker']['text'] and 'softhsm' not in ' '.join(runtime_pkgs),
      'the broker image carries the PKCS#11 module')
check('--target' in cf and '-Dtest_hooks=false' in stages['build']['text'] and
      'hardening.sh' in stages['build']['text'], 'build stage: release options or hardening check missing')
# libc6 and what it depends on (libgcc-s1) are in every Debian image
libc_deps = subprocess.run(['dpkg-query', '-W', '-f=${Depends}', 'libc6'], capture_output=True, text=True,
                           check=True).stdout
base = {'libc6'} | {d.split()[0].split(':')[0] for d in libc_deps.split(',') if d.strip()}
ships = {'broker': ['broker/keywarden', 'tools/kwctl'], 'hsm': ['hsm/keywarden-hsm']}
for s, files in ships.items():
    have = runtime_pkgs | pkgs(stages[s]['text'])
    for rel in files:
        check(f'/out/usr/' in stages[s]['text'] and os.path.basename(rel) in stages[s]['text'],
              f'{s}: {rel} not copied')
        ldd = subprocess.run(['ldd', os.path.join(bdir, rel)], capture_output=True, text=True, check=True).stdout
        paths = {}
        for l in ldd.splitlines():
            m = re.match(r'^\s*(\S+) => (/\S+) ', l)
            if m:
                paths[m.group(1)] = m.group(2)
        needed = re.findall(r'\(NEEDED\).*\[(.+)\]', subprocess.run(['readelf', '-dW', os.path.join(bdir, rel)],
                            capture_output=True, text=True, check=True).stdout)
        for lib in needed:
            if lib not in paths:
                continue      # the dynamic loader itself
            real = os.path.realpath(paths[lib])
            owner = None
            for cand in (paths[lib], real, real.replace('/usr/lib/', '/lib/', 1), '/usr' + paths[lib]):
                owner = dpkg_s(cand)
                if owner:
                    break
            check(owner is not None, f'{lib}: no package')
            if owner and owner not in base:
                check(owner in have, f'{s} image: {rel} needs {lib} from {owner}, not installed')

finish(f'{len(docs)} Kubernetes objects, {len(stages)} Containerfile stages checked')
