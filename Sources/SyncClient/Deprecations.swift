// Names a newcomer would have guessed wrong, kept for code written against 0.1 (Hummingbird's
// Deprecations.swift pattern). Each goes in the next minor version.

/// Renamed: a "report" is a school's report in this domain, not what a sync did.
@available(*, deprecated, renamed: "SyncSummary")
public typealias SyncReport = SyncSummary
