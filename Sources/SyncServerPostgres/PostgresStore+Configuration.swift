import Foundation
import NIOSSL
import PostgresNIO

extension PostgresStore {
    /// Where the database is and how to reach it, from a `postgres://` URL (libpq's form).
    ///
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`, or `postgresql://`.
    /// `sslmode` is libpq's: `disable`; `prefer` (the default: TLS when the server offers it);
    /// `require` (TLS, the certificate unchecked, as libpq does); `verify-ca` and `verify-full` (TLS
    /// with the certificate checked against the system's trust roots; `verify-full` also checks the
    /// host name). A password may also come from `PGPASSWORD`.
    public struct Configuration: Sendable {
        /// postgres-nio's configuration of the pool's connections.
        public var clientConfiguration: PostgresClient.Configuration
        /// The URL without its password, for logs and error messages.
        public var redactedURL: String
        /// One connection as the pool makes them, tried once when the store opens: an address that
        /// cannot be reached fails at once with its reason, where the pool would retry for a minute.
        var probe: (configuration: PostgresConnection.Configuration, tls: TLSConfiguration?, required: Bool)

        /// Called inside a writing transaction just after it took its sequence numbers (so while it
        /// holds `log_head`'s lock) and before it writes and commits: the test that forces commits out
        /// of order pauses here. Unset outside tests.
        package var afterSequencesTaken: (@Sendable (ClosedRange<Int64>) async -> Void)?

        /// The most bytes of JSON rows one statement of a push carries (16 MiB): PostgreSQL takes up
        /// to 1 GB, but a push of 500 edits to records near the 1 MiB state limit carries half a
        /// gigabyte of states and twice that of audit views. Tests set it small to cross it cheaply.
        package var maxStatementJSONBytes = 16 << 20

        /// Opens a database whose restore did not finish (``PostgresStore/beginRestore()``), which
        /// anything but the restore itself must not serve. Only `schoolsync-server restore` sets it.
        public var resumingRestore = false

        /// The most pushes stored in one transaction with one commit (group commit, ``PushGroups``),
        /// default 32, in up to two groups at once. 1 stores every push alone, as many at once as
        /// the pool holds.
        public var pushGroupSize = 32
        /// Groups of pushes stored at once by this server (``PushGroups/maxGroups``); tests set 1 to
        /// know which pushes share a group.
        package var pushGroupsAtOnce = 2

        /// The most connections the pool opens (postgres-nio's `maximumConnections`).
        public var poolSize: Int {
            get { clientConfiguration.options.maximumConnections }
            set { clientConfiguration.options.maximumConnections = max(2, newValue) }
        }

        /// Parses `url`.
        ///
        /// - Parameters:
        ///   - poolSize: the most connections the pool opens, at least 2 (default 10): one of them listens
        ///     for other servers' changes for as long as the server runs.
        ///   - lockTimeout: how long a statement waits for a lock another transaction holds (a
        ///     record another server is joining) before the request is answered 503 `unavailable`
        ///     with `Retry-After`, as SQLite's busy timeout is (PROTOCOL.md §8).
        /// - Throws: ``PostgresStoreError`` naming what in the URL is wrong.
        public init(url: String, poolSize: Int = 10, lockTimeout: Duration = .seconds(10)) throws {
            guard let components = URLComponents(string: url), let scheme = components.scheme,
                scheme == "postgres" || scheme == "postgresql"
            else {
                throw PostgresStoreError("the database URL must look like postgres://user@host:5432/database (got '\(url.prefix(80))')")
            }
            guard let host = components.host, !host.isEmpty else {
                throw PostgresStoreError("the database URL names no host: postgres://user@HOST:5432/database")
            }
            guard let user = components.user, !user.isEmpty else {
                throw PostgresStoreError("the database URL names no user: postgres://USER@\(host)/database")
            }
            let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            guard !database.isEmpty else {
                throw PostgresStoreError("the database URL names no database: postgres://\(user)@\(host)/DATABASE")
            }
            let port = components.port ?? 5432
            guard (1...65535).contains(port) else { throw PostgresStoreError("the database URL's port \(port) is not 1–65535") }
            let password = components.password ?? ProcessInfo.processInfo.environment["PGPASSWORD"]
            let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
            let tls: PostgresClient.Configuration.TLS
            var probeTLS: TLSConfiguration?
            switch mode {
            case "disable":
                tls = .disable
            case "allow", "prefer":
                var unchecked = TLSConfiguration.makeClientConfiguration()
                unchecked.certificateVerification = .none
                tls = .prefer(unchecked)
                probeTLS = unchecked
            case "require":
                var unchecked = TLSConfiguration.makeClientConfiguration()
                unchecked.certificateVerification = .none
                tls = .require(unchecked)
                probeTLS = unchecked
            case "verify-ca":
                var checked = TLSConfiguration.makeClientConfiguration()
                checked.certificateVerification = .noHostnameVerification
                tls = .require(checked)
                probeTLS = checked
            case "verify-full":
                tls = .require(TLSConfiguration.makeClientConfiguration())
                probeTLS = TLSConfiguration.makeClientConfiguration()
            default:
                throw PostgresStoreError("sslmode '\(mode.prefix(40))' is not one of disable, allow, prefer, require, verify-ca, verify-full")
            }
            // The probe speaks TLS exactly as the pool will: required where the URL requires it, so
            // no one between here and the database can talk it into sending the password in clear.
            probe = (
                PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable),
                probeTLS, ["require", "verify-ca", "verify-full"].contains(mode)
            )
            var configuration = PostgresClient.Configuration(
                host: host,
                port: port,
                username: user,
                password: password,
                database: database,
                tls: tls
            )
            configuration.options.maximumConnections = max(2, poolSize)
            // Sent with each connection's start-up, so every statement of the store obeys them. A
            // server that stops mid-transaction (paused, cut off) must not hold its locks — log_head's
            // above all, which every writer of the county waits for — until TCP gives up hours later:
            // PostgreSQL ends a transaction left idle and probes a silent peer.
            let milliseconds = lockTimeout.components.seconds * 1000 + lockTimeout.components.attoseconds / 1_000_000_000_000_000
            configuration.options.additionalStartupParameters = [
                ("lock_timeout", "\(max(1, milliseconds))ms"),
                ("idle_in_transaction_session_timeout", "30s"),
                ("statement_timeout", "120s"),
                ("tcp_keepalives_idle", "30"),
                ("tcp_keepalives_interval", "10"),
                ("tcp_keepalives_count", "3"),
                ("application_name", "schoolsync-server"),
            ]
            clientConfiguration = configuration
            var redacted = components
            redacted.password = components.password == nil ? nil : "***"
            redactedURL = redacted.string ?? "postgres://\(host)"
        }
    }
}

/// The PostgreSQL store could not be opened: a URL that does not parse, a database that cannot be
/// reached or migrated. The message says what to fix.
public struct PostgresStoreError: Error, CustomStringConvertible, Sendable {
    /// What went wrong and what to do.
    public var description: String

    /// Makes an error with this message.
    public init(_ description: String) { self.description = description }

    init(describing error: any Error, while doing: String) {
        if let error = error as? PostgresStoreError {
            self = error
        } else if let error = error as? PSQLError {
            self.init("\(doing): \(PostgresStore.explain(error))")
        } else {
            self.init("\(doing): \(error)")
        }
    }
}

extension PostgresStore {
    /// PostgreSQL's own words for a driver error (its SQLSTATE and message), or the kind of
    /// connection failure; postgres-nio's description leaves the server's message out on purpose.
    /// An error in words a person can act on: for postgres-nio's errors, PostgreSQL's SQLSTATE and
    /// message (postgres-nio's own description leaves the server's message out on purpose).
    public static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        return explain(error)
    }

    static func explain(_ error: PSQLError) -> String {
        if let info = error.serverInfo {
            return "\(info[.sqlState] ?? "?") \(info[.message] ?? "")"
        }
        switch error.code {
        case .connectionError: return "cannot connect (\(error.underlying.map { "\($0)" } ?? "no answer"))"
        case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection"
        case .poolClosed: return "the store is closed"
        default: return "\(error.code)"
        }
    }
}
