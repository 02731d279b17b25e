import PostgresNIO

/// The statements every push and pull runs, prepared once per connection (postgres-nio parses a
/// `PostgresPreparedStatement` on a connection the first time it runs there): PostgreSQL then
/// skips parsing and planning them, which the bench's profile put at a third of its CPU.
///
/// Each is the same SQL its caller documents; values are always bound, never spliced in.
enum Prepared {
    /// The transaction-level advisory locks of replicas, then scopes, in one sorted order
    /// (``PostgresStore/lock(replicas:scopes:_:_:)``).
    struct Locks: PostgresPreparedStatement {
        static let sql = """
            SELECT pg_advisory_xact_lock(ns, h) FROM (
                SELECT DISTINCT 1 AS ns, hashtext(r) AS h FROM unnest($1::text[]) AS r
                UNION
                SELECT DISTINCT 2, hashtext(s) FROM unnest($2::text[]) AS s
                ORDER BY 1, 2
            ) AS ordered
            """
        typealias Row = ()
        var replicas: [String]
        var scopes: [String]

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(replicas)
            bindings.append(scopes)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    /// Replicas' progress and owners: (replica, sequence, last batch, owner).
    struct Replicas: PostgresPreparedStatement {
        static let sql = """
            SELECT k.replica, r.sequence, r.last_batch, o.principal_id
            FROM unnest($1::text[]) AS k(replica)
            LEFT JOIN replicas r ON r.replica = k.replica LEFT JOIN replica_owners o ON o.replica = k.replica
            """
        typealias Row = (String, Int64?, String?, Int64?)
        var replicas: [String]

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(replicas)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// Records by key: (collection, id, scope, state); keys the store does not hold have no row.
    struct Records: PostgresPreparedStatement {
        static let sql = """
            SELECT r.collection, r.id, r.scope, r.state FROM records r
            JOIN unnest($1::text[], $2::text[]) AS k(collection, id) ON r.collection = k.collection AND r.id = k.id
            """
        typealias Row = (String, String, String, String)
        var collections: [String]
        var ids: [String]

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 2)
            bindings.append(collections)
            bindings.append(ids)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// The log's head and the database's epoch.
    struct Head: PostgresPreparedStatement {
        static let sql = "SELECT seq, (SELECT value FROM store_meta WHERE key = 'epoch') FROM log_head"
        typealias Row = (Int64, String?)

        func makeBindings() -> PostgresBindings { PostgresBindings() }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }

    /// A pull's page: records changed after a sequence number up to the head, without the pulling
    /// replica's echoes, in every scope or the ones given; (collection, id, scope, state, seq).
    struct Page: PostgresPreparedStatement {
        static let sql = """
            SELECT collection, id, scope, state, seq FROM records
            WHERE seq > $1 AND seq <= $2
              AND (pushed_by IS NULL OR pushed_by <> $3)
              AND ($4 OR scope = ANY($5::text[]))
            ORDER BY seq LIMIT $6
            """
        typealias Row = (String, String, String, String, Int64)
        var after: Int64
        var head: Int64
        var echo: String
        var everyScope: Bool
        var scopes: [String]
        var limit: Int64

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 6)
            bindings.append(after)
            bindings.append(head)
            bindings.append(echo)
            bindings.append(everyScope)
            bindings.append(scopes)
            bindings.append(limit)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
    }
}
