import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The workbench's one session, bound to this process: secrets drawn when it starts, so a cookie
/// from an earlier run, another user's process or another page never opens it.
///
/// - The printed link carries ``launchKey``; opening it sets the session cookie (HttpOnly,
///   SameSite=Strict) named for this process, so two workbenches on one computer do not share one.
/// - Every form carries ``csrf``; a post without it, or one a browser marks as coming from another
///   site (`Sec-Fetch-Site`, `Origin`), is refused — loopback is no protection against another
///   page in the same browser posting to it.
/// - Only loopback host names are served (`127.0.0.1`, `localhost`, `[::1]`), so a web page
///   cannot reach the workbench through a name it controls (DNS rebinding).
public struct WorkbenchSession: Sendable {
    /// The secret in the printed link, 32 random bytes in hex.
    public let launchKey: String
    /// The session cookie's value.
    let sessionID: String
    /// The forms' hidden token.
    let csrf: String
    /// The cookie's name: `schoolsync_ui_` and a tag of this process.
    let cookieName: String
    /// The key of ``signature(of:)``.
    let noticeKey: Data

    /// Fresh secrets from the system's random source.
    public init() {
        launchKey = Self.random()
        sessionID = Self.random()
        csrf = Self.random()
        cookieName = "schoolsync_ui_" + String(Self.random().prefix(8))
        noticeKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    /// The signature a redirect's notice carries (HMAC-SHA256 under this process's key, 32 hex
    /// digits): a page shows a notice only with it, so nothing but this workbench speaks in its notices.
    func signature(of notice: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(notice.utf8), using: SymmetricKey(data: noticeKey)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    static func random() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { bytes in bytes.map { String(format: "%02x", $0) }.joined() }
    }

    /// Compares secrets in time independent of where they differ.
    static func same(_ a: String?, _ b: String) -> Bool {
        guard let a else { return false }
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether the request names a loopback host (the port is not checked: it is ours by
    /// construction), and nothing but a host and a port: `[::1].evil.example` is not `[::1]`.
    static func isLoopbackHost(_ request: Request) -> Bool {
        guard let authority = request.head.authority else { return false }
        let host: Substring
        let port: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return false }
            host = authority[authority.index(after: authority.startIndex)..<close]
            port = authority[authority.index(after: close)...]
        } else {
            host = authority.prefix { $0 != ":" }
            port = authority[host.endIndex...]
        }
        guard port.isEmpty || (port.hasPrefix(":") && port.dropFirst().allSatisfy { ("0"..."9").contains($0) }) else { return false }
        return host == "127.0.0.1" || host.lowercased() == "localhost" || host == "::1"
    }

    /// Whether the request carries this session's cookie.
    func isSignedIn(_ request: Request) -> Bool {
        Self.same(request.cookies[cookieName]?.value, sessionID)
    }

    /// Whether a browser says the request came from another site: `Sec-Fetch-Site` other than
    /// `same-origin`/`none`, or an `Origin` that is not this server's (an opaque `null` included).
    static func isCrossSite(_ request: Request) -> Bool {
        func header(_ name: String) -> String? { request.headers.first { $0.name.canonicalName == name }?.value }
        if let site = header("sec-fetch-site"), site != "same-origin", site != "none" { return true }
        if let origin = header("origin") {
            guard let authority = request.head.authority else { return true }
            return origin != "http://\(authority)"
        }
        return false
    }
}
