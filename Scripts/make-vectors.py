#!/usr/bin/env python3
"""Writes Protocol/vectors/*.json: the conformance cases of PROTOCOL.md §3.

The expected results come from the small reference model below — an implementation of
PROTOCOL.md §3 written independently of the Swift code — and every case also asserts by hand
what the text of the spec says should happen (which fields conflict, which values survive).
The Swift tests replay the files; another team's client can replay them too.

Run from the repository root:  python3 Scripts/make-vectors.py
CI runs it with --check to prove the committed files are what this script writes.
"""
import json
import sys
from pathlib import Path

A, B, C, D, E = ("a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32)
NAMES = {A: "A", B: "B", C: "C", D: "D", E: "E"}


class IntegrityError(Exception):
    pass


class Refused(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


# ---------------------------------------------------------------- reference model

def s(text):
    return {"string": text}


def i(number):
    return {"int": number}


def f(number):
    return {"double": number}


def b(flag):
    return {"bool": flag}


NULL = {"null": True}


def key(value):
    return json.dumps(value, sort_keys=True)


def empty():
    return {"context": {}, "fields": {}, "deleted": []}


def covers(context, dot):
    replica, counter = dot
    return counter <= context.get(replica, 0)


def join(x, y):
    fields = {}
    for name in sorted(set(x["fields"]) | set(y["fields"])):
        left = {(r, c): v for r, c, v in x["fields"].get(name, [])}
        right = {(r, c): v for r, c, v in y["fields"].get(name, [])}
        out = {}
        for dot, value in left.items():
            if dot in right:
                if key(right[dot]) != key(value):
                    raise IntegrityError(dot)
                out[dot] = value
            elif not covers(y["context"], dot):
                out[dot] = value
        for dot, value in right.items():
            if dot not in left and not covers(x["context"], dot):
                out[dot] = value
        if out:
            fields[name] = [(r, c, v) for (r, c), v in sorted(out.items())]
    for deletes, other in ((x["deleted"], y), (y["deleted"], x)):
        for name, entries in other["fields"].items():
            for r, c, _ in entries:
                if (r, c) in [tuple(d) for d in deletes]:
                    raise IntegrityError((r, c))
    xd = {tuple(d) for d in x["deleted"]}
    yd = {tuple(d) for d in y["deleted"]}
    deleted = sorted(
        {d for d in xd if d in yd or not covers(y["context"], d)}
        | {d for d in yd if d in xd or not covers(x["context"], d)}
    )
    context = dict(x["context"])
    for replica, counter in y["context"].items():
        context[replica] = max(context.get(replica, 0), counter)
    return {"context": context, "fields": fields, "deleted": [list(d) for d in deleted]}


def distinct(entries):
    seen = []
    for _, _, value in entries:
        if key(value) not in [key(v) for v in seen]:
            seen.append(value)
    return seen


def conflicting_fields(state):
    return sorted(n for n, e in state["fields"].items() if len(distinct(e)) > 1)


def delete_conflict(state):
    return bool(state["deleted"]) and bool(state["fields"])


def in_conflict(state):
    return delete_conflict(state) or bool(conflicting_fields(state))


def mint(state, replica):
    counter = state["context"].get(replica, 0) + 1
    context = dict(state["context"])
    context[replica] = counter
    return counter, context


def raw_write(state, replica, values):
    counter, context = mint(state, replica)
    fields = {n: list(e) for n, e in state["fields"].items()}
    for name, value in values.items():
        fields[name] = [(replica, counter, value)]
    return {"context": context, "fields": fields, "deleted": []}


def raw_delete(state, replica):
    counter, context = mint(state, replica)
    return {"context": context, "fields": {}, "deleted": [[replica, counter]]}


def write(state, replica, values):
    if delete_conflict(state):
        raise Refused("conflicted")
    if any(n in conflicting_fields(state) for n in values):
        raise Refused("conflicted")
    return raw_write(state, replica, values)


def delete(state, replica):
    if in_conflict(state):
        raise Refused("conflicted")
    return raw_delete(state, replica)


def all_dots(state):
    dots = {tuple(d) for d in state["deleted"]}
    for entries in state["fields"].values():
        dots |= {(r, c) for r, c, _ in entries}
    return dots


def resolve(state, replica, resolution, seen=None):
    if not in_conflict(state):
        raise Refused("not_in_conflict")
    if delete_conflict(state):
        contested = all_dots(state)
    else:
        contested = {(r, c) for n in conflicting_fields(state) for r, c, _ in state["fields"][n]}
    if "write" in resolution:
        # PROTOCOL.md §3.5: a resolution also replaces the fields it names; their dots must have been shown.
        for name in resolution["write"]:
            contested |= {(r, c) for r, c, _ in state["fields"].get(name, [])}
    if seen is not None and any(not covers(seen, d) for d in contested):
        raise Refused("stale_resolution")
    if "delete" in resolution:
        return raw_delete(state, replica)
    values = resolution["write"]
    if any(n not in values for n in conflicting_fields(state)):
        raise Refused("unresolved_fields")
    return raw_write(state, replica, values)


def current_values(state):
    if state["deleted"] or conflicting_fields(state):
        return None
    return {n: e[0][2] for n, e in state["fields"].items()}


# ---------------------------------------------------------------- wire form

def wire(state):
    return {
        "context": dict(sorted(state["context"].items())),
        "fields": {
            n: [{"replica": r, "counter": c, "value": v} for r, c, v in e]
            for n, e in sorted(state["fields"].items())
        },
        "deleted": [{"replica": r, "counter": c} for r, c in state["deleted"]],
    }


def conflict_report(state):
    if not in_conflict(state):
        return None
    return {
        "fields": {
            n: [{"replica": r, "counter": c, "value": v} for r, c, v in state["fields"][n]]
            for n in conflicting_fields(state)
        },
        "deletes": [{"replica": r, "counter": c} for r, c in state["deleted"]] if delete_conflict(state) else [],
    }


def expect(state):
    return {"state": wire(state), "conflict": conflict_report(state), "values": current_values(state)}


# ---------------------------------------------------------------- cases

FILES = {}


def case(file, name, note, op, inputs, check=None, **extra):
    """Runs `op` on `inputs` in the reference model, checks the hand-written expectation, records it."""
    try:
        if op == "join":
            result = inputs[0]
            for other in inputs[1:]:
                result = join(result, other)
        elif op == "write":
            result = write(inputs[0], extra["replica"], extra["values"])
        elif op == "delete":
            result = delete(inputs[0], extra["replica"])
        elif op == "resolve":
            result = resolve(inputs[0], extra["replica"], extra["resolution"], extra.get("seen"))
        else:
            raise ValueError(op)
        outcome = expect(result)
    except IntegrityError:
        outcome = {"error": "integrity"}
    except Refused as refusal:
        outcome = {"error": refusal.code}
    if check is not None:
        assert check(outcome), f"{file}/{name}: hand check failed: {outcome}"
    entry = {"name": name, "note": note, "op": op, "inputs": [wire(x) for x in inputs]}
    for k in ("replica", "values", "resolution", "seen"):
        if k in extra:
            entry[k] = extra[k]
    entry["expect"] = outcome
    FILES.setdefault(file, []).append(entry)


def fields_of(outcome):
    return outcome["state"]["fields"]


def values_of(outcome):
    return outcome["values"]


def conflict_fields(outcome):
    return sorted((outcome["conflict"] or {}).get("fields", {}).keys())


def build():
    base = raw_write(empty(), A, {"status": s("in_progress"), "enrolment": i(412), "narrative": s("初稿")})

    # ---- local writes
    case("local-write", "first write mints counter 1", "A write at A on an empty state mints (A,1) and holds each field at that dot.",
         "write", [empty()], replica=A, values={"status": s("in_progress"), "enrolment": i(412)},
         check=lambda o: o["state"]["context"] == {A: 1} and values_of(o) == {"status": s("in_progress"), "enrolment": i(412)})
    case("local-write", "second write replaces only what it writes", "A's next write mints (A,2); fields it does not name keep (A,1).",
         "write", [base], replica=A, values={"enrolment": i(415)},
         check=lambda o: o["state"]["context"] == {A: 2} and values_of(o)["enrolment"] == i(415) and values_of(o)["narrative"] == s("初稿"))
    case("local-write", "write of no fields is legal", "An empty write still mints a dot and advances the context.",
         "write", [base], replica=A, values={},
         check=lambda o: o["state"]["context"] == {A: 2} and len(values_of(o)) == 3)
    case("local-write", "writer continues from the record's context", "B writes after seeing A's write: the new dot is (B,1) and the context keeps A:1.",
         "write", [base], replica=B, values={"narrative": s("新建2所公办幼儿园")},
         check=lambda o: o["state"]["context"] == {A: 1, B: 1})
    case("local-write", "every value kind round-trips", "Strings, integers, finite doubles (rates above 100% are legal), booleans and null.",
         "write", [empty()], replica=A,
         values={"title": s("学前教育毛入园率"), "count": i(-3), "rate": f(112.6), "done": b(True), "note": NULL},
         check=lambda o: values_of(o)["rate"] == f(112.6) and values_of(o)["note"] == NULL)
    deleted_base = raw_delete(base, B)
    case("local-write", "delete clears every value", "A delete replaces the deleted register with its dot and empties every field.",
         "delete", [base], replica=B,
         check=lambda o: fields_of(o) == {} and o["state"]["deleted"] == [{"replica": B, "counter": 1}] and values_of(o) is None)
    case("local-write", "write after delete re-creates the record", "A write empties the deleted register: the record lives again with only the new fields.",
         "write", [deleted_base], replica=A, values={"status": s("not_started")},
         check=lambda o: o["state"]["deleted"] == [] and values_of(o) == {"status": s("not_started")})
    case("local-write", "delete of a deleted record replaces the marker", "Deleting again is legal and leaves exactly one delete dot.",
         "delete", [deleted_base], replica=A,
         check=lambda o: o["state"]["deleted"] == [{"replica": A, "counter": 2}])

    # ---- merges of concurrent edits
    left = raw_write(base, A, {"enrolment": i(415)})
    right = raw_write(base, B, {"narrative": s("已完成两所幼儿园选址")})
    case("merge", "concurrent edits of different fields merge", "Device A edits enrolment, device B the narrative: both survive, no conflict.",
         "join", [left, right],
         check=lambda o: o["conflict"] is None and values_of(o)["enrolment"] == i(415) and values_of(o)["narrative"] == s("已完成两所幼儿园选址"))
    case("merge", "merge is commutative", "The same two states joined the other way round give the same state.",
         "join", [right, left],
         check=lambda o: o["conflict"] is None)
    same_a = raw_write(base, A, {"enrolment": i(420)})
    same_b = raw_write(base, B, {"enrolment": i(418)})
    case("merge", "concurrent edits of the same field conflict", "Both values are kept side by side; the field has no settled value.",
         "join", [same_a, same_b],
         check=lambda o: conflict_fields(o) == ["enrolment"] and values_of(o) is None)
    equal_a = raw_write(base, A, {"status": s("done")})
    equal_b = raw_write(base, B, {"status": s("done")})
    case("merge", "concurrent writes of the same value are not a conflict", "Two dots survive in the register, but one distinct value is settled.",
         "join", [equal_a, equal_b],
         check=lambda o: o["conflict"] is None and len(fields_of(o)["status"]) == 2 and values_of(o)["status"] == s("done"))
    mixed_a = raw_write(base, A, {"enrolment": i(420), "status": s("done")})
    mixed_b = raw_write(base, B, {"enrolment": i(418), "narrative": s("补充说明")})
    case("merge", "partial overlap conflicts only the shared field", "A writes enrolment+status, B enrolment+narrative: only enrolment conflicts.",
         "join", [mixed_a, mixed_b],
         check=lambda o: conflict_fields(o) == ["enrolment"] and values_of(o) is None)
    seen_then = raw_write(join(same_a, base), B, {"enrolment": i(421)})
    case("merge", "a write that saw the other replaces it", "B saw A's write before writing: B's value dominates, no conflict.",
         "join", [same_a, seen_then],
         check=lambda o: o["conflict"] is None and values_of(o)["enrolment"] == i(421))
    case("merge", "stale state joins without effect", "Joining an older state of the same history changes nothing.",
         "join", [seen_then, base],
         check=lambda o: o["state"] == wire(seen_then))
    case("merge", "new field from another replica is added", "A field only one side has survives the join.",
         "join", [base, raw_write(base, B, {"evidence": s('{"name":"照片.jpg","sha256":"ab12"}')})],
         check=lambda o: "evidence" in values_of(o))
    unknown = raw_write(base, B, {"futureField": s("kept")})
    case("merge", "fields unknown to a replica are kept", "The model has no schema: a field added by a newer client survives every join (invariant 2).",
         "join", [base, unknown],
         check=lambda o: values_of(o)["futureField"] == s("kept"))
    case("merge", "join with the empty state is identity", "The empty state has seen nothing and holds nothing.",
         "join", [empty(), same_a],
         check=lambda o: o["state"] == wire(same_a))
    ratio_a = raw_write(base, A, {"gross_enrolment": s('{"numerator":1126,"denominator":1000}')})
    ratio_b = raw_write(base, B, {"gross_enrolment": s('{"numerator":980,"denominator":1000}')})
    case("merge", "a ratio is one field and conflicts as a pair", "Numerator and denominator travel together (invariant 7): concurrent edits conflict instead of mixing.",
         "join", [ratio_a, ratio_b],
         check=lambda o: conflict_fields(o) == ["gross_enrolment"])

    # ---- delivery: duplicates and order
    m1 = raw_write(base, A, {"enrolment": i(430)})
    m2 = raw_write(m1, A, {"status": s("done")})
    at_b = raw_write(base, B, {"narrative": s("学校端补充")})
    case("delivery", "duplicate delivery changes nothing", "B receives A's message twice.",
         "join", [at_b, m1, m1],
         check=lambda o: o["state"] == wire(join(at_b, m1)))
    case("delivery", "out-of-order delivery converges", "B receives A's second state before the first; the first then changes nothing.",
         "join", [at_b, m2, m1],
         check=lambda o: o["state"] == wire(join(at_b, m2)) and values_of(o)["status"] == s("done"))
    case("delivery", "in-order delivery gives the same result", "The same messages in order reach the same state as out of order.",
         "join", [at_b, m1, m2],
         check=lambda o: o["state"] == wire(join(at_b, m2)))
    case("delivery", "own state echoed back changes nothing", "A replica that receives its own state back (a pull after a push) is unchanged.",
         "join", [m2, m2],
         check=lambda o: o["state"] == wire(m2))
    case("delivery", "older echo after newer local write changes nothing", "The server echoes A's first state after A wrote again.",
         "join", [m2, m1],
         check=lambda o: o["state"] == wire(m2))
    lost = raw_write(at_b, B, {"narrative": s("第二次修改")})
    case("delivery", "a lost message is repaired by the next whole state", "B's first state never arrives; its second carries everything (states are whole).",
         "join", [m2, lost],
         check=lambda o: values_of(o)["narrative"] == s("第二次修改") and values_of(o)["status"] == s("done"))

    # ---- three-way concurrency
    t_a = raw_write(base, A, {"enrolment": i(401)})
    t_b = raw_write(base, B, {"enrolment": i(402)})
    t_c = raw_write(base, C, {"enrolment": i(403)})
    case("three-way", "three concurrent values are all kept", "Three devices edit the same field offline.",
         "join", [t_a, t_b, t_c],
         check=lambda o: len(o["conflict"]["fields"]["enrolment"]) == 3)
    case("three-way", "three-way join is associative", "Joined in another grouping and order the result is the same.",
         "join", [t_c, join(t_a, t_b)],
         check=lambda o: o["state"] == wire(join(join(t_a, t_b), t_c)))
    ab = join(t_a, t_b)
    c_seen_ab = raw_write(join(ab, base), C, {"enrolment": i(410)})
    case("three-way", "a write that saw two concurrent values replaces both", "C saw A and B's values and wrote over them; D still has only A's.",
         "join", [t_a, c_seen_ab],
         check=lambda o: o["conflict"] is None and values_of(o)["enrolment"] == i(410))
    c_saw_a = raw_write(t_a, C, {"enrolment": i(405)})
    case("three-way", "a write that saw one of two keeps the other", "C saw only A's value: B's concurrent value survives beside C's.",
         "join", [c_saw_a, t_b],
         check=lambda o: [e["value"] for e in o["conflict"]["fields"]["enrolment"]] == [i(402), i(405)])
    d_other = raw_write(base, D, {"narrative": s("D 的说明")})
    case("three-way", "three conflicting and one independent edit", "Only the shared field conflicts; D's narrative merges.",
         "join", [t_a, t_b, t_c, d_other],
         check=lambda o: conflict_fields(o) == ["enrolment"] and "narrative" in o["state"]["fields"])

    # ---- edit vs delete
    ed_delete = raw_delete(base, A)
    ed_edit = raw_write(base, B, {"narrative": s("学校仍在修改")})
    case("edit-vs-delete", "edit concurrent with delete conflicts", "The delete marker stands beside the surviving edit.",
         "join", [ed_delete, ed_edit],
         check=lambda o: o["conflict"]["deletes"] == [{"replica": A, "counter": 2}] and list(fields_of(o)) == ["narrative"])
    case("edit-vs-delete", "fields not edited concurrently stay deleted", "Only the concurrent edit survives; the delete cleared the rest.",
         "join", [ed_edit, ed_delete],
         check=lambda o: "enrolment" not in fields_of(o) and o["values"] is None)
    ved = join(ed_delete, ed_edit)
    case("edit-vs-delete", "plain write is refused during edit-vs-delete", "Every plain write is refused until an administrator resolves (invariant 6).",
         "write", [ved], replica=B, values={"status": s("done")},
         check=lambda o: o == {"error": "conflicted"})
    case("edit-vs-delete", "plain delete is refused during edit-vs-delete", "A delete would settle the conflict silently.",
         "delete", [ved], replica=A,
         check=lambda o: o == {"error": "conflicted"})
    d1 = raw_delete(base, A)
    d2 = raw_delete(base, B)
    case("edit-vs-delete", "concurrent deletes are not a conflict", "Both delete markers survive; the record is simply deleted.",
         "join", [d1, d2],
         check=lambda o: o["conflict"] is None and len(o["state"]["deleted"]) == 2 and o["values"] is None)
    recreated = raw_write(d1, A, {"status": s("not_started")})
    case("edit-vs-delete", "re-creation after delete wins over the seen delete", "A re-creates after its own delete; B, which saw the delete, merges cleanly.",
         "join", [d1, recreated],
         check=lambda o: o["state"]["deleted"] == [] and values_of(o) == {"status": s("not_started")})
    case("edit-vs-delete", "re-creation concurrent with another delete conflicts", "B deletes concurrently with A's delete-then-re-create: edit vs delete.",
         "join", [recreated, d2],
         check=lambda o: o["conflict"] is not None and o["conflict"]["deletes"] == [{"replica": B, "counter": 1}])

    # ---- resolution
    cf = join(same_a, same_b)
    case("resolution", "resolution picks one value and dominates", "E (an admin) writes the chosen value; its context covers both conflicting dots.",
         "resolve", [cf], replica=E, resolution={"write": {"enrolment": i(420)}},
         check=lambda o: o["conflict"] is None and values_of(o)["enrolment"] == i(420) and o["state"]["context"][E] == 1)
    case("resolution", "resolution may give a new value", "The administrator enters a value neither device had.",
         "resolve", [cf], replica=E, resolution={"write": {"enrolment": i(419)}},
         check=lambda o: values_of(o)["enrolment"] == i(419))
    resolved = resolve(cf, E, {"write": {"enrolment": i(420)}})
    case("resolution", "resolution wins at a replica still holding one side", "Device A (holding only its own value) joins the resolution: no conflict remains.",
         "join", [same_a, resolved],
         check=lambda o: o["conflict"] is None and values_of(o)["enrolment"] == i(420))
    case("resolution", "resolution wins at the other side too", "Device B joins the resolution.",
         "join", [same_b, resolved],
         check=lambda o: o["conflict"] is None and values_of(o)["enrolment"] == i(420))
    case("resolution", "plain edit of a conflicted field is refused", "Resolving is an explicit act; a plain write must not settle it.",
         "write", [cf], replica=A, values={"enrolment": i(1)},
         check=lambda o: o == {"error": "conflicted"})
    case("resolution", "plain edit of another field is allowed during a conflict", "Field-level causality: a settled field can still be edited.",
         "write", [cf], replica=A, values={"narrative": s("继续填写")},
         check=lambda o: conflict_fields(o) == ["enrolment"] and o["state"]["fields"]["narrative"][0]["value"] == s("继续填写"))
    case("resolution", "resolution must name every conflicting field", "A resolution that leaves a conflicting field open is refused.",
         "resolve", [join(mixed_a, join(mixed_b, raw_write(base, C, {"status": s("at_risk")})))], replica=E,
         resolution={"write": {"enrolment": i(420)}},
         check=lambda o: o == {"error": "unresolved_fields"})
    case("resolution", "resolution with a stale view is refused", "The admin saw only A and B's values; C's arrived since.",
         "resolve", [join(join(t_a, t_b), t_c)], replica=E, resolution={"write": {"enrolment": i(402)}},
         seen={A: 2, B: 1},
         check=lambda o: o == {"error": "stale_resolution"})
    case("resolution", "resolution with a current view is accepted", "The admin's view covers every conflicting dot.",
         "resolve", [join(join(t_a, t_b), t_c)], replica=E, resolution={"write": {"enrolment": i(402)}},
         seen={A: 2, B: 1, C: 1},
         check=lambda o: values_of(o)["enrolment"] == i(402))
    later = raw_write(cf, C, {"narrative": s("后来补充")})
    case("resolution", "naming a settled field changed since it was shown is stale", "C settled the narrative after the admin looked; a resolution that also writes the narrative would overwrite it unseen.",
         "resolve", [later], replica=E, resolution={"write": {"enrolment": i(420), "narrative": s("管理员改写")}},
         seen=cf["context"],
         check=lambda o: o == {"error": "stale_resolution"})
    case("resolution", "naming only the conflicting field keeps what arrived since", "The same view, resolving only the conflict: C's narrative stays.",
         "resolve", [later], replica=E, resolution={"write": {"enrolment": i(420)}},
         seen=cf["context"],
         check=lambda o: o["conflict"] is None and values_of(o)["narrative"] == s("后来补充"))
    case("resolution", "staleness is checked before completeness", "A stale view that also leaves a field open is answered as stale: look again first.",
         "resolve", [join(join(t_a, t_b), t_c)], replica=E, resolution={"write": {}},
         seen={A: 2, B: 1},
         check=lambda o: o == {"error": "stale_resolution"})
    case("resolution", "resolving a record without conflict is refused", "There is nothing to resolve; edit it instead.",
         "resolve", [base], replica=E, resolution={"write": {"status": s("done")}},
         check=lambda o: o == {"error": "not_in_conflict"})
    case("resolution", "edit-vs-delete resolved as keep re-creates with full content", "The admin keeps the record with its last full content plus the concurrent edit.",
         "resolve", [ved], replica=E,
         resolution={"write": {"status": s("in_progress"), "enrolment": i(412), "narrative": s("学校仍在修改")}},
         check=lambda o: o["conflict"] is None and o["state"]["deleted"] == [] and len(values_of(o)) == 3)
    case("resolution", "edit-vs-delete resolved as delete", "The admin confirms the delete: the surviving edit goes.",
         "resolve", [ved], replica=E, resolution={"delete": True},
         check=lambda o: o["conflict"] is None and fields_of(o) == {} and o["values"] is None)
    keep = resolve(ved, E, {"write": {"status": s("in_progress"), "enrolment": i(412), "narrative": s("学校仍在修改")}})
    case("resolution", "keep resolution wins at the deleting replica", "Device A, which deleted, joins the keep resolution.",
         "join", [ed_delete, keep],
         check=lambda o: o["conflict"] is None and len(values_of(o)) == 3)

    # ---- integrity
    twin_a = raw_write(base, A, {"enrolment": i(500)})
    twin_b = raw_write(base, A, {"enrolment": i(501)})
    case("integrity", "one dot with two values is an integrity error", "A restored copy of replica A minted (A,2) again with another value; join refuses to pick.",
         "join", [twin_a, twin_b],
         check=lambda o: o == {"error": "integrity"})
    del_twin = raw_delete(base, A)
    case("integrity", "one dot both writing and deleting is an integrity error", "The same dot (A,2) deletes on one copy and writes on the other.",
         "join", [twin_a, del_twin],
         check=lambda o: o == {"error": "integrity"})
    both = raw_write(base, A, {"enrolment": i(500), "narrative": s("两项")})
    left = raw_write(both, B, {"narrative": s("乙改")})
    right = raw_write(both, C, {"enrolment": i(510)})
    only_enrolment = {"context": left["context"], "fields": {"enrolment": left["fields"]["enrolment"]}, "deleted": []}
    only_narrative = {"context": right["context"], "fields": {"narrative": right["fields"]["narrative"]}, "deleted": []}
    case("integrity", "one dot in different fields on the two sides", "(A,2) wrote two fields; each side has since replaced a different one (shown without the replacing writes). Not an integrity error: joined by the ordinary rule.",
         "join", [only_enrolment, only_narrative],
         check=lambda o: "error" not in o)
    case("integrity", "the same dot with the same value is not an error", "Two copies that minted identical writes agree: nothing to detect here.",
         "join", [twin_a, raw_write(base, A, {"enrolment": i(500)})],
         check=lambda o: o["conflict"] is None)


def main():
    check = "--check" in sys.argv
    build()
    root = Path(__file__).resolve().parent.parent / "Protocol" / "vectors"
    root.mkdir(parents=True, exist_ok=True)
    stale = []
    total = 0
    for name, cases in FILES.items():
        total += len(cases)
        document = {
            "description": f"SchoolSync conformance vectors: {name}. See PROTOCOL.md §3 and §9.",
            "replicas": {v: k for k, v in NAMES.items()},
            "cases": cases,
        }
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False) + "\n"
        path = root / f"{name}.json"
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            path.write_text(text, encoding="utf-8")
    if check and stale:
        print("out of date (run python3 Scripts/make-vectors.py):", *stale, sep="\n  ")
        sys.exit(1)
    print(f"{total} conformance cases in {len(FILES)} files{' (up to date)' if check else ''}")


if __name__ == "__main__":
    main()
