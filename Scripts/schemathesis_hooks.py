"""Schemathesis hooks for Scripts/check-schemathesis.sh.

`filter_failure` drops one kind of failure only: ST202 "schema-valid request rejected", when the
request breaks a rule of PROTOCOL.md that a JSON Schema cannot state (one field depends on another,
or a length is counted in UTF-8 bytes) and the server answered with exactly the 400 PROTOCOL.md
prescribes for it (tus metadata on an evidence upload is such a rule too). Every other failure, and any other answer to such a request, still fails the run.

`map_case` shortens long polls to at most a second, so the run's length does not depend on the
values drawn.
"""
import unicodedata

from hypothesis import strategies as st

import schemathesis

# Push (PROTOCOL.md §2.1, §3.1, §6.1): 400 invalid_json for a record that is not well formed.
# Each phrase names one rule the server checks and openapi.yaml cannot express.
PUSH_RULES = (
    "is not covered by the record's context",  # every dot in fields/deleted is in the context
    "appears twice in one field register",  # no dot twice in one register
    "appears twice in the deleted register",
    "both deletes the record and writes field",  # no dot both deletes and writes
    "appears twice in one push",  # each key at most once per push
    "bytes without control characters",  # ids are 1–128 bytes of UTF-8
    "bytes exceeds the limit of",  # string values are at most 65,536 bytes of UTF-8
)


def _error(response):
    try:
        body = response.json()
    except Exception:
        return {}
    return body if isinstance(body, dict) else {}


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST202" or response.status_code != 400:
        return True
    error = _error(response)
    label = case.operation.label
    if label == "POST /v1/push":
        path = str((error.get("details") or {}).get("path", ""))
        if error.get("error") == "invalid_json" and path.startswith(".records"):
            return not any(rule in str(error.get("message", "")) for rule in PUSH_RULES)
    if label == "GET /v1/pull":
        # `receipt` is only meaningful beside `replica` (PROTOCOL.md §6.3, §7.1).
        query = case.query or {}
        if "receipt" in query and "replica" not in query:
            return not (error.get("error") == "invalid_parameter"
                        and (error.get("details") or {}).get("parameter") == "receipt")
    if label == "POST /v1/evidence/uploads" and error.get("error") == "invalid_parameter":
        # tus metadata (PROTOCOL.md §13.2) is comma-separated "key base64(value)" pairs with a
        # 64-hex-digit sha256: a form a JSON Schema string cannot state.
        return (error.get("details") or {}).get("parameter") != "Upload-Metadata"
    if label == "PATCH /v1/evidence/uploads/{id}" and error.get("error") == "invalid_parameter":
        # Upload-Checksum's digest must be base64 of exactly 20 (sha1) or 32 (sha256) bytes.
        return (error.get("details") or {}).get("parameter") != "Upload-Checksum"
    if label in RECORD_PATHS and error.get("error") == "invalid_parameter":
        # A record id is 1–128 bytes of UTF-8 without control characters (PROTOCOL.md §2.1). Drop
        # the failure only when the id sent really breaks that rule, so an id the server misreads
        # (say, one it did not percent-decode) still fails.
        record_id = str((case.path_parameters or {}).get("id", ""))
        if (error.get("details") or {}).get("parameter") == "id" and not _valid_record_id(record_id):
            return False
    return True


RECORD_PATHS = {
    "GET /v1/conflicts/{collection}/{id}",
    "POST /v1/conflicts/{collection}/{id}",
    "GET /v1/history/{collection}/{id}",
}


def _valid_record_id(record_id):
    return (1 <= len(record_id.encode("utf-8", "surrogatepass")) <= 128
            and not any(unicodedata.category(c) == "Cc" for c in record_id))


@schemathesis.hook
def map_case(context, case):
    """Long polls of at most a second: a pull's valid `wait` (0–60 s) becomes at most 1.

    A long poll on a store where nothing changes holds the request for `wait` seconds, which is
    right (PROTOCOL.md §7.1) but would make the run's length depend on the values drawn. Values
    outside 0–60 are left alone, so negative tests still send them.
    """
    if case.operation.label == "GET /v1/pull" and isinstance(case.query, dict):
        wait = case.query.get("wait")
        if isinstance(wait, int) and not isinstance(wait, bool) and 1 < wait <= 60:
            case.query["wait"] = 1
        elif isinstance(wait, str) and wait.isdigit() and 1 < int(wait) <= 60:
            case.query["wait"] = "1"
    return case


# A tus PATCH body (PROTOCOL.md §13.2) is raw bytes: generate them as such, small.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))
