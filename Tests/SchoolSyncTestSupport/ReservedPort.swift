import Foundation

/// A loopback port that is certainly refused while this value lives: a socket is bound to it but
/// never listens, so a connection gets a reset and no other test (nor the kernel's next port-0 bind)
/// can take it. A port found by binding and releasing is only probably free.
public final class ReservedPort: Sendable {
    /// The reserved port on 127.0.0.1.
    public let port: Int
    private let socketFD: Int32

    /// Binds a fresh loopback port without listening on it.
    /// - Throws: ``PostgresClusterError`` when no socket can be bound.
    public init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw PostgresClusterError("cannot open a socket (errno \(errno))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) }
        }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        guard bound == 0, named == 0 else {
            close(socketFD)
            throw PostgresClusterError("cannot bind a loopback port (errno \(errno))")
        }
        self.socketFD = socketFD
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(socketFD) }
}
