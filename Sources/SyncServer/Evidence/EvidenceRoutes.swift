import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SyncCore

/// `/v1/evidence/…`: tus uploads of evidence files by school devices and downloads by the school
/// and the bureau (PROTOCOL.md §13).
struct EvidenceRoutes {
    let uploads: EvidenceUploads
    let bodyReader: RequestBodyReader

    var store: any EvidenceStore { uploads.store }

    func register(on router: Router<SyncRequestContext>) {
        // Discovery needs no token (tus core: OPTIONS may be sent by anyone).
        router.on("v1/evidence/uploads", method: .options, use: options)
        router.authenticated("v1/evidence/uploads")
            .add(middleware: TusMiddleware())
            .post(use: create)
            .head(":id", use: status)
            .patch(":id", use: patch)
            .post(":id/possession", use: possession)
        router.authenticated("v1/evidence/files")
            .get(":sha256", use: download)
            .head(":sha256", use: download)
    }

    func options(_ request: Request, context: SyncRequestContext) async throws -> Response {
        Response(
            status: .noContent,
            headers: HTTPFields(named: [
                TusProtocol.Header.resumable: TusProtocol.version,
                TusProtocol.Header.version: TusProtocol.version,
                TusProtocol.Header.extension: TusProtocol.extensions,
                TusProtocol.Header.maxSize: String(EvidenceLimits.maxFileBytes),
                TusProtocol.Header.checksumAlgorithm: TusProtocol.checksumAlgorithms,
            ])
        )
    }

    /// `POST /v1/evidence/uploads` (§13.2 creation).
    func create(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let school = try Self.uploadingSchool(context)
        let length = try Self.length(request)
        guard let header = request.headers[named: TusProtocol.Header.metadata], let metadata = TusProtocol.parseMetadata(header) else {
            throw APIError.invalidParameter(
                TusProtocol.Header.metadata,
                "Upload-Metadata is required: comma-separated 'key base64(value)' pairs with at least sha256."
            )
        }
        guard let sha256 = metadata["sha256"], EvidenceItem.isSHA256(sha256) else {
            throw APIError.invalidParameter(TusProtocol.Header.metadata, "Upload-Metadata must carry sha256: the file's SHA-256 as 64 lowercase hex digits.")
        }
        if let declared = metadata["filetype"], !declared.isEmpty, EvidenceType(rawValue: declared) == nil {
            throw EvidenceUploads.unsupportedType
        }
        // For logs only: control characters dropped, 255 scalars at most (a Character can hold thousands).
        let filename = metadata["filename"].map { name in
            String(String.UnicodeScalarView(name.unicodeScalars.filter { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) }.prefix(255)))
        }
        let created = try await uploads.create(school: school, sha256: sha256, length: length, filename: filename)
        let upload = created.upload
        context.logger.info(
            "evidence upload \(created.isNew ? "created" : "found")",
            metadata: ["evidence.sha256": .string(sha256), "evidence.offset": "\(upload.offset)", "evidence.length": "\(upload.length)"]
        )
        var headers = Self.uploadHeaders(upload)
        headers[.location] = "/v1/evidence/uploads/\(upload.id)"
        if let nonce = upload.nonce, !upload.isFinished, upload.offset == 0 { headers[named: TusProtocol.Header.possessionNonce] = nonce }
        return Response(status: .created, headers: headers)
    }

    /// `HEAD /v1/evidence/uploads/<id>`: where the upload stands.
    func status(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let school = try Self.uploadingSchool(context)
        // After a PATCH still storing what it received: its offset is the one to answer.
        let upload = try await uploads.locks.with(id, within: EvidenceUploads.lockWait, busy: EvidenceUploads.busy) {
            try await uploads.upload(id: id, school: school)
        }
        var headers = Self.uploadHeaders(upload)
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers)
    }

    /// `PATCH /v1/evidence/uploads/<id>`: the next bytes.
    func patch(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let school = try Self.uploadingSchool(context)
        guard request.headers[.contentType]?.lowercased() == TusProtocol.patchContentType else {
            throw APIError(.unsupportedMediaType, .unsupportedMediaType, "Send upload bytes as \(TusProtocol.patchContentType).")
        }
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw APIError(.unsupportedMediaType, .unsupportedEncoding, "Upload bytes are sent as they are, without Content-Encoding.")
        }
        guard let offsetText = request.headers[named: TusProtocol.Header.offset], let offset = Self.canonicalInteger(offsetText) else {
            throw APIError.invalidParameter(TusProtocol.Header.offset, "Upload-Offset is required: where these bytes start, in canonical digits.")
        }
        let checksum = try Self.checksum(request)
        let id = try context.parameters.require("id")
        return try await uploads.locks.with(id, within: EvidenceUploads.lockWait, busy: EvidenceUploads.busy) {
            try await patch(request, context: context, id: id, school: school, offset: offset, checksum: checksum)
        }
    }

    private func patch(
        _ request: Request,
        context: AuthenticatedRequestContext,
        id: String,
        school: String,
        offset: Int64,
        checksum: (algorithm: String, digest: [UInt8])?
    ) async throws -> Response {
        let upload = try await uploads.upload(id: id, school: school)
        guard !upload.isFinished, offset == upload.offset else { throw EvidenceUploads.offsetMismatch(upload.offset) }
        if let declared = request.headers[.contentLength].flatMap(Int64.init), declared > upload.length - offset {
            throw APIError(
                .contentTooLarge,
                .fileTooLarge,
                "The body runs past Upload-Length (\(upload.length) bytes, \(upload.length - offset) still to send).",
                details: ["limit": String(upload.length)]
            )
        }
        if checksum != nil, let declared = request.headers[.contentLength].flatMap(Int.init), declared > EvidenceUploads.maxChecksummedBytes {
            throw APIError.bodyTooLarge(limit: EvidenceUploads.maxChecksummedBytes)
        }
        let stored = try await uploads.patch(upload, at: offset, body: request.body, checksum: checksum)
        if stored.isFinished {
            context.logger.info("evidence upload finished", metadata: ["evidence.sha256": .string(stored.sha256), "evidence.length": "\(stored.length)"])
        }
        return Response(status: .noContent, headers: Self.uploadHeaders(stored))
    }

    /// `POST /v1/evidence/uploads/<id>/possession` (§13.3).
    func possession(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        struct Proof: Decodable { let proof: String }
        let id = try context.parameters.require("id")
        let school = try Self.uploadingSchool(context)
        let proof = try await bodyReader.decode(Proof.self, from: request)
        let finished = try await uploads.locks.with(id, within: EvidenceUploads.lockWait, busy: EvidenceUploads.busy) {
            try await uploads.prove(try await uploads.upload(id: id, school: school), proof: proof.proof)
        }
        context.logger.info("evidence possession proved", metadata: ["evidence.sha256": .string(finished.sha256)])
        return Response(status: .noContent, headers: Self.uploadHeaders(finished))
    }

    /// `GET` and `HEAD /v1/evidence/files/<sha256>` (§13.4).
    func download(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        let sha256 = try context.parameters.require("sha256")
        let file = try await Self.readableFile(sha256, by: context.principal, in: store)
        return try await EvidenceDownload(uploads: uploads, file: file, logger: context.logger).response(to: request)
    }

    /// The file `principal` may read (§13.4).
    ///
    /// - Throws: 403 `forbidden` for a device whose school does not have it, whether or not the
    ///   server holds it; 404 `not_found` for bureau and admin when it is not on the server.
    static func readableFile(_ sha256: String, by principal: Principal, in store: any EvidenceStore) async throws -> StoredEvidenceFile {
        guard EvidenceItem.isSHA256(sha256) else {
            throw APIError(.notFound, .notFound, "Evidence files are addressed by their SHA-256: 64 lowercase hex digits.")
        }
        if principal.kind == .device {
            guard let school = principal.schoolID, try await store.evidenceAccess(sha256: sha256, school: school),
                let file = try await store.evidenceFile(sha256: sha256).map(EvidenceUploads.checked)
            else {
                throw APIError.forbidden("This device's school has no such evidence file. A school reads only the files it uploaded.")
            }
            return file
        }
        guard let file = try await store.evidenceFile(sha256: sha256).map(EvidenceUploads.checked) else {
            throw APIError(.notFound, .notFound, "The server does not hold this file (yet): the school has not uploaded it.")
        }
        return file
    }

    private static func uploadingSchool(_ context: AuthenticatedRequestContext) throws -> String {
        guard context.principal.kind == .device, let school = context.principal.schoolID else {
            throw APIError.forbidden("Only school devices upload evidence; bureau and admin users read it.")
        }
        return school
    }

    private static func length(_ request: Request) throws -> Int64 {
        guard let text = request.headers[named: TusProtocol.Header.length], let length = canonicalInteger(text), length >= 1 else {
            throw APIError.invalidParameter(TusProtocol.Header.length, "Upload-Length is required: the file's length in bytes, 1 to \(EvidenceLimits.maxFileBytes).")
        }
        guard length <= Int64(EvidenceLimits.maxFileBytes) else {
            throw APIError(
                .contentTooLarge,
                .fileTooLarge,
                "Evidence files may be at most 25 MiB (\(EvidenceLimits.maxFileBytes) bytes); this one is \(length). Send a smaller scan or photo.",
                details: ["limit": String(EvidenceLimits.maxFileBytes)]
            )
        }
        return length
    }

    private static func checksum(_ request: Request) throws -> (algorithm: String, digest: [UInt8])? {
        guard let header = request.headers[named: TusProtocol.Header.checksum] else { return nil }
        let parts = header.split(separator: " ")
        guard parts.count == 2, let algorithm = parts.first.map(String.init), ["sha1", "sha256"].contains(algorithm),
            let digest = Base64.decode(String(parts[1])), digest.count == (algorithm == "sha1" ? 20 : 32)
        else {
            throw APIError.invalidParameter(TusProtocol.Header.checksum, "Upload-Checksum must be 'sha1 <base64>' or 'sha256 <base64>'.")
        }
        return (algorithm, digest)
    }

    /// A whole number in canonical digits (no sign, no leading zero) that fits an `Int64`.
    static func canonicalInteger(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ (48...57).contains($0) }), text == "0" || !text.hasPrefix("0") else {
            return nil
        }
        return Int64(text)
    }

    private static func uploadHeaders(_ upload: EvidenceUpload) -> HTTPFields {
        var headers = HTTPFields(named: [TusProtocol.Header.offset: String(upload.offset), TusProtocol.Header.length: String(upload.length)])
        if !upload.isFinished { headers[named: TusProtocol.Header.expires] = Self.httpDate(upload.expiresAt) }
        return headers
    }

    /// An RFC 9110 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}

/// Every tus answer says `Tus-Resumable: 1.0.0`, and a request without it is 412 (tus core).
struct TusMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            guard request.headers[named: TusProtocol.Header.resumable] == TusProtocol.version else {
                var error = APIError(
                    .preconditionFailed,
                    .tusVersionUnsupported,
                    "Send Tus-Resumable: \(TusProtocol.version) with every upload request; it is the only tus version spoken."
                )
                error.headers[named: TusProtocol.Header.version] = TusProtocol.version
                throw error
            }
            var response = try await next(request, context)
            response.headers[named: TusProtocol.Header.resumable] = TusProtocol.version
            return response
        } catch var error as APIError {
            error.headers[named: TusProtocol.Header.resumable] = TusProtocol.version
            throw error
        }
    }
}

extension HTTPFields {
    /// Fields named by strings that are valid field names (the protocol's constants); a name that
    /// were not would be left out rather than trap.
    init(named pairs: KeyValuePairs<String, String>) {
        self.init()
        for (name, value) in pairs { self[named: name] = value }
    }

    /// The field named `name`, by its text.
    subscript(named name: String) -> String? {
        get { HTTPField.Name(name).flatMap { self[$0] } }
        set {
            guard let field = HTTPField.Name(name) else { return }
            self[field] = newValue
        }
    }
}
