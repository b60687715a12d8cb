import Foundation
import Studio

/// Seeded contexts shaped like a real Studio flow's (`POST /__mock/seed` with `"realistic": true`):
/// the flow and its variables, the contact, the trigger message and widget outputs, with names,
/// phone numbers, SIDs and timestamps that differ per execution. Deterministic: a small PRNG
/// seeded by the index picks from fixed pools, so a seed is the same on every run. About as
/// compressible as real contexts (gzip to roughly half): SIDs and numbers are random, the keys,
/// names and texts repeat.
enum MockContexts {
    /// About `bytes` bytes of context JSON for seeded execution `index`: a fixed part (some 700
    /// bytes: flow, contact, trigger message, a sent message and an HTTP request's answer), then
    /// more widget outputs while they fit, then an outbound reply trimmed to make up the rest.
    static func realistic(index: Int, bytes: Int, account: String, flow: String) -> String {
        var random = SplitMix64(seed: UInt64(index))
        let first = random.pick(firstNames)
        let last = random.pick(lastNames)
        let place = random.pick(places)
        let customer = random.phone(areaCode: place.areaCode)
        let business = "+1415555" + random.digits(4)
        let day = 1 + (index / 5_000) % 28
        let second = 36_000 + (index * 7) % 36_000 + random.below(600)
        let order = 100_000 + random.below(900_000)
        let answer = #"{"order_id":\#(order),"status":"\#(random.pick(orderStatuses))"}"#
        var json =
            #"{"flow":{"flow_sid":"\#(flow)","channel":{"address":"\#(business)"},"variables":{"name":"\#(first) \#(last)","order_id":"\#(order)"}},"#
            + #""contact":{"channel":{"address":"\#(customer)","name":"\#(first) \#(last)"}},"#
            + #""trigger":{"message":{"Body":\#(JSONText.quoted(random.pick(inboundTexts))),"From":"\#(customer)","To":"\#(business)","MessageSid":"\#(random.sid("SM"))","AccountSid":"\#(account)","FromCity":"\#(place.city.uppercased())","FromState":"\#(place.state)"}},"#
            + #""widgets":{"send_message_1":{"status":"delivered","sid":"\#(random.sid("SM"))","date_created":"\#(timestamp(day: day, second: second + 2))"},"#
            + #""http_request_1":{"status_code":200,"body":\#(JSONText.quoted(answer)),"parsed":\#(answer)}"#
        var widget = 2
        while true {
            let next = Self.widget(
                widget, &random, account: account, customer: customer, business: business, first: first, place: place,
                at: timestamp(day: day, second: second + 20 * widget))
            guard json.utf8.count + next.utf8.count + 40 <= bytes else { break }
            json += "," + next
            widget += 1
        }
        let room = bytes - json.utf8.count - 30
        if room > 0 {
            let reply = random.pick(replies).replacingOccurrences(of: "NAME", with: first)
            json += #","reply":{"body":\#(JSONText.quoted(String(reply.prefix(room))))}"#
        }
        return json + "}}"
    }

    /// One more widget's output, its kind in rotation.
    private static func widget(
        _ number: Int, _ random: inout SplitMix64, account: String, customer: String, business: String, first: String,
        place: Place, at when: String
    ) -> String {
        switch number % 4 {
        case 0:
            return
                #""split_\#(number)":{"next":"send_message_\#(number + 1)","matched":"\#(random.pick(orderStatuses))"}"#
        case 1:
            let text = random.pick(replies).replacingOccurrences(of: "NAME", with: first)
            return
                #""send_message_\#(number)":{"status":"\#(random.pick(outcomes))","sid":"\#(random.sid("SM"))","to":"\#(customer)","from":"\#(business)","body":\#(JSONText.quoted(text)),"date_created":"\#(when)"}"#
        case 2:
            return
                #""gather_\#(number)":{"inbound":{"Body":\#(JSONText.quoted(random.pick(inboundTexts))),"From":"\#(customer)","To":"\#(business)","MessageSid":"\#(random.sid("SM"))","AccountSid":"\#(account)","FromZip":"\#(place.zip)"}}"#
        default:
            let answer =
                #"{"ticket":"\#(random.sid("TK").prefix(14))","total":"\#(10 + random.below(290)).\#(random.digits(2))","items":\#(1 + random.below(6)),"tier":"\#(random.pick(tiers))","city":"\#(place.city)"}"#
            return
                #""http_request_\#(number)":{"status_code":200,"content_type":"application/json","body":\#(JSONText.quoted(answer)),"parsed":\#(answer)}"#
        }
    }

    private static func timestamp(day: Int, second: Int) -> String {
        let s = min(second, 86_399)
        return "2026-11-\(two(day))T\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))Z"
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    struct Place {
        var city: String
        var state: String
        var zip: String
        var areaCode: String
    }

    static let firstNames = [
        "Ada", "Grace", "Linus", "Maya", "Omar", "Priya", "Chen", "Sofia", "Lucas", "Amara", "Noah", "Elena", "Kenji",
        "Fatima", "Diego", "Hannah", "Ivan", "Zara", "Mateo", "Aisha", "Liam", "Yuki", "Nora", "Samuel", "Leila",
        "Oscar", "Ingrid", "Rahul", "Chloe", "Tariq", "Emma", "Felix",
    ]
    static let lastNames = [
        "Lovelace", "Hopper", "Okafor", "Nakamura", "Garcia", "Patel", "Novak", "Haddad", "Johansson", "Moreau",
        "Silva", "Kowalski", "Nguyen", "Schmidt", "Rossi", "Kim", "Mensah", "Fischer", "Costa", "Ibrahim", "Walsh",
        "Tanaka", "Ortiz", "Lindqvist", "Dubois", "Chowdhury", "Keller", "Romero", "Adeyemi", "Larsen",
    ]
    static let places = [
        Place(city: "San Francisco", state: "CA", zip: "94105", areaCode: "415"),
        Place(city: "Oakland", state: "CA", zip: "94612", areaCode: "510"),
        Place(city: "Los Angeles", state: "CA", zip: "90012", areaCode: "213"),
        Place(city: "Seattle", state: "WA", zip: "98101", areaCode: "206"),
        Place(city: "Portland", state: "OR", zip: "97205", areaCode: "503"),
        Place(city: "Denver", state: "CO", zip: "80202", areaCode: "303"),
        Place(city: "Austin", state: "TX", zip: "78701", areaCode: "512"),
        Place(city: "Chicago", state: "IL", zip: "60601", areaCode: "312"),
        Place(city: "Boston", state: "MA", zip: "02108", areaCode: "617"),
        Place(city: "New York", state: "NY", zip: "10001", areaCode: "212"),
        Place(city: "Atlanta", state: "GA", zip: "30303", areaCode: "404"),
        Place(city: "Miami", state: "FL", zip: "33130", areaCode: "305"),
        Place(city: "Phoenix", state: "AZ", zip: "85004", areaCode: "602"),
        Place(city: "Minneapolis", state: "MN", zip: "55401", areaCode: "612"),
    ]
    static let inboundTexts = [
        "Hi, where is my order?", "I need to change my delivery address please", "STOP", "Yes",
        "Can I talk to a human?", "My package arrived damaged, what do I do?", "What time do you open tomorrow?",
        "2", "Cancel my appointment", "Thanks! That's all 😊", "Is the store on Main St open on Sunday?",
        "I was charged twice for the same order", "Reschedule to Friday afternoon", "HELP",
        "Do you ship to Canada?", "Order status", "I'd like a refund for the blue jacket",
    ]
    static let replies = [
        "Thanks NAME! Your order is on its way and should arrive within 2-3 business days. Reply STOP to opt out.",
        "Hi NAME, we've updated your delivery address. You'll get a confirmation email shortly.",
        "Sorry to hear that, NAME. An agent will text you back within the hour. Reply HELP for more options.",
        "Hello NAME, your appointment is confirmed. Reply 1 to confirm, 2 to reschedule or 3 to cancel.",
        "NAME, we issued your refund; it can take 5-10 business days to appear on your statement.",
    ]
    static let orderStatuses = ["shipped", "processing", "delivered", "out_for_delivery", "returned", "on_hold"]
    static let tiers = ["gold", "silver", "bronze", "none"]
    static let languages = ["en-US", "es-US", "fr-CA", "en-GB"]
    static let outcomes = ["delivered", "sent", "undelivered", "failed", "received"]
}

/// Vigna's SplitMix64: a tiny deterministic generator (not for cryptography).
private struct SplitMix64 {
    var state: UInt64

    /// Starts at a mixed seed: neighbouring seeds would otherwise give the same stream shifted by one.
    init(seed: UInt64) {
        state = seed
        state = next()
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func pick<T>(_ pool: [T]) -> T { pool[below(pool.count)] }

    mutating func digits(_ count: Int) -> String {
        String((0..<count).map { _ in Character(String(below(10))) })
    }

    mutating func phone(areaCode: String) -> String { "+1" + areaCode + digits(7) }

    /// A SID: prefix + 32 lowercase hex digits.
    mutating func sid(_ prefix: String) -> String {
        var hex = ""
        for _ in 0..<2 {
            let half = String(next(), radix: 16)
            hex += String(repeating: "0", count: 16 - half.count) + half
        }
        return prefix + hex
    }
}
