import Hummingbird
import SyncCore

/// `/review/evidence/<sha256>`: an evidence file for the signed-in bureau and admin users of the
/// review pages (the session cookie, not a bearer token), so a report's photos show in the page
/// and its other files download from it (PROTOCOL.md §13.4's rules, for staff).
struct EvidencePages {
    let pages: PageRoutes
    let uploads: EvidenceUploads

    func register(on router: Router<SyncRequestContext>) {
        router.signedInPages(pages, for: .staff)
            .get("review/evidence/:sha256", use: file)
            .head("review/evidence/:sha256", use: file)
    }

    func file(_ request: Request, context: PageRequestContext) async throws -> Response {
        let file = try await EvidenceRoutes.readableFile(try context.parameters.require("sha256"), by: context.session.principal, in: uploads.store)
        // Pictures show in the page; anything else is offered as a download, never rendered.
        let inline = EvidenceType(rawValue: file.type)?.isImage == true
        return try await EvidenceDownload(uploads: uploads, file: file, disposition: inline ? "inline" : "attachment", logger: context.logger).response(to: request)
    }
}
