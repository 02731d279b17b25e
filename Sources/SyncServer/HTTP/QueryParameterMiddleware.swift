import Hummingbird

/// PROTOCOL.md §4 "Query parameters": a `/v1` endpoint refuses a query parameter it does not
/// define, and one given twice, with 400 `invalid_parameter` naming it. A client that believes it
/// asked for something (`scope=` to filter a pull, a misspelt `limt=`) learns at once that it did
/// not, instead of receiving an answer to a different question. One list here, for every endpoint.
struct QueryParameterMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The parameters each `/v1` path takes; every other `/v1` path takes none.
    static func parameters(of path: Substring) -> [String] {
        switch path {
        case "/v1/pull": ["since", "limit", "wait", "replica", "receipt"]
        case "/v1/conflicts": ["school", "collection", "limit", "after", "before"]
        case "/v1/bureau/summary": ["period"]
        default: path.hasPrefix("/v1/history/") ? ["limit", "after"] : []
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let query = request.uri.query, !query.isEmpty else { return try await next(request, context) }
        // The router ignores empty segments (`//v1/pull`, `/v1/pull/` reach the pull route), so
        // the path is matched the same way.
        let path = Substring("/" + request.uri.path.split(separator: "/").joined(separator: "/"))
        guard path.hasPrefix("/v1/") else { return try await next(request, context) }
        let known = Self.parameters(of: path)
        var seen: Set<Substring> = []
        for (name, _) in request.uri.queryParameters {
            guard known.contains(String(name)) else {
                let takes = known.isEmpty ? "takes no query parameters" : "takes only \(known.joined(separator: ", "))"
                throw APIError.invalidParameter(String(name.prefix(64)), "'\(name.prefix(64))' is not a parameter of \(path); it \(takes) (PROTOCOL.md §4).")
            }
            guard seen.insert(name).inserted else {
                throw APIError.invalidParameter(String(name), "'\(name)' is given twice; give it once.")
            }
        }
        return try await next(request, context)
    }
}
