/// The catalog file format (`Catalog/README.md`): plans → areas → measures → indicators, as
/// extracted from the seed documents. Keys the importer does not use are allowed and ignored.
public struct CatalogDocument: Sendable, Decodable {
    public var format: String
    public var plans: [Plan]

    public struct Period: Sendable, Decodable {
        public var start: Int
        public var end: Int
    }

    public struct Plan: Sendable, Decodable {
        public var id: String
        public var title: String
        public var issuer: String?
        public var region: String?
        public var doc_no: String?
        public var period: Period
        public var areas: [Area]
    }

    public struct Responsible: Sendable, Decodable {
        public var name: String
        public var role: String
    }

    public struct Area: Sendable, Decodable {
        public var id: String
        public var orig_no: String?
        public var title: String
        public var kind: String
        public var measures: [Measure]
    }

    public struct Measure: Sendable, Decodable {
        public var id: String
        public var orig_no: String?
        public var title: String
        public var summary: String?
        public var responsible: [Responsible]?
        public var synthetic: Bool?
        public var indicators: [Indicator]
    }

    public struct Indicator: Sendable, Decodable {
        public var id: String
        public var name: String
        public var target: Double?
        public var unit: String?
        public var comparison: String?
        public var strict: Bool?
        public var deadline: Int?
        public var deadline_month: String?
        public var kind: String
        public var level: String?
        public var recurrence: String?
        public var approx: Bool?
        public var source_text: String
    }
}
