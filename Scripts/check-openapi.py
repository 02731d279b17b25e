#!/usr/bin/env python3
"""Checks that the real server answers as Protocol/openapi.yaml says.

Starts the built `schoolsync-server` on a fresh database and a free loopback port, calls every
endpoint (successes and the main errors), and validates each response's status and JSON body
against the schema openapi.yaml declares for it. Exits non-zero on the first mismatch.

Usage: python3 Scripts/check-openapi.py [path/to/schoolsync-server]
"""
import gzip
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import yaml
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "Protocol" / "openapi.yaml").read_text(encoding="utf-8"))
REGISTRY = Registry().with_resource("urn:spec", DRAFT202012.create_resource(SPEC))
checked = 0


def escape(segment):
    return segment.replace("~", "~0").replace("/", "~1")


def schema_for(path, method, status):
    """A reference to the response schema inside the spec, so nested $refs resolve against it."""
    response = SPEC["paths"][path][method]["responses"].get(str(status))
    if response is None:
        raise SystemExit(f"FAIL {method.upper()} {path}: status {status} is not declared in openapi.yaml")
    pointer = f"/paths/{escape(path)}/{method}/responses/{status}"
    if "$ref" in response:
        pointer = response["$ref"].lstrip("#")
        response = SPEC["components"]["responses"][pointer.split("/")[-1]]
    if "schema" not in response.get("content", {}).get("application/json", {}):
        return None
    return {"$ref": f"urn:spec#{pointer}/content/application~1json/schema"}


def call(method, url_path, spec_path, token=None, body=None, expect=200):
    global checked
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    request = urllib.request.Request(BASE + url_path, data=data, method=method.upper())
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    request.add_header("Accept-Encoding", "gzip")
    try:
        with urllib.request.urlopen(request) as response:
            status, raw, encoding = response.status, response.read(), response.headers.get("Content-Encoding")
    except urllib.error.HTTPError as error:
        status, raw, encoding = error.code, error.read(), error.headers.get("Content-Encoding")
    if encoding == "gzip":
        raw = gzip.decompress(raw)
    if status != expect:
        raise SystemExit(f"FAIL {method.upper()} {url_path}: expected {expect}, got {status}: {raw[:300]!r}")
    schema = schema_for(spec_path, method, status)
    if schema is not None:
        document = json.loads(raw)
        OAS31Validator(schema, registry=REGISTRY).validate(document)
    checked += 1
    return json.loads(raw) if raw and raw[:1] in b"{[" else raw


def cli(*args):
    output = subprocess.run([BINARY, *args, "--db", DB], check=True, capture_output=True, text=True).stdout
    match = re.search(r"token[^:]*: (ss_[0-9a-f]+)", output)
    return match.group(1) if match else None


BINARY = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / ".build" / "debug" / "schoolsync-server")
with tempfile.TemporaryDirectory() as directory:
    DB = str(Path(directory) / "server.sqlite")
    admin = cli("user", "add", "--name", "管理员", "--role", "admin")
    cli("school", "add", "--id", "qx-zhuoran", "--name", "卓然学校")
    device = cli("device", "add", "--school", "qx-zhuoran", "--name", "教务处 PC")
    server = subprocess.Popen([BINARY, "serve", "--db", DB, "--port", "0", "--log-level", "error"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        BASE = "http://" + re.search(r"127\.0\.0\.1:\d+", line).group(0)
        call("get", "/healthz", "/healthz")
        call("get", "/metrics", "/metrics")
        call("get", "/v1/session", "/v1/session", device)
        call("get", "/v1/session", "/v1/session", None, expect=401)
        def state(replica, values):
            return {"context": {replica: 1},
                    "fields": {k: [{"replica": replica, "counter": 1, "value": v}] for k, v in values.items()},
                    "deleted": []}

        admin_replica = "0" * 31 + "a"
        catalog = [
            dict(collection="measures", id="m1", scope="catalog", **state(admin_replica, {"title": {"string": "工作目标"}})),
            dict(collection="assignments", id="qx-zhuoran/m1", scope="school:qx-zhuoran",
                 **state(admin_replica, {"school_id": {"string": "qx-zhuoran"}, "measure_id": {"string": "m1"}})),
        ]
        published = call("post", "/v1/push", "/v1/push", admin, {"batch": "catalog", "replica": admin_replica, "records": catalog})
        assert [r["status"] for r in published["results"]] == ["applied", "applied"], published
        replica = "0" * 31 + "1"
        record = dict(collection="reports", id="qx-zhuoran/2025-S1/m1", scope="school:qx-zhuoran",
                      **state(replica, {"status": {"string": "in_progress"}, "narrative": {"string": "进展"}}))
        foreign = dict(record, id="qx-huoju/2025-S1/m1", scope="school:qx-huoju")
        pushed = call("post", "/v1/push", "/v1/push", device, {"batch": "b1", "replica": replica, "records": [record, foreign]})
        assert [r["status"] for r in pushed["results"]] == ["applied", "rejected"], pushed
        call("post", "/v1/push", "/v1/push", device, {"batch": "b2", "replica": replica, "records": []}, expect=409)
        call("post", "/v1/push", "/v1/push", device, {"batch": "b3"}, expect=400)
        page = call("get", "/v1/pull?limit=10", "/v1/pull", device)
        call("get", f"/v1/pull?since={page['next']}&replica={replica}&receipt={pushed['receipt']}", "/v1/pull", device)
        call("get", "/v1/pull?limit=0", "/v1/pull", device, expect=400)
        call("get", "/v1/bureau/summary?period=2025-S1", "/v1/bureau/summary", admin)
        call("get", "/v1/bureau/summary", "/v1/bureau/summary", admin, expect=400)
        call("get", "/v1/bureau/summary?period=2025-S1", "/v1/bureau/summary", device, expect=403)
        # Two pushes of the same field from two replicas: a conflict to list, show, resolve and trace.
        other = "0" * 31 + "2"
        clash = dict(record, **state(other, {"narrative": {"string": "另一种说法"}}))
        call("post", "/v1/push", "/v1/push", device, {"batch": "clash", "replica": other, "records": [clash]})
        # The device pushed under both replicas: it names both writers, and only a device may ask.
        writers = call("get", "/v1/school/replicas", "/v1/school/replicas", device)
        assert writers == {"replicas": [{"replica": replica, "name": "教务处 PC"}, {"replica": other, "name": "教务处 PC"}]}, writers
        call("get", "/v1/school/replicas", "/v1/school/replicas", admin, expect=403)
        call("get", "/v1/school/replicas", "/v1/school/replicas", None, expect=401)
        listed = call("get", "/v1/conflicts?school=qx-zhuoran", "/v1/conflicts", admin)
        assert [c["id"] for c in listed["conflicts"]] == ["qx-zhuoran/2025-S1/m1"], listed
        detail = call("get", "/v1/conflicts/reports/qx-zhuoran/2025-S1/m1", "/v1/conflicts/{collection}/{id}", admin)
        call("get", "/v1/conflicts/reports/nope", "/v1/conflicts/{collection}/{id}", admin, expect=404)
        call("post", "/v1/conflicts/reports/qx-zhuoran/2025-S1/m1", "/v1/conflicts/{collection}/{id}", admin,
             {"seen": detail["context"], "values": {"narrative": {"string": "合并"}}, "reason": ""}, expect=400)
        call("post", "/v1/conflicts/reports/qx-zhuoran/2025-S1/m1", "/v1/conflicts/{collection}/{id}", admin,
             {"seen": detail["context"], "values": {"narrative": {"string": "合并"}}, "reason": "合并两种说法"})
        call("post", "/v1/conflicts/reports/qx-zhuoran/2025-S1/m1", "/v1/conflicts/{collection}/{id}", admin,
             {"seen": detail["context"], "values": {"narrative": {"string": "再来"}}, "reason": "again"}, expect=409)
        call("get", "/v1/history/reports/qx-zhuoran/2025-S1/m1", "/v1/history/{collection}/{id}", admin)
        call("get", "/v1/conflicts", "/v1/conflicts", device, expect=403)
        call("get", "/v1/devices", "/v1/devices", admin)
        call("get", "/v1/devices", "/v1/devices", device, expect=403)
        call("post", "/v1/admin/schools", "/v1/admin/schools", admin, {"id": "qx-huoju", "name": "火炬中学"}, expect=201)
        call("post", "/v1/admin/schools", "/v1/admin/schools", admin, {"id": "qx-huoju", "name": "火炬中学"}, expect=409)
        call("get", "/v1/admin/schools", "/v1/admin/schools", admin)
        issued = call("post", "/v1/admin/devices", "/v1/admin/devices", admin, {"school": "qx-huoju", "name": "PC"}, expect=201)
        call("post", "/v1/admin/devices", "/v1/admin/devices", admin, {"school": "nowhere", "name": "PC"}, expect=404)
        call("post", "/v1/admin/users", "/v1/admin/users", admin, {"name": "督导室", "role": "bureau"}, expect=201)
        call("post", f"/v1/admin/principals/{issued['id']}/revoke", "/v1/admin/principals/{id}/revoke", admin)
        call("post", "/v1/admin/principals/999/revoke", "/v1/admin/principals/{id}/revoke", admin, expect=404)
    finally:
        server.terminate()
        server.wait(timeout=30)
print(f"openapi.yaml matches the server: {checked} responses checked")
