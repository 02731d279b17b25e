// The hand-written JSON forms of the types on the sync hot path. Each mirrors the type's `Codable`
// conformance key for key and check for check; keys are written in sorted (canonical) order.

extension Value: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        guard case .object(let members) = value, members.count == 1, let (key, inner) = members.first else {
            throw .invalid("a value is an object with exactly one of the keys string, int, double, bool, null")
        }
        let decoded: Value
        switch key {
        case "string": decoded = .string(try JSONObjectReader.at(key) { () throws(WireJSONError) in try inner.string() })
        case "int": decoded = .int(try JSONObjectReader.at(key) { () throws(WireJSONError) in try inner.int64() })
        case "double":
            let number = try JSONObjectReader.at(key) { () throws(WireJSONError) in try inner.double() }
            do {
                decoded = try .number(number)
            } catch {
                throw Self.invalid(error.message, at: key)
            }
        case "bool": decoded = .bool(try JSONObjectReader.at(key) { () throws(WireJSONError) in try inner.bool() })
        case "null":
            guard try JSONObjectReader.at(key, { () throws(WireJSONError) in try inner.bool() }) else {
                throw Self.invalid("null is spelled {\"null\":true}", at: key)
            }
            decoded = .null
        default:
            throw .invalid("a value is an object with exactly one of the keys string, int, double, bool, null")
        }
        do {
            try decoded.validate()
        } catch {
            throw Self.invalid(error.message, at: key)
        }
        self = decoded
    }

    private static func invalid(_ message: String, at key: String) -> WireJSONError {
        var error = WireJSONError.invalid(message)
        error.reversedPath.append(.key(key))
        return error
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        switch self {
        case .string(let text):
            writer.member("string", text)
        case .int(let number):
            writer.key("int")
            writer.int(number)
        case .double(let number):
            writer.key("double")
            writer.double(number)
        case .bool(let flag):
            writer.key("bool")
            writer.bool(flag)
        case .null:
            writer.key("null")
            writer.bool(true)
        }
        writer.endObject()
    }
}

extension Dot {
    /// Reads `replica` and `counter` from an object that may hold other keys (a register entry).
    init(wireJSON object: JSONObjectReader) throws(WireJSONError) {
        replica = try object.text("replica", as: ReplicaID.self)
        counter = try object.required("counter") { value throws(WireJSONError) in
            let counter = try value.uint64()
            guard counter > 0, counter <= VersionVector.maxCounter else { throw .invalid("a dot's counter must be between 1 and 2^53-1") }
            return counter
        }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writeMembers(to: &writer)
        writer.endObject()
    }

    /// `counter` then `replica`: sorted, and still sorted when a register entry adds `value`.
    func writeMembers(to writer: inout JSONWriter) {
        writer.key("counter")
        writer.uint(counter)
        writer.member("replica", replica.description)
    }
}

extension FieldRegister: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let entries = try value.elements { element throws(WireJSONError) in
            let object = try JSONObjectReader(element, allowedKeys: ["replica", "counter", "value"])
            return Entry(
                dot: try Dot(wireJSON: object),
                value: try object.required("value") { value throws(WireJSONError) in try Value(wireJSON: value) }
            )
        }
        do {
            try self.init(entries: entries)
        } catch {
            throw .invalid(error.message)
        }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginArray()
        for entry in entries {
            writer.beginObject()
            entry.dot.writeMembers(to: &writer)
            writer.key("value")
            entry.value.write(to: &writer)
            writer.endObject()
        }
        writer.endArray()
    }
}

extension VersionVector: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value)
        var counters: [ReplicaID: UInt64] = [:]
        counters.reserveCapacity(object.members.count)
        for (key, member) in object.members {
            let replica: ReplicaID
            do {
                replica = try ReplicaID(parsing: key)
            } catch {
                throw .invalid("context key: \(error.message)")
            }
            let counter = try JSONObjectReader.at(key) { () throws(WireJSONError) in try member.uint64() }
            guard counter > 0, counter <= Self.maxCounter else {
                throw .invalid("context counter for \(key) must be between 1 and 2^53-1")
            }
            counters[replica] = counter
        }
        self.init(counters)
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        // Replica ids are fixed-width lowercase hex, so sorting the ids sorts their text.
        for (replica, counter) in counters.sorted(by: { $0.key < $1.key }) {
            writer.key(replica.description)
            writer.uint(counter)
        }
        writer.endObject()
    }
}

extension RecordState: WireJSONCodable {
    static let wireKeys = ["context", "fields", "deleted"]

    init(wireJSON value: JSONValue) throws(WireJSONError) {
        try self.init(wireJSON: try JSONObjectReader(value, allowedKeys: Self.wireKeys))
    }

    /// Reads the three state keys from an object that may hold others (a ``SyncRecord``).
    init(wireJSON object: JSONObjectReader) throws(WireJSONError) {
        let context = try object.required("context") { value throws(WireJSONError) in try VersionVector(wireJSON: value) }
        let fields = try object.required("fields") { value throws(WireJSONError) in
            let fields = try JSONObjectReader(value)
            var registers: [String: FieldRegister] = [:]
            registers.reserveCapacity(fields.members.count)
            for (name, member) in fields.members {
                registers[name] = try JSONObjectReader.at(name) { () throws(WireJSONError) in try FieldRegister(wireJSON: member) }
            }
            return registers
        }
        let deleted = try object.required("deleted") { value throws(WireJSONError) in
            try value.elements { element throws(WireJSONError) in
                try Dot(wireJSON: try JSONObjectReader(element, allowedKeys: ["replica", "counter"]))
            }
        }
        do {
            try self.init(context: context, fields: fields, deleted: deleted)
        } catch {
            throw .invalid(error.message)
        }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writeMembers(to: &writer)
        writer.endObject()
    }

    /// `context`, `deleted`, `fields`: a record adds its own keys around them in sorted order.
    func writeContextAndDeleted(to writer: inout JSONWriter) {
        writer.key("context")
        context.write(to: &writer)
        writer.key("deleted")
        writer.beginArray()
        for dot in deleted { dot.write(to: &writer) }
        writer.endArray()
    }

    func writeFields(to writer: inout JSONWriter) {
        writer.key("fields")
        writer.beginObject()
        for name in JSONWriter.sortedKeys(fields) {
            guard let register = fields[name] else { continue }
            writer.key(name)
            register.write(to: &writer)
        }
        writer.endObject()
    }

    private func writeMembers(to writer: inout JSONWriter) {
        writeContextAndDeleted(to: &writer)
        writeFields(to: &writer)
    }
}

extension SyncRecord: WireJSONCodable {
    static let wireKeys = ["collection", "id", "scope", "context", "fields", "deleted"]

    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value, allowedKeys: Self.wireKeys)
        key = RecordKey(
            collection: try object.string("collection"),
            id: try object.string("id")
        )
        do {
            try key.validate()
        } catch {
            var wireError = WireJSONError.invalid(error.message)
            wireError.reversedPath.append(.key("id"))
            throw wireError
        }
        scope = try object.text("scope", as: Scope.self)
        state = try RecordState(wireJSON: object)
    }

    func write(to writer: inout JSONWriter) {
        writeReturningStateMembers(to: &writer)
    }

    /// Writes the record and returns where its state's members are in `writer.bytes`, from
    /// `"context"` through the end of `fields`: in braces, they are the state's own canonical JSON,
    /// since a record writes its state's keys between `collection` and `id` exactly as the state does.
    @discardableResult
    func writeReturningStateMembers(to writer: inout JSONWriter) -> Range<Int> {
        writer.beginObject()
        writer.member("collection", key.collection)
        // After the comma that separates `context` from `collection`.
        let start = writer.bytes.count + 1
        state.writeContextAndDeleted(to: &writer)
        state.writeFields(to: &writer)
        let end = writer.bytes.count
        writer.member("id", key.id)
        writer.member("scope", scope.rawValue)
        writer.endObject()
        return start..<end
    }
}

extension PushRequest: WireJSONCodable {
    static let wireKeys = ["batch", "replica", "receipt", "client", "records"]

    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value, allowedKeys: Self.wireKeys)
        batch = try object.text("batch", as: BatchID.self)
        replica = try object.text("replica", as: ReplicaID.self)
        receipt = try object.optional("receipt") { value throws(WireJSONError) in try value.text(PushReceipt.self) }
        client = try object.optional("client") { value throws(WireJSONError) in try value.string() }
        records = try object.required("records") { value throws(WireJSONError) in
            try value.elements { element throws(WireJSONError) in try SyncRecord(wireJSON: element) }
        }
    }

    func write(to writer: inout JSONWriter) {
        var states: [Range<Int>] = []
        write(to: &writer, stateMembers: &states)
    }

    /// Writes the request, appending to `stateMembers` where each record's state members are
    /// (``SyncRecord/writeReturningStateMembers(to:)``).
    func write(to writer: inout JSONWriter, stateMembers: inout [Range<Int>]) {
        writer.beginObject()
        writer.member("batch", batch.rawValue)
        if let client {
            writer.member("client", client)
        }
        if let receipt {
            writer.member("receipt", receipt.description)
        }
        writer.key("records")
        writer.beginArray()
        for record in records { stateMembers.append(record.writeReturningStateMembers(to: &writer)) }
        writer.endArray()
        writer.member("replica", replica.description)
        writer.endObject()
    }
}

// Answers from the server use synthesized `Codable`, which ignores keys it does not know (a newer
// server may add some); so do these readers.

extension RejectReason: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value)
        code = RejectCode(rawValue: try object.string("code"))
        message = try object.string("message")
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("code", code.rawValue)
        writer.member("message", message)
        writer.endObject()
    }
}

extension PushResult: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value)
        collection = try object.string("collection")
        id = try object.string("id")
        status = try object.required("status") { value throws(WireJSONError) in
            let text = try value.string()
            guard let status = PushStatus(rawValue: text) else {
                throw .invalid("Cannot initialize PushStatus from invalid String value \(text)")
            }
            return status
        }
        conflictFields = try object.optional("conflictFields") { value throws(WireJSONError) in
            try value.elements { element throws(WireJSONError) in try element.string() }
        }
        deleteConflict = try object.optional("deleteConflict") { value throws(WireJSONError) in try value.bool() }
        reason = try object.optional("reason") { value throws(WireJSONError) in try RejectReason(wireJSON: value) }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("collection", collection)
        if let conflictFields {
            writer.key("conflictFields")
            writer.beginArray()
            for field in conflictFields { writer.string(field) }
            writer.endArray()
        }
        if let deleteConflict {
            writer.key("deleteConflict")
            writer.bool(deleteConflict)
        }
        writer.member("id", id)
        if let reason {
            writer.key("reason")
            reason.write(to: &writer)
        }
        writer.member("status", status.rawValue)
        writer.endObject()
    }
}

extension PushResponse: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value)
        batch = try object.text("batch", as: BatchID.self)
        receipt = try object.text("receipt", as: PushReceipt.self)
        results = try object.required("results") { value throws(WireJSONError) in
            try value.elements { element throws(WireJSONError) in try PushResult(wireJSON: element) }
        }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("batch", batch.rawValue)
        writer.member("receipt", receipt.description)
        writer.key("results")
        writer.beginArray()
        for result in results { result.write(to: &writer) }
        writer.endArray()
        writer.endObject()
    }
}

extension PullResponse: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value)
        epoch = try object.text("epoch", as: Epoch.self)
        records = try object.required("records") { value throws(WireJSONError) in
            try value.elements { element throws(WireJSONError) in try SyncRecord(wireJSON: element) }
        }
        next = try object.text("next", as: Cursor.self)
        more = try object.required("more") { value throws(WireJSONError) in try value.bool() }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("epoch", epoch.description)
        writer.key("more")
        writer.bool(more)
        writer.member("next", next.description)
        writer.key("records")
        writer.beginArray()
        for record in records { record.write(to: &writer) }
        writer.endArray()
        writer.endObject()
    }
}

extension AuditEntry.View: WireJSONCodable {
    init(wireJSON value: JSONValue) throws(WireJSONError) {
        let object = try JSONObjectReader(value)
        fields = try object.required("fields") { value throws(WireJSONError) in
            let fields = try JSONObjectReader(value)
            var result: [String: [Value]] = [:]
            for (name, member) in fields.members {
                result[name] = try JSONObjectReader.at(name) { () throws(WireJSONError) in
                    try member.elements { element throws(WireJSONError) in try Value(wireJSON: element) }
                }
            }
            return result
        }
        deleted = try object.required("deleted") { value throws(WireJSONError) in try value.bool() }
    }

    func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("deleted")
        writer.bool(deleted)
        writer.key("fields")
        writer.beginObject()
        for name in JSONWriter.sortedKeys(fields) {
            writer.key(name)
            writer.beginArray()
            for value in fields[name] ?? [] { value.write(to: &writer) }
            writer.endArray()
        }
        writer.endObject()
        writer.endObject()
    }
}
