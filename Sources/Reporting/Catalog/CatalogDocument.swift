/// The catalog file format (`Catalog/README.md`): plans → areas → measures → indicators, as
/// extracted from the seed documents. Keys the importer does not use are allowed and ignored.
///
/// Property names follow the file's keys (`doc_no`, `orig_no`, `source_text`), so the decoder
/// needs no `CodingKeys`. Read one with ``CatalogImporter/load(_:file:)``, which also checks it.
public struct CatalogDocument: Sendable, Decodable {
    /// The format tag; ``CatalogImporter/load(_:file:)`` accepts only `schoolsync-catalog/1`.
    public var format: String
    /// The plans of the file, in file order.
    public var plans: [Plan]

    /// A plan's span in whole years, both ends included; `start` ≤ `end`.
    public struct Period: Sendable, Decodable {
        /// The first year, e.g. 2024.
        public var start: Int
        /// The last year, e.g. 2026.
        public var end: Int
    }

    /// One plan (规划/行动方案): becomes a `plans` record (DOMAIN-PROTOCOL.md §4.1).
    public struct Plan: Sendable, Decodable {
        /// The catalog id, unique in the file, 1–128 bytes, e.g. `qixing-2024`.
        public var id: String
        /// The plan's title.
        public var title: String
        /// The issuing body, e.g. 桂林市七星区人民政府.
        public var issuer: String?
        /// The county or district.
        public var region: String?
        /// The document number, e.g. 星政发〔2024〕4号; stored as the record's `document` field.
        public var doc_no: String?
        /// The years the plan covers.
        public var period: Period
        /// The plan's programme areas, in document order.
        public var areas: [Area]
    }

    /// A unit named responsible for a measure.
    public struct Responsible: Sendable, Decodable {
        /// The unit, e.g. 区教育局.
        public var name: String
        /// `lead` or `responsible` (stored in `lead_unit`), or `cooperate` (stored in `cooperating_units`).
        public var role: String
    }

    /// A programme area of a plan: a heading of the document that groups measures.
    public struct Area: Sendable, Decodable {
        /// The catalog id; each of its measures' ids starts with it and a dot.
        public var id: String
        /// The document's numbering, e.g. （一）.
        public var orig_no: String?
        /// The heading; stored as a measure's `area` field.
        public var title: String
        /// `goals`, `program`, `policy`, `system` or `safeguard` (`Catalog/README.md`).
        public var kind: String
        /// The area's measures, in document order.
        public var measures: [Measure]
    }

    /// A measure (措施): what schools are assigned and report on; becomes a `measures` record
    /// (DOMAIN-PROTOCOL.md §4.2).
    public struct Measure: Sendable, Decodable {
        /// The catalog id, `<area id>.<suffix>`, e.g. `qixing-2024.a1.m2`.
        public var id: String
        /// The document's numbering within the area; joined after the area's to make `code`.
        public var orig_no: String?
        /// The title shown to schools and in the summary.
        public var title: String
        /// A longer description, when the document gives one.
        public var summary: String?
        /// The responsible units, when the document names them.
        public var responsible: [Responsible]?
        /// Whether the extraction added the measure (a `…m0` that holds an area's own indicators).
        public var synthetic: Bool?
        /// The measure's indicators (指标).
        public var indicators: [Indicator]
    }

    /// An indicator (指标): a figure with a target; becomes an `indicators` record
    /// (DOMAIN-PROTOCOL.md §4.3).
    public struct Indicator: Sendable, Decodable {
        /// The catalog id, unique in the file, 1–128 bytes.
        public var id: String
        /// The indicator's name, e.g. 学前教育毛入园率.
        public var name: String
        /// The target as the text gives it, in `unit`; required when `kind` is `quantitative`, finite.
        public var target: Double?
        /// The unit, e.g. `%`, `所`, `万元`, `系数`; it decides the ``IndicatorKind``.
        public var unit: String?
        /// `>=`, `<=` or `=`; absent means `=`.
        public var comparison: String?
        /// Whether the comparison is strict (低于/高于/超过): `>=` becomes `>`, `<=` becomes `<`.
        public var strict: Bool?
        /// The year the target is due, or nil.
        public var deadline: Int?
        /// The month the target is due, `YYYY-MM`, when the text gives one; wins over `deadline`.
        public var deadline_month: String?
        /// The document's kind: `quantitative`, `milestone`, `trend` or `relative`.
        public var kind: String
        /// The administrative level the figure is measured at, e.g. `district`; informative.
        public var level: String?
        /// How often it is measured, when the text says; informative.
        public var recurrence: String?
        /// Whether the target is approximate (约, 预计).
        public var approx: Bool?
        /// The fragment of the document the indicator comes from.
        public var source_text: String
    }
}
