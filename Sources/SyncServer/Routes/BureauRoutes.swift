import Foundation
import Hummingbird
import Reporting
import SyncCore

/// `/v1/bureau/summary`: each indicator against its target and each measure's reporting progress
/// for one period, for bureau and admin users.
struct BureauRoutes {
    let store: any SyncStore
    /// Today's date, for calling unsubmitted reports late; the only wall-clock use in the summary.
    let today: @Sendable () -> Date

    func register(on router: Router<SyncRequestContext>) {
        router.authorized("v1/bureau", for: .staff, to: "see the bureau summary")
            .get("summary", use: summary)
    }

    func summary(_ request: Request, context: AuthenticatedRequestContext) async throws -> Response {
        guard let period = request.uri.queryParameters["period"].map(String.init), RecordRules.isPeriod(period) else {
            throw APIError.invalidParameter("period", "'period' is required: a term like 2025-S1 or a year like 2025.")
        }
        let summary = try await makeSummary(period: period)
        return try JSONResponse.make(summary, for: request)
    }

    func makeSummary(period: String) async throws -> BureauSummary {
        let records = try await store.records(
            in: ["schools", "measures", "indicators", "periods", "assignments", "reports", "indicator_values"],
            periodCollections: ["reports", "indicator_values"],
            period: period
        )
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return Aggregator.summarize(SummaryInput(records: records, period: period, asOf: formatter.string(from: today())))
    }
}
