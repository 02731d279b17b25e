import FaultProxy
import NIOCore
import NIOPosix
import SchoolSyncTestSupport
import Synchronization
import Testing

// MARK: - Upstream test server

/// A loopback NIO server for the tests. Counts accepted connections and reports, for each
/// connection that ends, every byte it received.
final class TestServer: Sendable {
    enum Mode: Sendable {
        /// Echo every byte; when the peer half-closes, finish writing and close.
        case echo
        /// Record bytes; close when the peer closes.
        case record
        /// Send a payload as soon as a connection opens, then keep recording.
        case send(ByteBuffer)
    }

    final class Shared: Sendable {
        let mode: Mode
        let accepted = Mutex(0)
        let continuation: AsyncStream<ByteBuffer>.Continuation
        init(mode: Mode, continuation: AsyncStream<ByteBuffer>.Continuation) {
            self.mode = mode
            self.continuation = continuation
        }
    }

    let port: Int
    let channel: any Channel
    let shared: Shared
    /// Yields the bytes each connection received, when it closes.
    let closedConnections: AsyncStream<ByteBuffer>

    var acceptedCount: Int { shared.accepted.withLock { $0 } }

    private init(port: Int, channel: any Channel, shared: Shared, closedConnections: AsyncStream<ByteBuffer>) {
        self.port = port
        self.channel = channel
        self.shared = shared
        self.closedConnections = closedConnections
    }

    static func start(_ mode: Mode) async throws -> TestServer {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let shared = Shared(mode: mode, continuation: continuation)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ServerHandler(shared: shared))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(channel.localAddress?.port)
        return TestServer(port: port, channel: channel, shared: shared, closedConnections: stream)
    }

    func stop() async {
        try? await channel.close()
        shared.continuation.finish()
    }
}

final class ServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let shared: TestServer.Shared
    var received = ByteBuffer()

    init(shared: TestServer.Shared) {
        self.shared = shared
    }

    func channelActive(context: ChannelHandlerContext) {
        shared.accepted.withLock { $0 += 1 }
        if case .send(let payload) = shared.mode {
            context.writeAndFlush(wrapOutboundOut(payload), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if case .echo = shared.mode {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        received.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            let channel = context.channel
            // close(mode: .output) waits for pending writes, then the full close.
            context.close(mode: .output).assumeIsolated().whenComplete { _ in
                channel.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.continuation.yield(received)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

// MARK: - Client helpers

typealias ClientChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>
typealias InboundIterator = NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

func connectClient(port: Int) async throws -> ClientChannel {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try ClientChannel(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(isOutboundHalfClosureEnabled: true)
                )
            }
        }
}

/// Reads until `limit` bytes have arrived, or EOF, or a read error (e.g. connection reset).
/// `ended` tells whether the stream ended (EOF or error) rather than the limit being reached.
func read(_ iterator: inout InboundIterator, limit: Int = .max) async -> (bytes: ByteBuffer, ended: Bool) {
    var bytes = ByteBuffer()
    while bytes.readableBytes < limit {
        do {
            guard var chunk = try await iterator.next() else { return (bytes, true) }
            bytes.writeBuffer(&chunk)
        } catch {
            return (bytes, true)
        }
    }
    return (bytes, false)
}

/// Deterministic pseudo-random payload.
func payload(count: Int, salt: UInt8 = 0) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(count)
    var x: UInt32 = 2_463_534_242 &+ UInt32(salt)
    for _ in 0..<count {
        x ^= x << 13
        x ^= x >> 17
        x ^= x << 5
        buffer.writeInteger(UInt8(truncatingIfNeeded: x))
    }
    return buffer
}

// MARK: - Tests

@Suite("FaultProxy", .timeLimit(.minutes(1)))
struct FaultProxyTests {
    @Test("plain relay round-trips 1 MiB exactly")
    func plainRelay() async throws {
        let server = try await TestServer.start(.echo)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in .none }
        let size = 1 << 20
        let data = payload(count: size)

        let client = try await connectClient(port: proxy.port)
        let (received, ended) = try await client.executeThenClose { inbound, outbound in
            async let reading: (ByteBuffer, Bool) = {
                var iterator = inbound.makeAsyncIterator()
                return await read(&iterator, limit: size)
            }()
            var rest = data
            while let slice = rest.readSlice(length: min(16_384, rest.readableBytes)), slice.readableBytes > 0 {
                try await outbound.write(slice)
            }
            return await reading
        }
        #expect(!ended)
        #expect(received == data)

        try await proxy.shutdown()
        let stats = proxy.statistics
        #expect(stats.connectionsAccepted == 1)
        #expect(stats.bytesClientToServer == size)
        #expect(stats.bytesServerToClient == size)
        #expect(stats.connectionsCut == 0)
        await server.stop()
    }

    @Test("client half-close still gets the full answer")
    func halfClose() async throws {
        let server = try await TestServer.start(.echo)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in .none }
        let request = payload(count: 5_000, salt: 7)

        let client = try await connectClient(port: proxy.port)
        let (received, ended) = try await client.executeThenClose { inbound, outbound in
            try await outbound.write(request)
            outbound.finish()  // shutdown(SHUT_WR)
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator)
        }
        #expect(ended)
        #expect(received == request)

        var closed = server.closedConnections.makeAsyncIterator()
        #expect(await closed.next() == request)
        try await proxy.shutdown()
        await server.stop()
    }

    @Test("cutUpstreamAfter: 100 delivers exactly 100 bytes upstream, then a close")
    func cutUpstream() async throws {
        let server = try await TestServer.start(.record)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in
            ConnectionFault(cutUpstreamAfter: 100)
        }
        let data = payload(count: 1_000)

        let client = try await connectClient(port: proxy.port)
        let (_, ended) = try await client.executeThenClose { inbound, outbound in
            try await outbound.write(data)
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator)
        }
        #expect(ended)

        var closed = server.closedConnections.makeAsyncIterator()
        let upstreamGot = try #require(await closed.next())
        #expect(upstreamGot == data.getSlice(at: 0, length: 100))

        try await proxy.shutdown()
        #expect(proxy.statistics.connectionsCut == 1)
        #expect(proxy.statistics.bytesClientToServer == 100)
        await server.stop()
    }

    @Test("cutUpstreamAfter: 0 lets no byte reach the server")
    func cutUpstreamZero() async throws {
        let server = try await TestServer.start(.record)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in
            ConnectionFault(cutUpstreamAfter: 0)
        }
        let client = try await connectClient(port: proxy.port)
        let (received, ended) = try await client.executeThenClose { inbound, outbound in
            try await outbound.write(payload(count: 10))
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator)
        }
        #expect(ended)
        #expect(received.readableBytes == 0)
        var closed = server.closedConnections.makeAsyncIterator()
        #expect(await closed.next()?.readableBytes == 0)
        try await proxy.shutdown()
        #expect(proxy.statistics.bytesClientToServer == 0)
        await server.stop()
    }

    @Test("cutDownstreamAfter: 100 delivers exactly 100 bytes to the client, then EOF")
    func cutDownstream() async throws {
        let answer = payload(count: 10_000, salt: 3)
        let server = try await TestServer.start(.send(answer))
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in
            ConnectionFault(cutDownstreamAfter: 100)
        }

        let client = try await connectClient(port: proxy.port)
        let (received, ended) = try await client.executeThenClose { inbound, _ in
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator)
        }
        #expect(ended)
        #expect(received == answer.getSlice(at: 0, length: 100))

        // The upstream connection is closed too.
        var closed = server.closedConnections.makeAsyncIterator()
        #expect(await closed.next() != nil)

        try await proxy.shutdown()
        #expect(proxy.statistics.connectionsCut == 1)
        #expect(proxy.statistics.bytesServerToClient == 100)
        await server.stop()
    }

    @Test("blackHole: client gets nothing, upstream never sees a connection")
    func blackHole() async throws {
        let server = try await TestServer.start(.echo)
        // Connection 0 is black-holed, connection 1 is relayed.
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { n in
            n == 0 ? ConnectionFault(blackHole: true) : .none
        }

        let swallowed = try await connectClient(port: proxy.port)
        try await swallowed.executeThenClose { inbound, outbound in
            try await outbound.write(payload(count: 100))
            // The kernel completes a connect before the proxy accepts it: wait for the accept, so
            // the probe below is certainly connection 1.
            await proxy.waitForAcceptedConnections(1)

            let probe = try await connectClient(port: proxy.port)
            let echoed = try await probe.executeThenClose { probeIn, probeOut in
                try await probeOut.write(ByteBuffer(string: "ping"))
                var iterator = probeIn.makeAsyncIterator()
                return await read(&iterator, limit: 4).bytes
            }
            #expect(echoed == ByteBuffer(string: "ping"))

            // Read with a deadline: after 300 ms the client gives up (closes its channel).
            let channel = swallowed.channel
            let gotBytes = await withTaskGroup(of: Int?.self) { group in
                group.addTask {
                    var iterator = inbound.makeAsyncIterator()
                    let chunk = try? await iterator.next()
                    return chunk?.readableBytes ?? 0
                }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(300))
                    try? await channel.close()
                    return nil
                }
                var total = 0
                for await result in group { total += result ?? 0 }
                return total
            }
            #expect(gotBytes == 0)
        }

        let stats = proxy.statistics
        #expect(stats.connectionsAccepted == 2)
        #expect(stats.connectionsBlackHoled == 1)
        #expect(server.acceptedCount == 1)  // only the probe
        try await proxy.shutdown()
        #expect(server.acceptedCount == 1)
        await server.stop()
    }

    @Test("bytesPerSecond: 16,000 bytes at 8,000 B/s take about 2 s")
    func rateLimit() async throws {
        let size = 16_000
        let answer = payload(count: size, salt: 9)
        let server = try await TestServer.start(.send(answer))
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in
            ConnectionFault(bytesPerSecond: 8_000)
        }

        let clock = ContinuousClock()
        let start = clock.now
        let client = try await connectClient(port: proxy.port)
        let (received, _) = try await client.executeThenClose { inbound, _ in
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator, limit: size)
        }
        let elapsed = clock.now - start
        #expect(received == answer)
        #expect(elapsed >= .milliseconds(1_500), "took \(elapsed)")
        #expect(elapsed < .seconds(6), "took \(elapsed)")

        try await proxy.shutdown()
        await server.stop()
    }

    @Test("rate-limited echo of 512 KiB keeps every byte in order (backpressure path)")
    func rateLimitedBulk() async throws {
        let server = try await TestServer.start(.echo)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in
            ConnectionFault(bytesPerSecond: 2_000_000)
        }
        let size = 512 * 1024
        let data = payload(count: size, salt: 5)
        let client = try await connectClient(port: proxy.port)
        let received = try await client.executeThenClose { inbound, outbound in
            async let reading: ByteBuffer = {
                var iterator = inbound.makeAsyncIterator()
                return await read(&iterator, limit: size).bytes
            }()
            try await outbound.write(data)  // one big write: the proxy must queue and pace it
            return await reading
        }
        #expect(received == data)
        try await proxy.shutdown()
        #expect(proxy.statistics.bytesClientToServer == size)
        #expect(proxy.statistics.bytesServerToClient == size)
        await server.stop()
    }

    @Test("stall: bytes sent during the stall are relayed afterwards")
    func stall() async throws {
        let server = try await TestServer.start(.echo)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in
            ConnectionFault(stall: .milliseconds(300))
        }
        let request = payload(count: 2_000, salt: 1)
        let clock = ContinuousClock()
        let start = clock.now
        let client = try await connectClient(port: proxy.port)
        let (received, _) = try await client.executeThenClose { inbound, outbound in
            try await outbound.write(request)
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator, limit: request.readableBytes)
        }
        // Only a lower bound (the stall timer cannot fire early), no upper bound.
        #expect(clock.now - start >= .milliseconds(300))
        #expect(received == request)
        try await proxy.shutdown()
        await server.stop()
    }

    @Test("shutdown closes open connections on both sides")
    func shutdownClosesConnections() async throws {
        let server = try await TestServer.start(.echo)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in .none }

        let client = try await connectClient(port: proxy.port)
        try await client.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            try await outbound.write(ByteBuffer(string: "hello"))
            let (echoed, _) = await read(&iterator, limit: 5)
            #expect(echoed == ByteBuffer(string: "hello"))

            try await proxy.shutdown()

            let (rest, ended) = await read(&iterator)
            #expect(ended)
            #expect(rest.readableBytes == 0)
        }
        var closed = server.closedConnections.makeAsyncIterator()
        #expect(await closed.next() == ByteBuffer(string: "hello"))

        await #expect(throws: (any Error).self) {
            _ = try await connectClient(port: proxy.port)
        }
        try await proxy.shutdown()  // idempotent
        await server.stop()
    }

    @Test("setPlan applies to connections accepted afterwards")
    func setPlan() async throws {
        let server = try await TestServer.start(.echo)
        let proxy = try await FaultProxy.start(upstreamPort: server.port) { _ in .none }

        func roundTrip() async throws -> ByteBuffer {
            let client = try await connectClient(port: proxy.port)
            return try await client.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: "abcdef"))
                var iterator = inbound.makeAsyncIterator()
                return await read(&iterator, limit: 6).bytes
            }
        }
        #expect(try await roundTrip() == ByteBuffer(string: "abcdef"))
        proxy.setPlan { n in
            n == 1 ? ConnectionFault(cutDownstreamAfter: 2) : .none
        }
        #expect(try await roundTrip() == ByteBuffer(string: "ab"))
        try await proxy.shutdown()
        await server.stop()
    }

    @Test("a refused upstream connection closes the client")
    func upstreamRefused() async throws {
        // A port bound but never listening: refused for as long as the test holds it (a port found
        // by binding and releasing could be taken again, even by the proxy's own listener).
        let dead = try ReservedPort()

        let proxy = try await FaultProxy.start(upstreamPort: dead.port) { _ in .none }
        let client = try await connectClient(port: proxy.port)
        let (received, ended) = try await client.executeThenClose { inbound, _ in
            var iterator = inbound.makeAsyncIterator()
            return await read(&iterator)
        }
        #expect(ended)
        #expect(received.readableBytes == 0)
        #expect(proxy.statistics.upstreamConnectFailures == 1)
        try await proxy.shutdown()
        withExtendedLifetime(dead) {}
    }

    @Test("seeded plan through the proxy: each connection gets its planned fault")
    func seededPlanEndToEnd() async throws {
        let server = try await TestServer.start(.echo)
        let plan = SeededFaultPlan(seed: 7, cutProbability: 0.3, maxCutBytes: 200)
        let proxy = try await FaultProxy.start(upstreamPort: server.port, plan: plan.fault(forConnection:))
        let size = 1_000
        var plannedCuts = 0
        for n in 0..<40 {
            let fault = plan.fault(forConnection: n)
            let request = payload(count: size, salt: UInt8(n))
            let client = try await connectClient(port: proxy.port)
            let (received, _) = try await client.executeThenClose { inbound, outbound in
                try await outbound.write(request)
                var iterator = inbound.makeAsyncIterator()
                return await read(&iterator, limit: size)
            }
            if let cut = fault.cutDownstreamAfter {
                plannedCuts += 1
                #expect(received == request.getSlice(at: 0, length: cut), "connection \(n)")
            } else if let cut = fault.cutUpstreamAfter {
                plannedCuts += 1
                #expect(received.readableBytes <= cut, "connection \(n)")
                #expect(received == request.getSlice(at: 0, length: received.readableBytes), "connection \(n)")
            } else {
                #expect(received == request, "connection \(n)")
            }
        }
        #expect(plannedCuts > 0)
        try await proxy.shutdown()
        #expect(proxy.statistics.connectionsCut == plannedCuts)
        #expect(proxy.statistics.connectionsAccepted == 40)
        await server.stop()
    }
}

@Suite("SeededFaultPlan")
struct SeededFaultPlanTests {
    @Test("same seed gives the same faults, whatever the order of evaluation")
    func deterministic() {
        let a = SeededFaultPlan(seed: 42, cutProbability: 0.2, blackHoleProbability: 0.1, bytesPerSecond: 8_000)
        let b = SeededFaultPlan(seed: 42, cutProbability: 0.2, blackHoleProbability: 0.1, bytesPerSecond: 8_000)
        let forward = (0..<10_000).map { a.fault(forConnection: $0) }
        let backward = (0..<10_000).reversed().map { b.fault(forConnection: $0) }
        #expect(forward == Array(backward.reversed()))

        let other = SeededFaultPlan(seed: 43, cutProbability: 0.2, blackHoleProbability: 0.1, bytesPerSecond: 8_000)
        #expect((0..<10_000).map { other.fault(forConnection: $0) } != forward)
    }

    @Test("shares of cut and black-holed connections match the probabilities")
    func proportions() {
        let plan = SeededFaultPlan(
            seed: 2024, cutProbability: 0.2, blackHoleProbability: 0.1, maxCutBytes: 500, bytesPerSecond: 8_000)
        let faults = (0..<10_000).map { plan.fault(forConnection: $0) }
        let upstreamCuts = faults.compactMap(\.cutUpstreamAfter)
        let downstreamCuts = faults.compactMap(\.cutDownstreamAfter)
        let cuts = upstreamCuts.count + downstreamCuts.count
        let blackHoles = faults.filter(\.blackHole).count

        // 10,000 draws: the standard deviation of the count is 40 at p = 0.2, 30 at p = 0.1.
        #expect((1_800...2_200).contains(cuts), "cuts: \(cuts)")
        #expect((850...1_150).contains(blackHoles), "black holes: \(blackHoles)")
        #expect((800...1_200).contains(upstreamCuts.count), "upstream cuts: \(upstreamCuts.count)")
        #expect(faults.allSatisfy { $0.cutUpstreamAfter == nil || $0.cutDownstreamAfter == nil })
        #expect((upstreamCuts + downstreamCuts).allSatisfy { (0..<500).contains($0) })
        #expect(Set(upstreamCuts + downstreamCuts).count > 400)  // spread over the range
        #expect(faults.filter { !$0.blackHole }.allSatisfy { $0.bytesPerSecond == 8_000 })
        #expect(faults.allSatisfy { $0.stall == nil })
    }

    @Test("probability 0 and 1")
    func extremes() {
        let never = SeededFaultPlan(seed: 1, cutProbability: 0)
        #expect((0..<1_000).allSatisfy { never.fault(forConnection: $0) == .none })
        let always = SeededFaultPlan(seed: 1, cutProbability: 1, maxCutBytes: 1)
        #expect(
            (0..<1_000).allSatisfy {
                let fault = always.fault(forConnection: $0)
                return fault.cutUpstreamAfter == 0 || fault.cutDownstreamAfter == 0
            })
    }
}
