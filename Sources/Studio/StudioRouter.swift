import Glibc
import HTTP

/// Maps request paths to Studio routes (docs/ARCHITECTURE.md, «Routes»). Pure: no I/O, no state.
/// Works on the path's UTF-8 bytes: it runs for every request, hits included.
public enum StudioRouter {
    /// Shared method lists, so matching a route allocates none.
    enum Methods {
        static let get: [HTTPMethod] = [.get]
        static let post: [HTTPMethod] = [.post]
        static let getPost: [HTTPMethod] = [.get, .post]
        static let getDelete: [HTTPMethod] = [.get, .delete]
        static let getPostDelete: [HTTPMethod] = [.get, .post, .delete]
    }

    public enum Match: Equatable, Sendable {
        case route(StudioRoute)
        /// Not a Studio path, or a malformed SID: Twilio-style 404 without an upstream call.
        case notFound
    }

    public static func match(path: String) -> Match {
        var bytes = path
        return bytes.withUTF8 { match(bytes: $0, path: path) }
    }

    /// `path`'s bytes, and `path` itself for the route to keep (the caller holds both already).
    static func match(bytes: UnsafeBufferPointer<UInt8>, path: String) -> Match {
        guard bytes.first == UInt8(ascii: "/") else { return .notFound }
        // Segment bounds on the stack: at most 8 segments, none empty.
        return withUnsafeTemporaryAllocation(of: Range<Int>.self, capacity: 8) { bounds in
            var count = 0
            var start = 1
            while true {
                let end =
                    memchr(bytes.baseAddress! + start, Int32(UInt8(ascii: "/")), bytes.count - start)
                    .map { UnsafeRawPointer(bytes.baseAddress!).distance(to: UnsafeRawPointer($0)) } ?? bytes.count
                guard end > start, count < 8 else { return .notFound }
                bounds[count] = start..<end
                count += 1
                if end == bytes.count { break }
                start = end + 1
            }
            return match(
                segments: Segments(bytes: bytes, bounds: UnsafeBufferPointer(rebasing: bounds[..<count])), path: path)
        }
    }

    /// A path's segments as slices of its bytes.
    private struct Segments {
        let bytes: UnsafeBufferPointer<UInt8>
        let bounds: UnsafeBufferPointer<Range<Int>>

        var count: Int { bounds.count }
        subscript(index: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[bounds[index]]) }

        func `is`(_ index: Int, _ literal: StaticString) -> Bool {
            let segment = self[index]
            return segment.count == literal.utf8CodeUnitCount
                && memcmp(segment.baseAddress!, literal.utf8Start, segment.count) == 0
        }
    }

    private static func match(segments: Segments, path: String) -> Match {
        guard segments.count >= 2, segments.is(1, "Flows") else { return .notFound }
        let version: StudioRoute.Version
        if segments.is(0, "v1") {
            version = .v1
        } else if segments.is(0, "v2") {
            version = .v2
        } else {
            return .notFound
        }
        // The segments after /vN/Flows, counted from 0.
        let restCount = segments.count - 2
        func part(_ index: Int) -> UnsafeBufferPointer<UInt8> { segments[index + 2] }
        func sid(_ index: Int, _ prefix: StaticString) -> SID? { SID(bytes: part(index), prefix: prefix) }
        func literal(_ index: Int, _ text: StaticString) -> Bool { segments.is(index + 2, text) }

        func route(
            _ resource: StudioRoute.Resource, _ methods: [HTTPMethod], flow: SID? = nil, execution: SID? = nil,
            step: SID? = nil, engagements: Bool = false
        ) -> Match {
            .route(
                StudioRoute(
                    version: version, resource: resource, flow: flow, execution: execution, step: step,
                    viaEngagements: engagements, allowedMethods: methods, requestPath: path))
        }

        // /vN/Flows and the flow-level admin paths.
        if restCount == 0 { return route(.flowAdmin, version == .v1 ? Methods.get : Methods.getPost) }
        if version == .v2, restCount == 1, literal(0, "Validate") { return route(.flowAdmin, Methods.post) }
        guard let flow = sid(0, "FW") else { return .notFound }
        if restCount == 1 {
            return route(.flowAdmin, version == .v1 ? Methods.getDelete : Methods.getPostDelete, flow: flow)
        }
        if version == .v2 {
            if restCount == 2, literal(1, "Revisions") { return route(.flowAdmin, Methods.get, flow: flow) }
            if restCount == 2, literal(1, "TestUsers") { return route(.flowAdmin, Methods.getPost, flow: flow) }
            if restCount == 3, literal(1, "Revisions"),
                part(2).allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) })
            {
                return route(.flowAdmin, Methods.get, flow: flow)
            }
        }

        // The Executions family, and on v1 its Engagement twin.
        let engagements = literal(1, "Engagements")
        guard literal(1, "Executions") || (engagements && version == .v1) else { return .notFound }
        if restCount == 2 { return route(.executionList, Methods.getPost, flow: flow, engagements: engagements) }
        guard let execution = sid(2, "FN") else { return .notFound }
        switch restCount {
        case 3:
            // Engagements could be deleted but never updated.
            return route(
                .execution, engagements ? Methods.getDelete : Methods.getPostDelete,
                flow: flow, execution: execution, engagements: engagements)
        case 4 where literal(3, "Context"):
            return route(.executionContext, Methods.get, flow: flow, execution: execution, engagements: engagements)
        case 4 where literal(3, "Steps"):
            return route(.stepList, Methods.get, flow: flow, execution: execution, engagements: engagements)
        case 5 where literal(3, "Steps"):
            guard let step = sid(4, "FT") else { return .notFound }
            return route(.step, Methods.get, flow: flow, execution: execution, step: step, engagements: engagements)
        case 6 where literal(3, "Steps") && literal(5, "Context"):
            guard let step = sid(4, "FT") else { return .notFound }
            return route(
                .stepContext, Methods.get, flow: flow, execution: execution, step: step, engagements: engagements)
        default:
            return .notFound
        }
    }
}
