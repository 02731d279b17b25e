import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SchoolSyncTestSupport
import SyncCore
import SyncServer
import Testing

/// Every numeric input of the API and the pages, given every extreme number (issue 11): the
/// server answers each with a status it documents — never 500, never a trap — and stays up.
struct HostileNumberSweepTests {
    /// Integers at and past every boundary, doubles at and past finite, and texts that some
    /// parsers take for numbers.
    static let numbers = [
        "0", "-0", "1", "-1", "9007199254740991", "9007199254740993", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "99999999999999999999999999999999", "1e308", "1.7976931348623157e308", "1e309", "-1e308", "4.9e-324", "1e-400",
        "0.5", "1.0", "1e2", "NaN", "Infinity", "-Infinity", "+1", "0x10", "１", " 1", "",
    ]

    let domain = DomainRouteTests()

    @Test(arguments: StoreKind.allCases) func everyNumericInputAnswersWithADocumentedStatus(kind: StoreKind) async throws {
        try await Fixture.with(store: kind, configure: { $0.collections = .schoolSync }) { fixture in
            try await fixture.withRouter { client in
                try await domain.publish(client, fixture)
                let epoch = fixture.store.epoch
                let writer = ReplicaID(high: 0x91, low: 1)
                let pushed = try await client.push(try Make.push([], replica: writer), token: fixture.deviceA)
                let session = try await AdminPageTests().signIn(client, token: fixture.admin)
                var answered = 0
                func check(_ method: HTTPRequest.Method, _ path: String, token: String?, body: String? = nil, cookie: Bool = false, _ what: String) async throws {
                    var headers: HTTPFields = [:]
                    if cookie {
                        headers[.cookie] = session
                        headers[.contentType] = "application/x-www-form-urlencoded"
                    }
                    let answer = try await client.send(method, path, token: token, body: body.map { ByteBuffer(string: $0) }, headers: headers)
                    #expect(answer.status.code < 500, "\(what): \(method) \(path.prefix(200)) answered \(answer.status)")
                    answered += 1
                }
                for n in Self.numbers {
                    let q = n.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                    // Pull parameters.
                    try await check(.get, "/v1/pull?since=\(epoch).\(q)", token: fixture.deviceA, "since")
                    try await check(.get, "/v1/pull?limit=\(q)", token: fixture.deviceA, "limit")
                    try await check(.get, "/v1/pull?wait=\(q)&limit=1", token: fixture.deviceA, "wait")
                    try await check(.get, "/v1/pull?replica=\(writer)&receipt=\(epoch).\(q)", token: fixture.deviceA, "receipt")
                    // Push: the receipt, counters, integer and double values.
                    let replica = "\(writer)"
                    try await check(
                        .post,
                        "/v1/push",
                        token: fixture.deviceA,
                        body: #"{"batch":"b","replica":"\#(replica)","receipt":"\#(epoch).\#(n)","records":[]}"#,
                        "push receipt"
                    )
                    let record = { (context: String, counter: String, value: String) in
                        #"{"batch":"c","replica":"\#(replica)","receipt":"\#(pushed.receipt)","records":[{"collection":"reports","id":"qx-zhuoran/2025-S1/x","scope":"school:qx-zhuoran","context":{"\#(replica)":\#(context)},"fields":{"x":[{"replica":"\#(replica)","counter":\#(counter),"value":\#(value)}]},"deleted":[]}]}"#
                    }
                    try await check(.post, "/v1/push", token: fixture.deviceA, body: record(n, "1", #"{"int":1}"#), "context counter")
                    try await check(.post, "/v1/push", token: fixture.deviceA, body: record("1", n, #"{"int":1}"#), "dot counter")
                    try await check(.post, "/v1/push", token: fixture.deviceA, body: record("1", "1", #"{"int":\#(n)}"#), "int value")
                    try await check(.post, "/v1/push", token: fixture.deviceA, body: record("1", "1", #"{"double":\#(n)}"#), "double value")
                    // Indicator values (the JSON text inside a string field) and a bureau target.
                    for json in [#"{"value":\#(n)}"#, #"{"numerator":\#(n),"denominator":1}"#, #"{"numerator":1,"denominator":\#(n)}"#] {
                        let escaped = json.replacingOccurrences(of: "\"", with: "\\\"")
                        let body =
                            #"{"batch":"d","replica":"\#(replica)","receipt":"\#(pushed.receipt)","records":[{"collection":"indicator_values","id":"qx-zhuoran/2025-S1/\#(domain.rate)","scope":"school:qx-zhuoran","context":{"\#(replica)":1},"fields":{"value":[{"replica":"\#(replica)","counter":1,"value":{"string":"\#(escaped)"}}]},"deleted":[]}]}"#
                        try await check(.post, "/v1/push", token: fixture.deviceA, body: body, "indicator value \(json)")
                    }
                    // Administration and conflicts.
                    try await check(.get, "/v1/conflicts?after=\(q)", token: fixture.admin, "conflicts after")
                    try await check(.get, "/v1/conflicts?limit=\(q)", token: fixture.admin, "conflicts limit")
                    try await check(.get, "/v1/conflicts?before=\(q)-01-01T00:00:00Z", token: fixture.admin, "conflicts before")
                    try await check(
                        .post,
                        "/v1/conflicts/reports/qx-zhuoran/2025-S1/x",
                        token: fixture.admin,
                        body: #"{"seen":{"\#(replica)":\#(n)},"values":{},"reason":"r"}"#,
                        "resolution context"
                    )
                    try await check(.get, "/v1/bureau/summary?period=\(q)", token: fixture.bureau, "summary period")
                    // Pages.
                    try await check(.get, "/bureau?period=\(q)", token: nil, cookie: true, "page period")
                    try await check(.post, "/admin/conflicts/reports/qx-zhuoran/2025-S1/x", token: nil, body: "csrf=x&choice.status=\(q)", cookie: true, "page choice")
                }
                // Targets the bureau writes are read as numbers by the summary and the page.
                for (index, n) in Self.numbers.enumerated() {
                    let bureauWriter = ReplicaID(high: 0x92, low: UInt64(index + 1))
                    let target = try domain.record(
                        "indicators",
                        domain.count,
                        .catalog,
                        ["target": .string(n), "value_kind": .string("count"), "measure_id": .string(domain.measure), "name": .string("新建")],
                        by: bureauWriter
                    )
                    _ = try await client.send(.post, "/v1/push", token: fixture.bureau, body: try Make.body(try Make.push([target], replica: bureauWriter)))
                    try await check(.get, "/v1/bureau/summary?period=2025-S1", token: fixture.bureau, "target \(n)")
                    try await check(.get, "/bureau?period=2025-S1", token: nil, cookie: true, "page with target \(n)")
                    try await check(.get, "/bureau?period=2025-S1&format=csv", token: nil, cookie: true, "csv with target \(n)")
                }
                // Last, as "1" revokes the administrator itself.
                for n in Self.numbers {
                    let q = n.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                    try await check(.post, "/v1/admin/principals/\(q)/revoke", token: fixture.admin, "revoke id")
                }
                #expect(answered > 600)
                #expect(try await client.send(.get, "/healthz", token: nil).status == .ok)
            }
        }
    }
}
