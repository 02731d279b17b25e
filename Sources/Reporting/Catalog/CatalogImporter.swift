import Foundation
import SyncCore

/// A catalog file that cannot be imported: which file, where in it, and what is wrong.
///
/// Its ``description`` is one line, for example
/// `plans.json: .plans[0].areas[2].measures[1].indicators[0].kind: unknown kind "goal"; use one of …`
/// (`Catalog/README.md`).
public struct CatalogError: Error, Sendable, CustomStringConvertible {
    /// The file's name as the caller gave it to ``CatalogImporter/load(_:file:)``.
    public var file: String
    /// The JSON path of the offending value, like `.plans[0].period`; empty for the whole file.
    public var path: String
    /// What is wrong and, where there is a fixed list, what is allowed.
    public var problem: String

    /// `file: path: problem`, with `(top level)` for an empty path.
    public var description: String { "\(file): \(path.isEmpty ? "(top level)" : path): \(problem)" }
}

/// One record the bureau publishes, ready to write into its replica.
public struct PublishedRecord: Sendable, Hashable {
    /// The collection (`plans`, `measures` or `indicators`) and the catalog id.
    public var key: RecordKey
    /// Always `Scope.catalog`: catalog records are readable by every device (DOMAIN-PROTOCOL.md §1).
    public var scope: Scope
    /// The fields to write, named and typed as ``DomainSchema`` gives them; absent values are `.null`.
    public var values: [String: Value]
}

/// Reads catalog files and turns plans, measures and indicators into catalog records.
///
/// For example:
///
/// ```swift
/// let document = try CatalogImporter.load(try Data(contentsOf: url), file: "plans.json")
/// for record in CatalogImporter.records(of: document) {
///     try await replica.write(record.key, record.values, scope: record.scope)  // a SyncClient LocalReplica
/// }
/// ```
public enum CatalogImporter {
    static let kinds: Set = ["quantitative", "milestone", "trend", "relative"]
    static let comparisons: Set = [">=", "<=", "="]
    static let areaKinds: Set = ["goals", "program", "policy", "system", "safeguard"]

    /// Decodes and checks a catalog file; every error names the file, the JSON path and the problem.
    ///
    /// The checks are those of `Catalog/README.md`: the format tag, ids unique and 1–128 bytes
    /// (`SyncLimits.maxIDBytes`), each measure's id under its area's, the period's years in order,
    /// known area and indicator kinds and comparisons, a finite target wherever one is given and one
    /// for every quantitative indicator.
    ///
    /// - Parameters:
    ///   - data: the file's bytes, UTF-8 JSON.
    ///   - file: the name to put in errors.
    /// - Throws: ``CatalogError`` for JSON that does not decode or a document that breaks a rule; the
    ///   first problem found is thrown.
    public static func load(_ data: Data, file: String) throws(CatalogError) -> CatalogDocument {
        let document: CatalogDocument
        do {
            document = try JSONDecoder().decode(CatalogDocument.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, file: file)
        } catch {
            throw CatalogError(file: file, path: "", problem: "not a catalog: \(error)")
        }
        guard document.format == "schoolsync-catalog/1" else {
            throw CatalogError(file: file, path: ".format", problem: "expected \"schoolsync-catalog/1\", found \"\(document.format)\"")
        }
        var ids = Set<String>()
        func unique(_ id: String, _ path: String) throws(CatalogError) {
            guard !id.isEmpty, id.utf8.count <= SyncLimits.maxIDBytes else {
                throw CatalogError(file: file, path: path, problem: "an id must be 1–128 bytes")
            }
            guard ids.insert(id).inserted else { throw CatalogError(file: file, path: path, problem: "id \"\(id)\" is used twice") }
        }
        for (p, plan) in document.plans.enumerated() {
            let planPath = ".plans[\(p)]"
            try unique(plan.id, planPath + ".id")
            guard plan.period.start <= plan.period.end else {
                throw CatalogError(file: file, path: planPath + ".period", problem: "the period starts after it ends")
            }
            for (a, area) in plan.areas.enumerated() {
                let areaPath = "\(planPath).areas[\(a)]"
                try unique(area.id, areaPath + ".id")
                guard areaKinds.contains(area.kind) else {
                    throw CatalogError(
                        file: file,
                        path: areaPath + ".kind",
                        problem: "unknown area kind \"\(area.kind)\"; use one of \(areaKinds.sorted())"
                    )
                }
                for (m, measure) in area.measures.enumerated() {
                    let measurePath = "\(areaPath).measures[\(m)]"
                    try unique(measure.id, measurePath + ".id")
                    guard measure.id.hasPrefix(area.id + ".") else {
                        throw CatalogError(
                            file: file,
                            path: measurePath + ".id",
                            problem: "measure \"\(measure.id)\" does not belong to area \"\(area.id)\""
                        )
                    }
                    for (i, indicator) in measure.indicators.enumerated() {
                        let path = "\(measurePath).indicators[\(i)]"
                        try unique(indicator.id, path + ".id")
                        guard kinds.contains(indicator.kind) else {
                            throw CatalogError(
                                file: file,
                                path: path + ".kind",
                                problem: "unknown kind \"\(indicator.kind)\"; use one of \(kinds.sorted())"
                            )
                        }
                        if let comparison = indicator.comparison, !comparisons.contains(comparison) {
                            throw CatalogError(
                                file: file,
                                path: path + ".comparison",
                                problem: "unknown comparison \"\(comparison)\"; use >=, <= or ="
                            )
                        }
                        if indicator.kind == "quantitative", indicator.target == nil {
                            throw CatalogError(file: file, path: path + ".target", problem: "a quantitative indicator needs a target")
                        }
                        if let target = indicator.target, !target.isFinite {
                            throw CatalogError(file: file, path: path + ".target", problem: "the target must be a finite number")
                        }
                    }
                }
            }
        }
        return document
    }

    /// The catalog records of a document: one per plan, measure and indicator, in that order within
    /// each plan.
    ///
    /// Fields are those of DOMAIN-PROTOCOL.md §4.1–§4.3: a measure's `code` joins its area's and its
    /// own numbering; `comparison` folds `strict` in (`>`, `<`); `target` is the number in text (100,
    /// not 100.0); `value_kind` is derived from unit, name and kind as ``IndicatorKind`` says.
    /// Call it only on a document ``load(_:file:)`` returned.
    public static func records(of document: CatalogDocument) -> [PublishedRecord] {
        var records: [PublishedRecord] = []
        for plan in document.plans {
            records.append(
                PublishedRecord(
                    key: RecordKey(collection: "plans", id: plan.id),
                    scope: .catalog,
                    values: [
                        "title": .string(plan.title), "issuer": plan.issuer.map(Value.string) ?? .null,
                        "region": plan.region.map(Value.string) ?? .null, "document": plan.doc_no.map(Value.string) ?? .null,
                        "period_start": .int(Int64(plan.period.start)), "period_end": .int(Int64(plan.period.end)),
                    ]
                )
            )
            for area in plan.areas {
                for measure in area.measures {
                    let lead = measure.responsible?.filter { $0.role == "lead" || $0.role == "responsible" }.map(\.name) ?? []
                    let cooperating = measure.responsible?.filter { $0.role == "cooperate" }.map(\.name) ?? []
                    records.append(
                        PublishedRecord(
                            key: RecordKey(collection: "measures", id: measure.id),
                            scope: .catalog,
                            values: [
                                "plan_id": .string(plan.id), "area": .string(area.title),
                                "code": .string([area.orig_no, measure.orig_no].compactMap { $0 }.joined()),
                                "title": .string(measure.title), "summary": measure.summary.map(Value.string) ?? .null,
                                "lead_unit": lead.isEmpty ? .null : .string(lead.joined(separator: "、")),
                                "cooperating_units": .string(jsonArray(cooperating)),
                            ]
                        )
                    )
                    for indicator in measure.indicators {
                        records.append(
                            PublishedRecord(
                                key: RecordKey(collection: "indicators", id: indicator.id),
                                scope: .catalog,
                                values: [
                                    "plan_id": .string(plan.id), "measure_id": .string(measure.id), "name": .string(indicator.name),
                                    "unit": indicator.unit.map(Value.string) ?? .null, "kind": .string(indicator.kind),
                                    "target": indicator.target.map { .string(format($0)) } ?? .null,
                                    "comparison": .string(comparison(indicator)),
                                    "deadline": (indicator.deadline_month ?? indicator.deadline.map(String.init)).map(Value.string) ?? .null,
                                    "level": indicator.level.map(Value.string) ?? .null, "source_text": .string(indicator.source_text),
                                    "value_kind": .string(IndicatorKind(indicator).rawValue), "approx": .bool(indicator.approx ?? false),
                                    "recurrence": indicator.recurrence.map(Value.string) ?? .null,
                                ]
                            )
                        )
                    }
                }
            }
        }
        return records
    }

    /// `>=` etc., with strictness folded in (`>` for 高于/超过, `<` for 低于).
    static func comparison(_ indicator: CatalogDocument.Indicator) -> String {
        switch (indicator.comparison ?? "=", indicator.strict ?? false) {
        case (">=", true): ">"
        case ("<=", true): "<"
        case (let comparison, _): comparison
        }
    }

    /// A number as the document wrote it: 100, not 100.0.
    static func format(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }

    static func jsonArray(_ items: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(items), as: UTF8.self)) ?? "[]"
    }

    static func describe(_ error: DecodingError, file: String) -> CatalogError {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .typeMismatch(let type, let context):
            return CatalogError(file: file, path: path(context.codingPath), problem: "expected \(type)")
        case .valueNotFound(let type, let context):
            return CatalogError(file: file, path: path(context.codingPath), problem: "missing \(type)")
        case .keyNotFound(let key, let context):
            return CatalogError(file: file, path: path(context.codingPath + [key]), problem: "missing key")
        case .dataCorrupted(let context):
            return CatalogError(
                file: file,
                path: path(context.codingPath),
                problem: context.codingPath.isEmpty ? "not valid JSON" : context.debugDescription
            )
        @unknown default:
            return CatalogError(file: file, path: "", problem: "cannot be read")
        }
    }
}
