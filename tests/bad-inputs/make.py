#!/usr/bin/env python3
"""Write the hostile and malformed inputs of this corpus (run from this folder; the files are
committed, this says how each was made). Every case is run by tests/tests/bad_inputs.rs as
cases.toml says."""
import hashlib, io, os, shutil, tarfile, zipfile, base64

def write(path, data):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)

def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

def wheel(path, name, version, members, record=True):
    info = f"{name}-{version}.dist-info"
    files = [(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()),
             (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: bad-inputs\nRoot-Is-Purelib: true\nTag: py3-none-any\n")]
    files += [(m, d if isinstance(d, bytes) else d.encode()) for m, d in members]
    rec = "".join(f"{m},{record_hash(d)},{len(d)}\n" for m, d in files) + f"{info}/RECORD,,\n"
    if record:
        files.append((f"{info}/RECORD", rec.encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for m, d in files:
            info_ = zipfile.ZipInfo(m, date_time=(2020, 1, 1, 0, 0, 0))
            z.writestr(info_, d)

def pins(path, wheels):
    lines = []
    for name, version, file in wheels:
        lines.append(f"{name}=={version} --hash=sha256:{hashlib.sha256(open(file,'rb').read()).hexdigest()}\n")
    write(path, "".join(lines))

# --- project files (depgraph) -------------------------------------------------------------
write("setup-py-deep/setup.py", "X = " + "[" * 1000 + "1" + "]" * 1000 + "\nfrom setuptools import setup\nsetup(name='deep', install_requires=X)\n")
write("pyproject-deep/pyproject.toml", "[project]\nname = \"deep\"\ndependencies = " + "[" * 5000 + "]" * 5000 + "\n")
write("not-utf8/setup.cfg", b"[metadata]\nname = caf\xe9\nversion = 1\n")
write("dynamic-outside/pyproject.toml", "[project]\nname = \"p\"\nversion = \"1\"\ndynamic = [\"dependencies\"]\n[tool.setuptools.dynamic]\ndependencies = {file = [\"../../../../../../../etc/passwd\"]}\n")
write("cycle/a/pyproject.toml", "[project]\nname = \"a\"\nversion = \"1\"\ndependencies = [\"b\"]\n")
write("cycle/b/pyproject.toml", "[project]\nname = \"b\"\nversion = \"1\"\ndependencies = [\"a\"]\n")

# --- documents ------------------------------------------------------------------------------
node = '{"name": "a", "version": null, "internal": true, "source": null, "requires_python": null, "extras": [], "scripts": {}}'
write("graph-dangling.json", '{"schema": "lastmile.graph/v1", "nodes": [' + node + '], "edges": [{"from": "a", "to": "zzz", "specifier": "", "extras": [], "extra": null, "marker": null, "url": null, "declared_at": null}], "roots": [], "leaves": ["a"], "build_order": [["a"]], "cycles": [], "duplicates": []}\n')
write("graph-v9.json", '{"schema": "lastmile.graph/v9", "nodes": []}\n')
write("graph-deep.json", '{"schema": "lastmile.graph/v1", "nodes": ' + "[" * 20000 + "]" * 20000 + "}\n")
write("lock-v7.json", '{"schema": "lastmile.lock/v7", "packages": []}\n')

# --- requirements (pin-deps) ----------------------------------------------------------------
write("marker-deep.in", "a ; " + "(" * 5000 + "python_version > '3'" + ")" * 5000 + "\n")
for i in range(40):
    write(f"include-chain/r{i}.in", f"-r r{i + 1}.in\n")
write("include-chain/r40.in", "a\n")
write("include-cycle/a.in", "-r b.in\n")
write("include-cycle/b.in", "-r a.in\n")
write("option-unicode.in", "-éx\n")
write("option-only.in", "# pins nothing\n--pre\n-c constraints.txt\n")
write("constraints.txt", "katcp<1\n")
write("name-punctuation.in", "katcp- >1\n")
write("hash-not-hex.in", "katcp==0.9.4 --hash=sha256:../../../../etc/passwd\n")
write("index-credentials.in", "--index-url https://ci:s3cr3t%40p4ss@127.0.0.1:9/simple/\nkatcp\n")
write("unsatisfiable/requirements.in", "left\nright\n")
os.makedirs("unsatisfiable/wheels", exist_ok=True)
for name, req in [("left", "Requires-Dist: base<2\n"), ("right", "Requires-Dist: base>=2\n"), ("base", "")]:
    versions = ["1.0", "2.0"] if name == "base" else ["1.0"]
    for v in versions:
        path = f"unsatisfiable/wheels/{name}-{v}-py3-none-any.whl"
        wheel(path, name, v, [])
        with zipfile.ZipFile(path) as z:
            members = {n: z.read(n) for n in z.namelist()}
        members[f"{name}-{v}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n{req}".encode()
        with zipfile.ZipFile(path, "w") as z:
            for n, d in members.items():
                z.writestr(zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0)), d)

# --- wheels and bases (bake-image) -----------------------------------------------------------
def bake_case(folder, name, members, **kw):
    os.makedirs(f"{folder}/wheels", exist_ok=True)
    path = f"{folder}/wheels/{name}-1.0-py3-none-any.whl"
    wheel(path, name, "1.0", members, **kw)
    pins(f"{folder}/pinned.txt", [(name, "1.0", path)])
    return path

bake_case("wheel-traversal", "evil", [("../../../../../../tmp/lastmile-bad-inputs-canary/pwned", "x")])
bake_case("wheel-absolute", "evil", [("/tmp/lastmile-bad-inputs-canary/pwned", "x")])
path = bake_case("wheel-truncated", "cut", [("cut/__init__.py", "x" * 5000)])
data = open(path, "rb").read()
write(path, data[: len(data) // 2])
pins("wheel-truncated/pinned.txt", [("cut", "1.0", path)])
path = bake_case("wheel-hash-mismatch", "good", [("good/__init__.py", "x")])
write("wheel-hash-mismatch/pinned.txt", "good==1.0 --hash=sha256:" + "0" * 64 + "\n")
bake_case("wheel-not-in-record", "sneaky", [("sneaky/__init__.py", "x")])
with zipfile.ZipFile("wheel-not-in-record/wheels/sneaky-1.0-py3-none-any.whl", "a") as z:
    z.writestr(zipfile.ZipInfo("sneaky/extra.py", date_time=(2020, 1, 1, 0, 0, 0)), "import os\n")
pins("wheel-not-in-record/pinned.txt", [("sneaky", "1.0", "wheel-not-in-record/wheels/sneaky-1.0-py3-none-any.whl")])

# A zip bomb: many central-directory entries naming the same compressed member.
os.makedirs("zip-bomb/wheels", exist_ok=True)
inner = io.BytesIO()
payload = b"\0" * (16 << 20)
with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
    zeros = zipfile.ZipInfo("bomb/zeros.bin", date_time=(2020, 1, 1, 0, 0, 0))
    zeros.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(zeros, payload)
    z.writestr(zipfile.ZipInfo("bomb-1.0.dist-info/METADATA", date_time=(2020, 1, 1, 0, 0, 0)), "Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n")
    z.writestr(zipfile.ZipInfo("bomb-1.0.dist-info/WHEEL", date_time=(2020, 1, 1, 0, 0, 0)), "Wheel-Version: 1.0\nTag: py3-none-any\n")
raw = inner.getvalue()
# Find the central directory record of bomb/zeros.bin and repeat it 256 times under new names.
eocd = raw.rfind(b"PK\x05\x06")
cd_size = int.from_bytes(raw[eocd + 12: eocd + 16], "little")
cd_start = int.from_bytes(raw[eocd + 16: eocd + 20], "little")
cd = raw[cd_start: cd_start + cd_size]
first_len = 46 + int.from_bytes(cd[28:30], "little") + int.from_bytes(cd[30:32], "little") + int.from_bytes(cd[32:34], "little")
first = cd[:first_len]
copies = b""
for i in range(256):
    name = f"bomb/z{i:03}.bin".encode()
    rec = bytearray(first[:46]) + name + first[46 + int.from_bytes(first[28:30], "little"):]
    rec[28:30] = len(name).to_bytes(2, "little")
    copies += bytes(rec)
new_cd = cd + copies
count = int.from_bytes(raw[eocd + 10: eocd + 12], "little") + 256
end = bytearray(raw[eocd:])
end[8:10] = count.to_bytes(2, "little")
end[10:12] = count.to_bytes(2, "little")
end[12:16] = len(new_cd).to_bytes(4, "little")
write("zip-bomb/wheels/bomb-1.0-py3-none-any.whl", raw[:cd_start] + new_cd + bytes(end))
pins("zip-bomb/pinned.txt", [("bomb", "1.0", "zip-bomb/wheels/bomb-1.0-py3-none-any.whl")])

# A metadata bomb: a METADATA that decompresses to 100 MiB (far past the 16 MiB bound).
os.makedirs("metadata-bomb/wheels", exist_ok=True)
with zipfile.ZipFile("metadata-bomb/wheels/bomb-1.0-py3-none-any.whl", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo("bomb-1.0.dist-info/METADATA", date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with z.open(info, "w") as f:
        f.write(b"Metadata-Version: 2.1\nName: bomb\nVersion: 1.0\n\n")
        for _ in range(100):
            f.write(b" " * (1 << 20))
    z.writestr(zipfile.ZipInfo("bomb-1.0.dist-info/WHEEL", date_time=(2020, 1, 1, 0, 0, 0)), "Wheel-Version: 1.0\nTag: py3-none-any\n")
write("metadata-bomb/requirements.in", "bomb\n")

def base_tar(path, links, truncated=False, gzip=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        def add(name, data=b"", kind=tarfile.REGTYPE, target=""):
            info = tarfile.TarInfo(name); info.type = kind; info.mtime = 1700000000
            if kind == tarfile.DIRTYPE: info.mode = 0o755
            if kind == tarfile.SYMTYPE: info.linkname = target
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            t.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
        for d in ["etc", "sbin", "usr", "usr/lib", "usr/lib/python3.11", "usr/lib/x86_64-linux-gnu", "var", "var/lib", "var/lib/dpkg"]:
            add(d, kind=tarfile.DIRTYPE)
        add("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n")
        add("usr/lib/python3.11/os.py", b"")
        add("sbin/init", kind=tarfile.SYMTYPE, target="/lib/systemd/systemd")
        add("var/lib/dpkg/status", b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\nPackage: python3.11-minimal\nStatus: install ok installed\nVersion: 3.11.2-6\n")
        add("usr/lib/x86_64-linux-gnu/libc.so.6", b"")
        for name, target in links:
            add(name, kind=tarfile.SYMTYPE, target=target)
    data = buf.getvalue()
    if gzip:
        import gzip as gz
        data = gz.compress(data, mtime=0)
    write(path, data[: len(data) // 3] if truncated else data)

ok = bake_case("base-escape", "fine", [("fine/__init__.py", "x")])
base_tar("base-escape/base.tar", [("opt", "/tmp/lastmile-bad-inputs-canary")])
base_tar("base-ok/base.tar", [])
base_tar("base-truncated/base.tar.gz", [], truncated=True, gzip=True)
shutil.copytree("base-escape/wheels", "base-truncated/wheels", dirs_exist_ok=True)
shutil.copy("base-escape/pinned.txt", "base-truncated/pinned.txt")
write("services-unknown-key.toml", "[services.web]\ncommand = \"fine-run\"\nport = 80\n")
write("services-deep.toml", "[services.web]\ncommand = \"fine-run\"\nroles = " + "[" * 5000 + "]" * 5000 + "\n")

# --- environments and candidates (deploy-lxc) --------------------------------------------------
node_ok = '[nodes.web]\nroles = ["web"]\naddress = "127.77.9.2"\nnetwork = "none"\n'
def proxmox_env(path, **over):
    keys = {"url": '"https://pve.test:8006"', "token": '"ci@pve!lastmile"', "hosts": '["pve1"]'}
    keys.update(over)
    write(path, 'name = "px"\nbackend = "proxmox"\n\n[proxmox]\n' + "".join(f"{k} = {v}\n" for k, v in keys.items()) + "\n" + node_ok)
proxmox_env("env/proxmox-host-path.toml", hosts='["pve1/../../access/acl"]')
proxmox_env("env/proxmox-storage-option.toml", rootfs_storage='"local,rootfs=other:1"')
proxmox_env("env/proxmox-secret-home.toml", token_secret_env='"HOME"')
proxmox_env("env/proxmox-plain-http.toml", url='"http://pve.test:8006"')
proxmox_env("env/proxmox-secret-in-token.toml", token='"ci@pve!lastmile=9f0c2a77-s3cr3t"')
write("env/lxc-public-address.toml", 'name = "lab"\nbackend = "lxc"\n\n[nodes.web]\nroles = ["web"]\naddress = "8.8.8.8"\nnetwork = "none"\n')
write("env/lxc-node-name.toml", 'name = "lab"\nbackend = "lxc"\n\n[nodes."../host"]\nroles = ["web"]\naddress = "127.77.9.2"\nnetwork = "none"\n')
write("env/lxc-ok.toml", 'name = "lab"\nbackend = "lxc"\n\n' + node_ok)
write("candidate-v9.json", '{"schema": "lastmile.candidate/v9", "image": null}\n')

# --- suites, deployments and reports (aqf-run) -------------------------------------------------
write("suite/retries.toml", 'name = "s"\n[groups.all]\n[[groups.all.tests]]\nname = "t"\nkind = "port"\nport = 1\nretries = 100000\n')
write("suite/unknown-kind.toml", 'name = "s"\n[groups.all]\n[[groups.all.tests]]\nname = "t"\nkind = "shell"\nport = 1\n')
write("suite/deep.toml", 'name = "s"\n[groups.all]\n[[groups.all.tests]]\nname = "t"\nkind = "port"\nport = 1\ntags = ' + "[" * 5000 + "]" * 5000 + "\n")
write("deployment-v9.json", '{"schema": "lastmile.deployment/v9", "nodes": []}\n')
write("report-v9.json", '{"schema": "lastmile.report/v9", "passed": true}\n')
import json
def deployment(path, **node_over):
    node = {"name": "web", "container": "lmbad-web-1", "address": "127.77.9.2", "roles": ["web"],
            "services": [], "state": "running", "health": [],
            "exec": ["lxc-attach", "-P", "/nonexistent/lxc", "-n", "lmbad-web-1", "--clear-env", "--set-var", "PATH=/usr/bin:/bin", "--"]}
    node.update(node_over)
    write(path, json.dumps({"schema": "lastmile.deployment/v1", "environment": "lab", "backend": "lxc",
        "outcome": "deployed", "candidate": {"digest": "0" * 64, "image": "/dev/zero", "source_commits": {}},
        "generation": 1, "nodes": [node], "config": {}, "kept": [], "timings_ms": {"total": 1}}, indent=1) + "\n")
deployment("deployment-ok.json")
deployment("deployment-address.json", address="127.0.0.1 -o ProxyCommand=x")
deployment("deployment-node-name.json", name="../../etc")
