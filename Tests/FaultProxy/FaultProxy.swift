// FaultProxy.swift
//
// A loopback, fault-injecting TCP proxy built on SwiftNIO, for tests and benchmarks.
//
// The proxy listens on 127.0.0.1 on an ephemeral port. Every accepted connection gets a
// `ConnectionFault` from a plan (a function of the 0-based index of the connection), is
// connected to `127.0.0.1:<upstreamPort>`, and relays bytes both ways while applying the fault:
// cut after N bytes in either direction, black hole, stall, bandwidth limit.
//
// Threading model: both channels of one proxied connection live on the same event loop, and all
// per-connection state (`Relay`) is confined to that loop. State shared across connections
// (plan, counters, open channels) sits behind a `Mutex`.

import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Public API

/// The fault applied to one proxied connection. Several fields may be combined; `blackHole`
/// overrides all the others.
public struct ConnectionFault: Sendable, Hashable {
    /// Number of client→server bytes (a count of bytes, not a rate) to forward before the
    /// connection is cut: the server receives exactly this many bytes and then sees a close, the
    /// client's socket is reset. The cut is triggered by the arrival of client data, so `0` means
    /// "cut as soon as the client sends its first byte; the server receives nothing".
    /// `nil` means never cut in this direction.
    public var cutUpstreamAfter: Int?

    /// Number of server→client bytes to forward before the connection is cut: the client
    /// receives exactly this many bytes and then EOF, the server's socket is reset. `0` means the
    /// server's whole answer is lost (the server did the work, the client never learns it).
    /// `nil` means never cut in this direction.
    public var cutDownstreamAfter: Int?

    /// Accept the client, read and discard everything it sends, never connect upstream and never
    /// answer, until the client closes or the proxy shuts down. The client sees a timeout.
    public var blackHole: Bool

    /// Time to hold a new connection before connecting upstream and relaying anything. Bytes the
    /// client sends meanwhile are buffered (up to 64 KiB, then reading pauses) and relayed
    /// afterwards. `nil` means no stall.
    public var stall: Duration?

    /// Bandwidth limit in bytes per second, applied to each direction independently (64 kbit/s is
    /// 8,000 bytes per second). Writes are paced on the event loop in slices of about 1/20 s.
    /// `nil` means unlimited.
    public var bytesPerSecond: Int?

    /// - Parameters:
    ///   - cutUpstreamAfter: client→server bytes forwarded before the cut, or `nil`.
    ///   - cutDownstreamAfter: server→client bytes forwarded before the cut, or `nil`.
    ///   - blackHole: swallow the connection; see `blackHole`.
    ///   - stall: delay before relaying starts, or `nil`.
    ///   - bytesPerSecond: per-direction rate limit in bytes per second, or `nil`.
    public init(
        cutUpstreamAfter: Int? = nil,
        cutDownstreamAfter: Int? = nil,
        blackHole: Bool = false,
        stall: Duration? = nil,
        bytesPerSecond: Int? = nil
    ) {
        precondition(cutUpstreamAfter.map { $0 >= 0 } ?? true, "cutUpstreamAfter must be >= 0")
        precondition(cutDownstreamAfter.map { $0 >= 0 } ?? true, "cutDownstreamAfter must be >= 0")
        precondition(bytesPerSecond.map { $0 > 0 } ?? true, "bytesPerSecond must be > 0")
        self.cutUpstreamAfter = cutUpstreamAfter
        self.cutDownstreamAfter = cutDownstreamAfter
        self.blackHole = blackHole
        self.stall = stall
        self.bytesPerSecond = bytesPerSecond
    }

    /// Plain relay, no fault.
    public static let none = ConnectionFault()
}

/// A loopback TCP proxy that injects faults per connection.
///
/// ```swift
/// let proxy = try await FaultProxy.start(upstreamPort: serverPort) { n in
///     n == 0 ? ConnectionFault(cutDownstreamAfter: 0) : .none
/// }
/// // point the client at 127.0.0.1:\(proxy.port)
/// try await proxy.shutdown()
/// ```
public final class FaultProxy: Sendable {
    /// Counters since `start`. Byte counts are bytes the proxy actually wrote to the other side
    /// (bytes dropped by a cut or a black hole are not counted).
    public struct Statistics: Sendable, Hashable {
        /// Connections accepted from clients (including black-holed ones).
        public var connectionsAccepted = 0
        /// Bytes forwarded client→server.
        public var bytesClientToServer = 0
        /// Bytes forwarded server→client.
        public var bytesServerToClient = 0
        /// Connections cut by `cutUpstreamAfter` / `cutDownstreamAfter`.
        public var connectionsCut = 0
        /// Connections black-holed.
        public var connectionsBlackHoled = 0
        /// Connections closed because connecting to the upstream port failed.
        public var upstreamConnectFailures = 0

        public init() {}
    }

    /// The port (on 127.0.0.1) the proxy listens on.
    public let port: Int
    /// The upstream port (on 127.0.0.1) connections are relayed to.
    public let upstreamPort: Int

    private let core: ProxyCore
    private let serverChannel: any Channel

    private init(port: Int, upstreamPort: Int, core: ProxyCore, serverChannel: any Channel) {
        self.port = port
        self.upstreamPort = upstreamPort
        self.core = core
        self.serverChannel = serverChannel
    }

    /// Starts listening on 127.0.0.1 on an ephemeral port (see `port`).
    ///
    /// - Parameters:
    ///   - upstreamPort: port on 127.0.0.1 to relay accepted connections to.
    ///   - plan: `plan(n)` picks the fault of the n-th accepted connection (0-based). Called once
    ///     per connection, on an event loop thread; keep it cheap and non-blocking.
    public static func start(
        upstreamPort: Int,
        plan: @escaping @Sendable (Int) -> ConnectionFault = { _ in .none }
    ) async throws -> FaultProxy {
        let core = ProxyCore(upstreamPort: upstreamPort, plan: plan)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let fault = try core.admit(channel)
                    let relay = Relay(core: core, client: channel, fault: fault)
                    try channel.pipeline.syncOperations.addHandler(RelaySideHandler(relay: relay, side: .client))
                }
            }
        let serverChannel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        guard let port = serverChannel.localAddress?.port else {
            try? await serverChannel.close()
            throw FaultProxyError.noLocalPort
        }
        return FaultProxy(port: port, upstreamPort: upstreamPort, core: core, serverChannel: serverChannel)
    }

    /// Replaces the plan for connections accepted from now on. Connection indices keep counting
    /// from where they are (they are not reset to 0).
    public func setPlan(_ plan: @escaping @Sendable (Int) -> ConnectionFault) {
        core.state.withLock { $0.plan = plan }
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        core.state.withLock { $0.stats }
    }

    /// Returns once the proxy has accepted (and planned) at least `count` connections since
    /// `start`: an event to wait on instead of a sleep, e.g. before opening a connection whose
    /// plan index must come after another's.
    public func waitForAcceptedConnections(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = core.state.withLock { state in
                if state.stats.connectionsAccepted >= count || state.isShutDown { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Closes the listener and every open connection (client and upstream sockets), and waits
    /// until they are closed. Calling it again does nothing.
    public func shutdown() async throws {
        guard let channels = core.beginShutdown() else { return }
        do {
            try await serverChannel.close()
        } catch ChannelError.alreadyClosed {
            // fine
        }
        for channel in channels {
            channel.close(promise: nil)
        }
        for channel in channels {
            try? await channel.closeFuture.get()
        }
    }
}

/// A seeded, reproducible fault plan.
///
/// Each connection is cut with probability `cutProbability` (in a random direction, after a
/// random byte count in `0..<maxCutBytes`), else black-holed with probability
/// `blackHoleProbability`, else relayed; every connection is limited to `bytesPerSecond` when it
/// is set. Decisions depend only on the seed and the connection index, so a run is reproducible
/// whatever order connections arrive in.
///
/// ```swift
/// let plan = SeededFaultPlan(seed: 42, cutProbability: 0.1)
/// let proxy = try await FaultProxy.start(upstreamPort: port, plan: plan.fault(forConnection:))
/// ```
public struct SeededFaultPlan: Sendable, Hashable {
    public let seed: UInt64
    /// Probability in 0...1 that a connection is cut.
    public let cutProbability: Double
    /// Probability in 0...1 that a connection is black-holed (cut takes precedence).
    public let blackHoleProbability: Double
    /// Cut byte counts are drawn uniformly from `0..<maxCutBytes` (bytes).
    public let maxCutBytes: Int
    /// Per-direction rate limit in bytes per second applied to every connection, or `nil`.
    public let bytesPerSecond: Int?

    public init(
        seed: UInt64,
        cutProbability: Double,
        blackHoleProbability: Double = 0,
        maxCutBytes: Int = 4096,
        bytesPerSecond: Int? = nil
    ) {
        precondition((0...1).contains(cutProbability), "cutProbability must be in 0...1")
        precondition((0...1).contains(blackHoleProbability), "blackHoleProbability must be in 0...1")
        precondition(maxCutBytes >= 1, "maxCutBytes must be >= 1")
        precondition(bytesPerSecond.map { $0 > 0 } ?? true, "bytesPerSecond must be > 0")
        self.seed = seed
        self.cutProbability = cutProbability
        self.blackHoleProbability = blackHoleProbability
        self.maxCutBytes = maxCutBytes
        self.bytesPerSecond = bytesPerSecond
    }

    /// The fault of the n-th connection (0-based). A pure function of the seed, the parameters
    /// and `n`.
    public func fault(forConnection n: Int) -> ConnectionFault {
        // One independent SplitMix64 stream per (seed, n).
        var rng = SplitMix64(state: SplitMix64.mix(seed ^ 0x5C0_01_5C) &+ UInt64(bitPattern: Int64(n)) &* 0xD1B5_4A32_D192_ED03)
        let roll = rng.nextUnitDouble()
        if roll < cutProbability {
            let downstream = rng.next() & 1 == 1
            let bytes = Int(rng.next() % UInt64(maxCutBytes))
            return ConnectionFault(
                cutUpstreamAfter: downstream ? nil : bytes,
                cutDownstreamAfter: downstream ? bytes : nil,
                bytesPerSecond: bytesPerSecond
            )
        }
        if roll < cutProbability + blackHoleProbability {
            return ConnectionFault(blackHole: true)
        }
        return ConnectionFault(bytesPerSecond: bytesPerSecond)
    }
}

// MARK: - Internals

private enum FaultProxyError: Error {
    case noLocalPort
    case shutDown
}

/// SplitMix64 (Steele, Lea, Flood 2014).
private struct SplitMix64 {
    var state: UInt64

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}

/// State shared by all connections of one proxy.
private final class ProxyCore: Sendable {
    struct State {
        var plan: @Sendable (Int) -> ConnectionFault
        var nextIndex = 0
        var stats = FaultProxy.Statistics()
        var open: [ObjectIdentifier: any Channel] = [:]
        var isShutDown = false
        /// Callers of `waitForAcceptedConnections`, with the count each waits for.
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let upstreamPort: Int
    let state: Mutex<State>

    init(upstreamPort: Int, plan: @escaping @Sendable (Int) -> ConnectionFault) {
        self.upstreamPort = upstreamPort
        self.state = Mutex(State(plan: plan))
    }

    /// Picks the fault of a newly accepted client channel and registers the channel.
    func admit(_ channel: any Channel) throws -> ConnectionFault {
        let (index, plan) = try state.withLock { state in
            guard !state.isShutDown else { throw FaultProxyError.shutDown }
            defer { state.nextIndex += 1 }
            return (state.nextIndex, state.plan)
        }
        let fault = plan(index)  // outside the lock: the plan may read `statistics`
        let woken = try state.withLock { state in
            guard !state.isShutDown else { throw FaultProxyError.shutDown }
            state.stats.connectionsAccepted += 1
            if fault.blackHole { state.stats.connectionsBlackHoled += 1 }
            let accepted = state.stats.connectionsAccepted
            let woken = state.waiters.filter { $0.count <= accepted }
            state.waiters.removeAll { $0.count <= accepted }
            return woken
        }
        for waiter in woken { waiter.continuation.resume() }
        try register(channel)
        return fault
    }

    /// Tracks an open channel so that `shutdown` can close it; throws once shut down.
    func register(_ channel: any Channel) throws {
        let id = ObjectIdentifier(channel)
        try state.withLock { state in
            guard !state.isShutDown else { throw FaultProxyError.shutDown }
            state.open[id] = channel
        }
        channel.closeFuture.whenComplete { _ in
            self.state.withLock { _ = $0.open.removeValue(forKey: id) }
        }
    }

    /// Marks the proxy shut down; returns the open channels, or nil if already shut down.
    func beginShutdown() -> [any Channel]? {
        let (channels, waiters) = state.withLock { state -> ([any Channel]?, [CheckedContinuation<Void, Never>]) in
            guard !state.isShutDown else { return (nil, []) }
            state.isShutDown = true
            defer { state.waiters = [] }
            return (Array(state.open.values), state.waiters.map(\.continuation))
        }
        for waiter in waiters { waiter.resume() }
        return channels
    }

    func update(_ body: (inout FaultProxy.Statistics) -> Void) {
        state.withLock { body(&$0.stats) }
    }
}

private enum Side {
    case client
    case upstream
}

/// One direction of a relay: bytes read from `source`, queued, written to the other side.
private final class Flow {
    let source: Side
    let cutAfter: Int?
    /// Chunks read but not yet handed to the destination channel.
    var pending = CircularBuffer<ByteBuffer>()
    var pendingBytes = 0
    /// Bytes handed to the destination so far (what a cut counts).
    var forwarded = 0
    var writesInFlight = 0
    /// The source sent EOF (or died): nothing more will arrive.
    var sourceEOF = false
    /// The destination has been closed for output (or is gone): this flow is over.
    var finished = false
    /// The source's read was held back for backpressure.
    var readHeld = false
    /// Rate limiting: when the slice at the head of `pending` is due (computed once, so a wake-up
    /// keeps it), when the link finishes its last slice, and the pending timer.
    var sliceDue: NIODeadline?
    var nextSend = NIODeadline.uptimeNanoseconds(0)
    var timer: Scheduled<Void>?

    init(source: Side, cutAfter: Int?) {
        self.source = source
        self.cutAfter = cutAfter
    }

    var destination: Side { source == .client ? .upstream : .client }

    func dropPending() {
        pending.removeAll()
        pendingBytes = 0
        timer?.cancel()
        timer = nil
    }
}

/// Per-connection relay logic. Confined to the client channel's event loop (the upstream channel
/// is created on the same loop).
private final class Relay {
    enum Phase {
        /// Stalling and/or connecting upstream; client bytes are buffered.
        case waiting
        case relaying
        case blackHole
        case cut
        /// Aborted before relaying started.
        case closed
    }

    /// Pause reading a source when this many bytes are queued for its destination.
    static let highWaterMark = 64 * 1024

    let core: ProxyCore
    let fault: ConnectionFault
    let loop: any EventLoop
    let client: any Channel
    var upstream: (any Channel)?
    var clientClosed = false
    var upstreamClosed = false
    var phase: Phase
    var stallTimer: Scheduled<Void>?
    let toServer: Flow
    let toClient: Flow

    init(core: ProxyCore, client: any Channel, fault: ConnectionFault) {
        self.core = core
        self.fault = fault
        self.client = client
        self.loop = client.eventLoop
        self.phase = fault.blackHole ? .blackHole : .waiting
        self.toServer = Flow(source: .client, cutAfter: fault.cutUpstreamAfter)
        self.toClient = Flow(source: .upstream, cutAfter: fault.cutDownstreamAfter)
    }

    // MARK: Helpers

    func channel(_ side: Side) -> (any Channel)? {
        side == .client ? client : upstream
    }

    func isClosed(_ side: Side) -> Bool {
        side == .client ? clientClosed : upstreamClosed
    }

    func flow(from side: Side) -> Flow {
        side == .client ? toServer : toClient
    }

    func flow(to side: Side) -> Flow {
        side == .client ? toClient : toServer
    }

    func countForwarded(_ flow: Flow, _ bytes: Int) {
        if flow.source == .client {
            core.update { $0.bytesClientToServer += bytes }
        } else {
            core.update { $0.bytesServerToClient += bytes }
        }
    }

    // MARK: Lifecycle

    func clientActive() {
        guard phase == .waiting else { return }
        if let stall = fault.stall, stall > .zero {
            stallTimer = loop.assumeIsolated().scheduleTask(in: TimeAmount(stall)) {
                self.stallTimer = nil
                self.connectUpstream()
            }
        } else {
            connectUpstream()
        }
    }

    func connectUpstream() {
        guard phase == .waiting else { return }
        let core = self.core
        let bound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try core.register(channel)
                    try channel.pipeline.syncOperations.addHandler(
                        RelaySideHandler(relay: bound.value, side: .upstream)
                    )
                }
            }
            .connect(host: "127.0.0.1", port: core.upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.upstreamConnected(channel)
                case .failure:
                    // Not a failure to report if the client is gone or the proxy is shutting down.
                    guard self.phase == .waiting else { return }
                    self.core.update { $0.upstreamConnectFailures += 1 }
                    self.phase = .closed
                    self.client.close(promise: nil)
                }
            }
    }

    func upstreamConnected(_ channel: any Channel) {
        upstream = channel
        guard phase == .waiting else {
            channel.close(promise: nil)
            return
        }
        phase = .relaying
        pump(toServer)
        pump(toClient)
    }

    // MARK: Events from the channel handlers

    func received(_ buffer: ByteBuffer, from side: Side) {
        switch phase {
        case .waiting, .relaying:
            let flow = flow(from: side)
            guard !flow.finished, buffer.readableBytes > 0 else { return }
            flow.pending.append(buffer)
            flow.pendingBytes += buffer.readableBytes
            pump(flow)
        case .blackHole, .cut, .closed:
            return  // discard
        }
    }

    func mayRead(from side: Side) -> Bool {
        switch phase {
        case .blackHole, .cut, .closed:
            return true  // read and discard
        case .waiting:
            return flow(from: side).pendingBytes < Self.highWaterMark
        case .relaying:
            let flow = flow(from: side)
            guard flow.pendingBytes < Self.highWaterMark else { return false }
            return channel(flow.destination)?.isWritable ?? false
        }
    }

    func holdRead(from side: Side) {
        flow(from: side).readHeld = true
    }

    func resumeReadIfPossible(_ flow: Flow) {
        guard flow.readHeld, mayRead(from: flow.source), let source = channel(flow.source) else { return }
        flow.readHeld = false
        source.read()
    }

    func inputClosed(_ side: Side) {
        switch phase {
        case .waiting, .relaying:
            let flow = flow(from: side)
            flow.sourceEOF = true
            pump(flow)
        case .blackHole:
            client.close(promise: nil)
        case .cut, .closed:
            return
        }
    }

    func inactive(_ side: Side) {
        if side == .client { clientClosed = true } else { upstreamClosed = true }
        switch phase {
        case .waiting:
            // Only the client can be open here; give up without connecting.
            phase = .closed
            stallTimer?.cancel()
            stallTimer = nil
        case .blackHole, .cut, .closed:
            return
        case .relaying:
            // Nothing can be written to `side` any more...
            let toSide = flow(to: side)
            toSide.dropPending()
            toSide.finished = true
            // ...but what it sent is still delivered, then the other side is closed.
            let fromSide = flow(from: side)
            fromSide.sourceEOF = true
            pump(fromSide)
            closeIfBothFinished()
        }
    }

    func writabilityChanged(_ side: Side) {
        guard phase == .relaying, channel(side)?.isWritable == true else { return }
        pump(flow(to: side))
    }

    // MARK: Relaying

    /// Moves queued bytes of `flow` to its destination, honouring cuts and the rate limit.
    func pump(_ flow: Flow) {
        guard phase == .relaying, !flow.finished else { return }
        guard let destination = channel(flow.destination), !isClosed(flow.destination) else {
            flow.dropPending()
            return
        }
        if let rate = fault.bytesPerSecond {
            guard flow.timer == nil else { return }
            let sliceBytes = max(1, rate / 20)
            // Each slice is delivered when the link would have finished sending it: after the
            // previous slice's end (or now, if the link was idle) plus its own transmission time.
            // So even a small message takes its time on a slow link, as on a real one; nothing
            // is sent in a burst after an idle period.
            var wrote = false
            while let first = flow.pending.first, destination.isWritable {
                let now = NIODeadline.now()
                let size = min(sliceBytes, first.readableBytes)
                let due = flow.sliceDue ?? (max(flow.nextSend, now) + .nanoseconds(Int64(size) * 1_000_000_000 / Int64(rate)))
                if due > now {
                    flow.sliceDue = due
                    flow.timer = loop.assumeIsolated().scheduleTask(deadline: due) {
                        flow.timer = nil
                        self.pump(flow)
                    }
                    break
                }
                flow.sliceDue = nil
                let slice = takeSlice(from: flow, maxBytes: size)
                guard send(slice, on: flow, to: destination) else { return }  // cut
                wrote = true
                flow.nextSend = due
            }
            if wrote { destination.flush() }
        } else {
            var wrote = false
            while let chunk = flow.pending.popFirst() {
                flow.pendingBytes -= chunk.readableBytes
                guard send(chunk, on: flow, to: destination) else { return }  // cut
                wrote = true
            }
            if wrote { destination.flush() }
        }
        resumeReadIfPossible(flow)
        finishIfDrained(flow)
    }

    func takeSlice(from flow: Flow, maxBytes: Int) -> ByteBuffer {
        let first = flow.pending.startIndex
        let slice: ByteBuffer
        if flow.pending[first].readableBytes <= maxBytes {
            slice = flow.pending.removeFirst()
        } else if let part = flow.pending[first].readSlice(length: maxBytes) {
            slice = part
        } else {
            slice = flow.pending.removeFirst()  // unreachable: readableBytes > maxBytes
        }
        flow.pendingBytes -= slice.readableBytes
        return slice
    }

    /// Writes `chunk` (unflushed) unless it reaches the cut point, in which case it writes the
    /// allowed prefix, cuts the connection, and returns false.
    func send(_ chunk: ByteBuffer, on flow: Flow, to destination: any Channel) -> Bool {
        var chunk = chunk
        let count = chunk.readableBytes
        if let cutAfter = flow.cutAfter, flow.forwarded + count >= cutAfter {
            let allowed = max(0, cutAfter - flow.forwarded)
            let prefix = chunk.readSlice(length: allowed) ?? ByteBuffer()
            cut(flow, lastBytes: prefix)
            return false
        }
        flow.forwarded += count
        flow.writesInFlight += 1
        destination.write(chunk).assumeIsolated().whenComplete { result in
            flow.writesInFlight -= 1
            if case .success = result { self.countForwarded(flow, count) }
            self.finishIfDrained(flow)
        }
        return true
    }

    /// Cuts the connection: the destination of `flow` receives `lastBytes` and then a FIN (so it
    /// has received exactly the cut count), the source is reset (SO_LINGER 0).
    func cut(_ flow: Flow, lastBytes: ByteBuffer) {
        phase = .cut
        core.update { $0.connectionsCut += 1 }
        toServer.dropPending()
        toClient.dropPending()

        if let source = channel(flow.source) {
            Self.reset(source)
        }
        guard let destination = channel(flow.destination) else { return }
        let count = lastBytes.readableBytes
        let done: EventLoopFuture<Void>
        if count > 0 {
            flow.forwarded += count
            done = destination.writeAndFlush(lastBytes)
            done.assumeIsolated().whenSuccess { self.countForwarded(flow, count) }
        } else {
            done = loop.makeSucceededVoidFuture()
        }
        done.assumeIsolated().whenComplete { _ in
            destination.close(promise: nil)
        }
    }

    /// Closes `channel` with an RST where possible.
    static func reset(_ channel: any Channel) {
        if let provider = channel as? any SocketOptionProvider {
            _ = provider.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }
        channel.close(promise: nil)
    }

    /// Once a flow's source has ended and everything is written, half-closes its destination
    /// (or fully closes it if the source is gone entirely).
    func finishIfDrained(_ flow: Flow) {
        guard phase == .relaying, !flow.finished, flow.sourceEOF, flow.pending.isEmpty,
            flow.writesInFlight == 0
        else { return }
        flow.finished = true
        flow.timer?.cancel()
        flow.timer = nil
        if let destination = channel(flow.destination), !isClosed(flow.destination) {
            if isClosed(flow.source) {
                destination.close(promise: nil)
            } else {
                destination.close(mode: .output).assumeIsolated().whenFailure { _ in
                    destination.close(promise: nil)
                }
            }
        }
        closeIfBothFinished()
    }

    func closeIfBothFinished() {
        guard toServer.finished, toClient.finished else { return }
        if !clientClosed { client.close(promise: nil) }
        if !upstreamClosed, let upstream { upstream.close(promise: nil) }
    }
}

/// Glue between one channel's pipeline and its `Relay`.
private final class RelaySideHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let relay: Relay
    let side: Side

    init(relay: Relay, side: Side) {
        self.relay = relay
        self.side = side
    }

    func channelActive(context: ChannelHandlerContext) {
        if side == .client { relay.clientActive() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        relay.received(unwrapInboundIn(data), from: side)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            relay.inputClosed(side)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        relay.inactive(side)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        relay.writabilityChanged(side)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    // Outbound `read` is how autoRead asks for more data: hold it while the other side is
    // congested (the NIO "glue handler" backpressure pattern).
    func read(context: ChannelHandlerContext) {
        if relay.mayRead(from: side) {
            context.read()
        } else {
            relay.holdRead(from: side)
        }
    }
}
