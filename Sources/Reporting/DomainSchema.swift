import SyncCore

/// SchoolSync's collections and the columns each shows in a replica's SQL tables.
///
/// Catalog collections (plans, measures, indicators, schools, periods) are published by the
/// bureau; school collections (assignments, reports, indicator values) live in each school's scope.
/// Values that only make sense together are one JSON field (DESIGN §4 invariant 7): an indicator
/// value keeps numerator and denominator in `value`; a report's evidence list keeps each file's
/// name with its SHA-256.
public enum DomainSchema {
    /// `plans` (DOMAIN-PROTOCOL.md §4.1): one catalog record per plan; `period_start` and `period_end` are
    /// years, `document` is the plan's document number (星政发〔2024〕4号).
    public static let plans = CollectionSchema(
        "plans",
        scope: .catalog,
        columns: [
            .init("title", .text), .init("issuer", .text), .init("region", .text),
            .init("period_start", .integer), .init("period_end", .integer), .init("document", .text),
        ]
    )

    /// `measures` (DOMAIN-PROTOCOL.md §4.2): one catalog record per measure; `cooperating_units` is JSON
    /// text holding an array of strings, `lead_unit` the lead units joined by 、.
    public static let measures = CollectionSchema(
        "measures",
        scope: .catalog,
        columns: [
            .init("plan_id", .text), .init("area", .text), .init("code", .text), .init("title", .text),
            .init("summary", .text), .init("lead_unit", .text), .init("cooperating_units", .json),
        ]
    )

    /// `indicators` (DOMAIN-PROTOCOL.md §4.3): one catalog record per indicator; `target` is a decimal number
    /// in text, `value_kind` an ``IndicatorKind`` raw value, `deadline` a year or a `YYYY-MM` month.
    public static let indicators = CollectionSchema(
        "indicators",
        scope: .catalog,
        columns: [
            .init("plan_id", .text), .init("measure_id", .text), .init("name", .text), .init("unit", .text),
            .init("kind", .text), .init("target", .text), .init("comparison", .text), .init("deadline", .text),
            .init("level", .text), .init("source_text", .text), .init("value_kind", .text), .init("approx", .bool),
            .init("recurrence", .text),
        ]
    )

    /// `schools` (DOMAIN-PROTOCOL.md §4.4): one catalog record per school, keyed by the school id; `township`
    /// is the middle level of the summary's roll-up school → township → county.
    public static let schools = CollectionSchema(
        "schools",
        scope: .catalog,
        columns: [.init("name", .text), .init("type", .text), .init("township", .text), .init("rural", .bool)]
    )

    /// `periods` (DOMAIN-PROTOCOL.md §4.5): keyed by a period (`2025-S1`, `2025`); `due` is the `YYYY-MM-DD`
    /// date after which unsubmitted reports are late.
    public static let periods = CollectionSchema(
        "periods",
        scope: .catalog,
        columns: [.init("kind", .text), .init("starts", .text), .init("ends", .text), .init("due", .text)]
    )

    /// `assignments` (DOMAIN-PROTOCOL.md §5): in `school:<school>`, id `<school>/<measure>`; `school_id` and
    /// `measure_id` repeat the id's parts. Written only by the bureau.
    public static let assignments = CollectionSchema(
        "assignments",
        scope: .school,
        columns: [.init("school_id", .text), .init("measure_id", .text), .init("note", .text)]
    )

    /// `reports` (DOMAIN-PROTOCOL.md §6): in `school:<school>`, id `<school>/<period>/<measure>`; `evidence` and
    /// `approval` are JSON text, `workflow` one of ``RecordRules/workflows``; `proposal` is the school's
    /// proposal for settling a conflict, which the administrator sees beside it.
    public static let reports = CollectionSchema(
        "reports",
        scope: .school,
        columns: [
            .init("school_id", .text), .init("measure_id", .text), .init("period", .text), .init("status", .text),
            .init("narrative", .text), .init("evidence", .json), .init("workflow", .text),
            .init("submitted_at", .text), .init("author", .text), .init("approval", .json), .init("review_comment", .text),
            .init("reviewer", .text), .init("proposal", .text),
        ]
    )

    /// `indicator_values` (DOMAIN-PROTOCOL.md §7): in `school:<school>`, id `<school>/<period>/<indicator>`;
    /// `value` is JSON text in the shape of the indicator's kind (see ``IndicatorValue``).
    public static let indicatorValues = CollectionSchema(
        "indicator_values",
        scope: .school,
        columns: [
            .init("school_id", .text), .init("indicator_id", .text), .init("measure_id", .text), .init("period", .text),
            .init("value", .json), .init("note", .text),
        ]
    )

    /// Every collection, in the order a replica creates their tables.
    public static let all: [CollectionSchema] = [plans, measures, indicators, schools, periods, assignments, reports, indicatorValues]
}
