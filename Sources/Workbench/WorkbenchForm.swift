import Foundation
import Hummingbird
import MultipartKit
import NIOCore
import NIOHTTP1
import Reporting
import SyncCore

/// A posted form: its fields by name (the last of a repeated name wins), read only after the
/// CSRF token was checked.
struct WorkbenchForm: Sendable {
    let fields: [String: String]

    subscript(_ name: String) -> String? { fields[name] }

    /// A request the workbench refuses before looking at it, with the page to show.
    struct Refusal: Error {
        let status: HTTPResponse.Status
        let heading: String
        let message: String
    }

    /// The report a form is about: its `measure` and `period` fields.
    func report() throws(Refusal) -> (measure: String, period: String) {
        guard let measure = self["measure"], !measure.isEmpty, measure.utf8.count <= 512, let period = self["period"], RecordRules.isPeriod(period)
        else {
            throw Refusal(status: .badRequest, heading: "表单不完整", message: "表单缺少措施或学期；请从首页重新打开。The form lost its measure or period.")
        }
        return (measure, period)
    }

    /// The state the form was opened on (``encode(seen:)``): each record it showed → its causal
    /// context (`nil`: absent then).
    ///
    /// - Throws: a 409 ``Refusal`` when the field is missing or unreadable: a form that cannot say
    ///   what it was opened on must not write over anything.
    func seen() throws(Refusal) -> [RecordKey: VersionVector?] {
        let stale = Refusal(status: .conflict, heading: "页面已过期", message: "这个页面无法确认打开时的内容；请重新打开后再保存。The form lost the state it was opened on; reload it.")
        guard let text = self["seen"], let data = Data(base64Encoded: text), data.count <= 512 * 1024,
            let rows = try? JSONDecoder().decode([[String]].self, from: data), !rows.isEmpty
        else { throw stale }
        var seen: [RecordKey: VersionVector?] = [:]
        for row in rows {
            guard row.count == 3 else { throw stale }
            let key = RecordKey(collection: row[0], id: row[1])
            if row[2].isEmpty {
                seen[key] = .some(nil)
            } else {
                guard let context = try? CanonicalJSON.decode(VersionVector.self, from: Data(row[2].utf8)) else { throw stale }
                seen[key] = .some(context)
            }
        }
        return seen
    }

    /// The hidden `seen` field: each record the form shows with its causal context, as base64 of
    /// JSON rows `[collection, id, context or ""]`.
    static func encode(seen: [RecordKey: VersionVector?]) -> String {
        let rows = seen.sorted { ($0.key.collection, $0.key.id) < ($1.key.collection, $1.key.id) }.map { key, context -> [String] in
            [key.collection, key.id, context.flatMap { try? CanonicalJSON.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""]
        }
        return ((try? JSONEncoder().encode(rows)) ?? Data("[]".utf8)).base64EncodedString()
    }
}

extension WorkbenchRoutes {
    /// An urlencoded form of at most ``maxFormBytes``, after its CSRF token matched.
    ///
    /// - Throws: ``WorkbenchForm/Refusal`` — 413 past the limit, 403 without the token.
    static func readForm(_ request: Request, csrf: String) async throws -> WorkbenchForm {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxFormBytes)
        } catch {
            throw WorkbenchForm.Refusal(status: .contentTooLarge, heading: "内容太长", message: "表单超过 1 MB，未保存。The form is larger than 1 MB.")
        }
        let form = WorkbenchForm(fields: parseURLEncoded(String(buffer: body)))
        try requireToken(form, csrf: csrf)
        return form
    }

    /// A file-picking form (multipart/form-data): its text fields and its one file.
    ///
    /// - Throws: ``WorkbenchForm/Refusal`` — 413 past ``maxUploadBytes``, 400 when it is not
    ///   multipart, 403 without the token.
    static func readMultipart(_ request: Request, csrf: String) async throws -> (fields: WorkbenchForm, file: (name: String, bytes: Data)?) {
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("multipart/form-data"),
            let boundary = type.split(separator: ";").compactMap({ part -> String? in
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[0].lowercased() == "boundary" else { return nil }
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }).first, !boundary.isEmpty
        else {
            throw WorkbenchForm.Refusal(status: .badRequest, heading: "表单不对", message: "请用页面上的“选择文件”添加。Use the page's file form.")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxUploadBytes)
        } catch {
            throw WorkbenchForm.Refusal(
                status: .contentTooLarge, heading: "文件太大", message: "每个文件不能超过 25 MB。Files are at most 25 MiB (PROTOCOL.md §13.1).")
        }
        let parts: [MultipartPart]
        do {
            parts = try MultipartParser.collectParts(body, boundary: boundary)
        } catch {
            throw WorkbenchForm.Refusal(status: .badRequest, heading: "表单不对", message: "上传的表单无法读取，请重试。The upload could not be read.")
        }
        var fields: [String: String] = [:]
        var file: (name: String, bytes: Data)?
        for part in parts {
            guard let disposition = part.headers.first(name: "Content-Disposition"), let name = Self.parameter("name", in: disposition) else { continue }
            if let filename = Self.parameter("filename", in: disposition) {
                if name == "file", file == nil { file = (filename.isEmpty ? "evidence" : filename, Data(part.body.readableBytesView)) }
            } else {
                fields[name] = String(buffer: part.body)
            }
        }
        let form = WorkbenchForm(fields: fields)
        try requireToken(form, csrf: csrf)
        return (form, file)
    }

    static func requireToken(_ form: WorkbenchForm, csrf: String) throws(WorkbenchForm.Refusal) {
        guard WorkbenchSession.same(form["csrf"], csrf) else {
            throw WorkbenchForm.Refusal(
                status: .forbidden, heading: "页面已过期", message: "这个页面来自工作台的上一次运行或其他网页；请重新打开后再试。The form is stale; reload the page.")
        }
    }

    /// `name="value"` in a Content-Disposition header (quoted or not). A `;` inside quotes is part
    /// of the value: a file called `报告;终稿.pdf` keeps its name.
    static func parameter(_ wanted: String, in header: String) -> String? {
        var pieces: [Substring] = []
        var start = header.startIndex
        var quoted = false
        for index in header.indices {
            if header[index] == "\"" { quoted.toggle() }
            if header[index] == ";", !quoted {
                pieces.append(header[start..<index])
                start = header.index(after: index)
            }
        }
        pieces.append(header[start...])
        for piece in pieces.dropFirst() {
            let pair = piece.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, pair[0].lowercased() == wanted else { continue }
            var value = String(pair[1])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    /// `a=1&b=x+y` → name → value, percent-decoded (`+` is a space); the last of a repeated name wins.
    static func parseURLEncoded(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            guard let name = parts.first else { continue }
            fields[decode(name)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}

extension MultipartParser {
    /// Every part of a whole multipart body.
    static func collectParts(_ body: ByteBuffer, boundary: String) throws -> [MultipartPart] {
        let parser = MultipartParser(boundary: boundary)
        var parts: [MultipartPart] = []
        var headers = HTTPHeaders()
        var bytes = ByteBuffer()
        parser.onHeader = { name, value in headers.add(name: name, value: value) }
        parser.onBody = { chunk in bytes.writeBuffer(&chunk) }
        parser.onPartComplete = {
            parts.append(MultipartPart(headers: headers, body: bytes))
            headers = HTTPHeaders()
            bytes = ByteBuffer()
        }
        try parser.execute(body)
        return parts
    }
}
