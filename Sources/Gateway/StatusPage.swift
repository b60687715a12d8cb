import Glibc

/// `GET /admin/`: one server-rendered HTML page of what the gateway is doing, from
/// `StatusFigures` alone. No script and no external asset (inline CSS, an inline SVG chart); it
/// refreshes itself every 10 s. Every value that is not a number the page made is HTML-escaped:
/// user agents and SIDs in the Engagement report come from clients.
enum StatusPage {
    static func render(_ figures: StatusFigures) -> String {
        var html = ""
        html.reserveCapacity(16_384 + figures.engagements.callers.count * 320)
        html += """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="10">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>StudioGate status</title>
            <style>\(style)</style></head><body>
            <header><h1>StudioGate</h1><p>version <b id="version">\(escaped(figures.version))</b> · up \
            <b id="uptime">\(duration(figures.uptimeSeconds))</b> · \(escaped(Logger.timestamp(epochSeconds: figures.renderedAt)))</p></header>
            <main>
            """
        cache(figures, into: &html)
        levels(figures, into: &html)
        chart(figures.intervals, into: &html)
        routes(figures.routes, into: &html)
        upstream(figures, into: &html)
        fleet(figures.fleet, into: &html)
        engagements(figures.engagements, into: &html)
        settings(figures.settings, into: &html)
        html += "</main></body></html>\n"
        return html
    }

    private static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}\
        header{background:#1d2430;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}\
        header p{margin:4px 0 0;color:#c9d1dc}main{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));\
        gap:16px;padding:16px 24px}section{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 16px}\
        section.wide{grid-column:1/-1}h2{font-size:15px;margin:0 0 8px}table{border-collapse:collapse;width:100%}\
        th,td{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid #eef1f4;vertical-align:top}\
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px;word-break:break-all}\
        .bar{background:#eef1f4;height:10px;border-radius:5px;overflow:hidden}.bar i{display:block;height:100%;background:#2f7ed8}\
        .warn{color:#b3261e;font-weight:600}.ok{color:#1e7a34;font-weight:600}svg text{font-size:11px;fill:#556}
        """

    // MARK: sections

    private static func cache(_ figures: StatusFigures, into html: inout String) {
        let used = figures.budget > 0 ? Double(figures.bytes) / Double(figures.budget) : 0
        html += """
            <section><h2>Cache</h2><table>
            <tr><th>entries</th><td class="n" id="entries">\(figures.entries)</td></tr>
            <tr><th>bytes / budget</th><td class="n"><span id="bytes">\(figures.bytes)</span> / \
            <span id="budget">\(figures.budget)</span> (\(bytes(figures.bytes)) of \(bytes(figures.budget)), \
            \(percent(used)))</td></tr>
            <tr><td colspan="2"><div class="bar"><i style="width:\(fixed(min(used, 1) * 100, 1))%"></i></div></td></tr>
            <tr><th>evictions</th><td class="n" id="evictions">\(figures.evictions)</td></tr>
            <tr><th>inflated copies</th><td class="n">\(bytes(figures.inflatedBytes))</td></tr>
            <tr><th>coalesced waits</th><td class="n">\(figures.coalescedWaits)</td></tr>
            <tr><th>open connections / in flight</th><td class="n">\(figures.openConnections) / \(figures.requestsInFlight)</td></tr>
            <tr><th>verified credentials</th><td class="n">\(figures.verifiedCredentials)</td></tr>
            </table></section>
            """
    }

    private static func levels(_ figures: StatusFigures, into html: inout String) {
        html += """
            <section><h2>Hit ratio by level</h2><table>
            <tr><th>level</th><th class="n">hits</th><th class="n">looked up</th><th class="n">ratio</th></tr>
            """
        for level in figures.levels {
            let name = escaped(level.name)
            html += """
                <tr><td>\(name)</td><td class="n" id="level-\(name)-hits">\(level.hits)</td>\
                <td class="n" id="level-\(name)-lookups">\(level.lookups)</td>\
                <td class="n" id="level-\(name)-ratio">\(ratio(level.hits, level.lookups))</td></tr>\n
                """
        }
        if figures.fleet == nil {
            html += "<tr><td colspan=\"4\">L2: no fleet (<code>--redis</code> unset)</td></tr>\n"
        }
        html += "</table></section>\n"
    }

    /// Request rate as bars and hit ratio as a line, one point per 10-s sample.
    private static func chart(_ intervals: [RateHistory.Interval], into html: inout String) {
        let (width, height, left, bottom) = (600.0, 140.0, 44.0, 18.0)
        let peak = max(intervals.map(\.rate).max() ?? 0, 1)
        let step = (width - left) / Double(max(intervals.count, 1))
        html += """
            <section><h2>Last \(duration(intervals.reduce(0) { $0 + $1.seconds })): request rate and hit ratio</h2>
            <svg id="chart" viewBox="0 0 \(Int(width)) \(Int(height))" width="100%" role="img" \
            aria-label="request rate (bars) and hit ratio (line)">
            <text x="0" y="12">\(fixed(peak, 1))/s</text><text x="0" y="\(Int(height - bottom))">0</text>
            <line x1="\(Int(left))" y1="\(Int(height - bottom))" x2="\(Int(width))" y2="\(Int(height - bottom))" stroke="#99a"/>
            """
        var line: [String] = []
        for (index, interval) in intervals.enumerated() {
            let x = left + Double(index) * step
            let barHeight = (height - bottom - 4) * interval.rate / peak
            html += """
                <rect x="\(fixed(x + 1, 1))" y="\(fixed(height - bottom - barHeight, 1))" width="\(fixed(max(step - 2, 1), 1))" \
                height="\(fixed(barHeight, 1))" fill="#9cc3ef"><title>\(fixed(interval.rate, 2)) requests/s</title></rect>
                """
            if let hitRatio = interval.hitRatio {
                line.append(
                    "\(fixed(x + step / 2, 1)),\(fixed((height - bottom) - (height - bottom - 4) * hitRatio, 1))")
            }
        }
        if !line.isEmpty {
            html +=
                "<polyline points=\"\(line.joined(separator: " "))\" fill=\"none\" stroke=\"#1e7a34\" stroke-width=\"2\"/>"
        }
        html += """
            <text x="\(Int(width - 160))" y="\(Int(height - 2))">bars: requests/s · line: hit ratio</text></svg>
            </section>\n
            """
    }

    private static func routes(_ routes: [StatusFigures.Route], into html: inout String) {
        html += """
            <section class="wide"><h2>By route</h2><table>
            <tr><th>route</th><th class="n">requests</th><th class="n">L1 hits</th><th class="n">L2 hits</th>\
            <th class="n">misses</th><th class="n">stale</th><th class="n">bypass</th><th class="n">hit ratio</th></tr>\n
            """
        for route in routes {
            let name = escaped(route.name)
            html += """
                <tr id="route-\(name)"><td><code>\(name)</code></td><td class="n">\(route.requests)</td>\
                <td class="n" id="route-\(name)-hits">\(route.hits)</td><td class="n">\(route.fleetHits)</td>\
                <td class="n" id="route-\(name)-misses">\(route.misses)</td><td class="n">\(route.stale)</td>\
                <td class="n">\(route.bypass)</td><td class="n">\(ratio(route.hits + route.fleetHits, route.lookups))</td></tr>\n
                """
        }
        html += "</table></section>\n"
    }

    private static func upstream(_ figures: StatusFigures, into html: inout String) {
        html += """
            <section><h2>Upstream (Twilio)</h2><table>
            <tr><th>attempts</th><td class="n" id="upstream-attempts">\(figures.upstreamAttempts)</td></tr>
            <tr><th>429 (rate-limited)</th><td class="n\(figures.upstream429s > 0 ? " warn" : "")" \
            id="upstream-429">\(figures.upstream429s)</td></tr>
            <tr><th>retries</th><td class="n" id="upstream-retries">\(figures.upstreamRetries)</td></tr>
            <tr><th>errors (5xx or no answer)</th><td class="n\(figures.upstreamErrors > 0 ? " warn" : "")" \
            id="upstream-errors">\(figures.upstreamErrors)</td></tr>
            <tr><th>timeouts or unreachable</th><td class="n">\(figures.upstreamTimeoutsOrUnreachable)</td></tr>
            <tr><th>in flight</th><td class="n">\(figures.upstreamInFlight)</td></tr>
            </table>
            <h2>Latency</h2><table>
            <tr><th></th><th class="n">count</th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th></tr>
            \(latencyRow("requests", figures.requestLatency))\(latencyRow("upstream", figures.upstreamLatency))
            </table></section>\n
            """
    }

    private static func latencyRow(_ name: String, _ latency: StatusFigures.Latency) -> String {
        func cell(_ seconds: Double?) -> String { seconds.map { fixed($0 * 1000, 2) + " ms" } ?? "—" }
        return """
            <tr id="latency-\(name)"><th>\(name)</th><td class="n">\(latency.count)</td><td class="n">\(cell(latency.p50))</td>\
            <td class="n">\(cell(latency.p90))</td><td class="n">\(cell(latency.p99))</td></tr>\n
            """
    }

    private static func fleet(_ fleet: StatusFigures.FleetState?, into html: inout String) {
        html += "<section><h2>Fleet (L2, Redis)</h2>"
        guard let fleet else {
            html += "<p id=\"fleet\">Off: this pod caches alone.</p></section>\n"
            return
        }
        html += """
            <table id="fleet">
            <tr><th>circuit</th><td class="\(fleet.circuit == "closed" ? "ok" : "warn")" id="fleet-circuit">\
            \(escaped(fleet.circuit))</td></tr>
            <tr><th>L2 hit ratio (Redis lookups)</th><td class="n" id="fleet-ratio">\
            \(ratio(fleet.hits, fleet.hits + fleet.misses))</td></tr>
            <tr><th>hits / misses / refused</th><td class="n">\(fleet.hits) / \(fleet.misses) / \(fleet.refused)</td></tr>
            <tr><th>Redis errors</th><td class="n">\(fleet.errors)</td></tr>
            </table></section>\n
            """
    }

    private static func engagements(_ report: EngagementCallers.Report, into html: inout String) {
        let total = report.requestsByRoute.reduce(0) { $0 + $1.requests }
        html += """
            <section class="wide"><h2>Engagement callers (v1, deprecated)</h2>
            <p><span id="engagement-requests">\(total)</span> requests to Engagement routes; \
            <span id="engagement-callers">\(report.callers.count)</span> callers kept (at most \(report.capacity)), \
            <span id="engagement-dropped">\(report.dropped)</span> dropped as least recently seen. \
            Zero means no service here calls Engagements any more.</p>
            <table id="engagements"><tr><th>caller</th><th>user agent</th><th>route</th><th class="n">requests</th>\
            <th>first seen</th><th>last seen</th></tr>\n
            """
        for (caller, seen) in report.callers {
            html += "<tr><td><code>"
            html += escaped(caller.user)
            html += "</code></td><td><code>"
            html += escaped(caller.userAgent)
            html += "</code></td><td><code>"
            html += escaped(caller.route.engagementName)
            html += "</code></td><td class=\"n\">"
            html += String(seen.requests)
            html += "</td><td>"
            appendTimestamp(seen.firstSeen, to: &html)
            html += "</td><td>"
            appendTimestamp(seen.lastSeen, to: &html)
            html += "</td></tr>\n"
        }
        html += "</table></section>\n"
    }

    private static func settings(_ settings: [(name: String, value: String)], into html: inout String) {
        html += "<section class=\"wide\"><h2>Effective settings</h2><table id=\"settings\">\n"
        for (name, value) in settings {
            html += "<tr><th><code>--\(escaped(name))</code></th><td><code>\(escaped(value))</code></td></tr>\n"
        }
        html += "</table></section>\n"
    }

    // MARK: text

    /// `epochSeconds` as `Logger.timestamp` writes it, digits straight into `html`: thousands of
    /// callers have two each.
    static func appendTimestamp(_ epochSeconds: Double, to html: inout String) {
        var seconds = Int(epochSeconds.rounded(.down))
        let millis = Int((epochSeconds - Double(seconds)) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            var at = 0
            func put(_ value: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                while divisor > 0 {
                    buffer[at] = UInt8(ascii: "0") + UInt8(value / divisor % 10)
                    at += 1
                    divisor /= 10
                }
            }
            func mark(_ character: Unicode.Scalar) {
                buffer[at] = UInt8(ascii: character)
                at += 1
            }
            put(Int(parts.tm_year) + 1900, 4)
            mark("-")
            put(Int(parts.tm_mon) + 1, 2)
            mark("-")
            put(Int(parts.tm_mday), 2)
            mark("T")
            put(Int(parts.tm_hour), 2)
            mark(":")
            put(Int(parts.tm_min), 2)
            mark(":")
            put(Int(parts.tm_sec), 2)
            mark(".")
            put(millis, 3)
            mark("Z")
            html += String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<at]), as: UTF8.self)
        }
    }

    /// `text` safe in element content and in quoted attributes.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
            return text
        }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    static func ratio(_ part: Int, _ whole: Int) -> String { whole > 0 ? percent(Double(part) / Double(whole)) : "—" }

    static func percent(_ fraction: Double) -> String { fixed(fraction * 100, 1) + " %" }

    /// `value` with `digits` decimals, without Foundation's formatter.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "—" }
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard digits > 0 else { return sign + String(scaled) }
        let fraction = String(scaled % scale)
        return sign + String(scaled / scale) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    static func bytes(_ count: Int) -> String {
        if count >= 1 << 30 { return fixed(Double(count) / Double(1 << 30), 2) + " GiB" }
        if count >= 1 << 20 { return fixed(Double(count) / Double(1 << 20), 1) + " MiB" }
        if count >= 1 << 10 { return fixed(Double(count) / Double(1 << 10), 1) + " KiB" }
        return "\(count) B"
    }

    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole >= 86_400 { return "\(whole / 86_400) d \(whole % 86_400 / 3_600) h" }
        if whole >= 3_600 { return "\(whole / 3_600) h \(whole % 3_600 / 60) min" }
        if whole >= 60 { return "\(whole / 60) min \(whole % 60) s" }
        return "\(whole) s"
    }
}
