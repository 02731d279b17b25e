import Foundation
import SyncCore
import Testing

/// The error and rejection codes live once, in SyncCore (`ErrorCode`, `RejectCode`): PROTOCOL.md's
/// tables and openapi.yaml list the same sets, and no other module spells a code as a string, so a
/// code cannot exist on one side only.
struct WireContractTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The backticked codes in the second column of the table rows between two headings.
    static func tableCodes(_ document: String, from start: String, to end: String, column: Int) throws -> [String] {
        let section = try #require(document.range(of: start).map { document[$0.upperBound...] })
        let body = section[..<(section.range(of: end)?.lowerBound ?? section.endIndex)]
        return body.split(separator: "\n").compactMap { line -> String? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > column + 1, cells[column].hasPrefix("`"), cells[column].hasSuffix("`") else { return nil }
            let code = String(cells[column].dropFirst().dropLast())
            return code == "error" || code == "code" ? nil : code  // the header row
        }
    }

    /// The `examples:` list that follows `anchor` in openapi.yaml.
    static func openAPIExamples(after anchor: String) throws -> [String] {
        let yaml = try text("Protocol/openapi.yaml")
        let tail = try #require(yaml.range(of: anchor).map { yaml[$0.upperBound...] })
        let list = try #require(tail.range(of: "examples: [").map { tail[$0.upperBound...] })
        let inside = list[..<(try #require(list.firstIndex(of: "]")))]
        return inside.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    @Test func errorCodesAreTheSameInTheTypeTheProtocolAndOpenAPI() throws {
        let protocolText = try Self.text("Protocol/PROTOCOL.md")
        let table = try Self.tableCodes(protocolText, from: "## 8. Errors", to: "## 9.", column: 2)
        let defined = ErrorCode.allDefined.map(\.rawValue)
        #expect(table == defined, "PROTOCOL.md §8 and ErrorCode.allDefined differ")
        #expect(try Self.openAPIExamples(after: "    Error:\n") == defined, "openapi.yaml's Error.error and ErrorCode.allDefined differ")
        #expect(Set(defined).count == defined.count)
    }

    @Test func rejectCodesAreTheSameInTheTypeTheProtocolAndOpenAPI() throws {
        let protocolText = try Self.text("Protocol/PROTOCOL.md")
        let table = try Self.tableCodes(protocolText, from: "Rejection codes (`reason.code`) defined by version 1:", to: "The per-record results", column: 1)
        let defined = RejectCode.allDefined.map(\.rawValue)
        #expect(table == defined, "PROTOCOL.md §6.4 and RejectCode.allDefined differ")
        #expect(try Self.openAPIExamples(after: "    RejectReason:\n") == defined, "openapi.yaml's RejectReason.code and RejectCode.allDefined differ")
        // §11 names the client's own hold-back codes; none of them is one a server sends.
        for local in RejectCode.allLocal + RejectCode.allForServerRefusals {
            #expect(protocolText.contains("`\(local.rawValue)`"), "PROTOCOL.md §11 does not name \(local)")
            #expect(!RejectCode.allDefined.contains(local))
        }
    }

    /// Every module but SyncCore names codes through the types: a string literal equal to a code in
    /// the server, the client, the domain or the CLIs would be a code one side can change alone.
    @Test func noModuleSpellsACodeAsAString() throws {
        let codes = Set(ErrorCode.allDefined.map(\.rawValue) + (RejectCode.allDefined + RejectCode.allLocal + RejectCode.allForServerRefusals).map(\.rawValue))
        let sources = Self.root.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var found: [String] = []
        for case let file as URL in files where file.pathExtension == "swift" && !file.path.contains("/Sources/SyncCore/") {
            let text = try String(contentsOf: file, encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                guard !code.hasPrefix("//") else { continue }
                for literal in Self.stringLiterals(in: code) where codes.contains(literal) {
                    found.append("\(file.lastPathComponent):\(number + 1): \"\(literal)\"")
                }
            }
        }
        #expect(found.isEmpty, "spell these as ErrorCode/RejectCode members: \(found)")
    }

    /// The whole-string literals of a line (no interpolation), e.g. `"replica_stale"`.
    static func stringLiterals(in line: String) -> [String] {
        var literals: [String] = []
        var current: String?
        var escaped = false
        for character in line {
            if var text = current {
                if escaped {
                    escaped = false
                    text.append(character)
                    current = text
                } else if character == "\\" {
                    escaped = true
                    text.append(character)
                    current = text
                } else if character == "\"" {
                    literals.append(text)
                    current = nil
                } else {
                    text.append(character)
                    current = text
                }
            } else if character == "\"" {
                current = ""
            }
        }
        return literals
    }

    @Test func unknownCodesDecodeAsThemselvesAndMatchNothing() throws {
        let body = try CanonicalJSON.decode(ErrorBody.self, from: Data(#"{"error":"brand_new","message":"m"}"#.utf8))
        #expect(body.error.rawValue == "brand_new")
        #expect(!ErrorCode.allDefined.contains(body.error))
        let reason = try CanonicalJSON.decode(RejectReason.self, from: Data(#"{"code":"later_rule","message":"m"}"#.utf8))
        #expect(reason.code == RejectCode(rawValue: "later_rule"))
        #expect(!reason.code.isLocal)
        #expect(String(decoding: try CanonicalJSON.encode(ErrorBody(error: .replicaStale, message: "m")), as: UTF8.self).contains(#""error":"replica_stale""#))
    }
}
