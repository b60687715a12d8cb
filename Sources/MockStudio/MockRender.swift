import Foundation
import Studio

/// Builds response bodies in the shapes of the OpenAPI specs, embedding contexts as raw JSON text.
enum MockRender {
    static let origin = "https://studio.twilio.com"

    static func q(_ text: String) -> String { JSONText.quoted(text) }
    static func date(_ value: Date?) -> String { value.map { q(MockDate.format($0)) } ?? "null" }

    static func executionPath(_ e: MockExecution, _ version: String) -> String {
        "/\(version)/Flows/\(e.flow)/Executions/\(e.sid)"
    }

    static func execution(_ e: MockExecution, version: String) -> String {
        let url = origin + executionPath(e, version)
        let links = #"{"steps": \#(q(url + "/Steps")), "execution_context": \#(q(url + "/Context"))}"#
        if version == "v1" {
            return
                #"{"sid": \#(q(e.sid)), "account_sid": \#(q(e.account)), "flow_sid": \#(q(e.flow)), "contact_sid": \#(q(e.contactSid)), "contact_channel_address": \#(q(e.contactChannelAddress)), "context": \#(e.context), "status": \#(q(e.status)), "date_created": \#(date(e.dateCreated)), "date_updated": \#(date(e.dateUpdated)), "url": \#(q(url)), "links": \#(links)}"#
        }
        return
            #"{"sid": \#(q(e.sid)), "account_sid": \#(q(e.account)), "flow_sid": \#(q(e.flow)), "contact_channel_address": \#(q(e.contactChannelAddress)), "contact_sid": \#(q(e.contactSid)), "flow_version": 1, "context": \#(e.context), "status": \#(q(e.status)), "date_created": \#(date(e.dateCreated)), "date_updated": \#(date(e.dateUpdated)), "initiated_by": \#(q(e.contactChannelAddress)), "url": \#(q(url)), "links": \#(links)}"#
    }

    static func executionContext(_ e: MockExecution, version: String) -> String {
        #"{"account_sid": \#(q(e.account)), "context": \#(e.context), "flow_sid": \#(q(e.flow)), "execution_sid": \#(q(e.sid)), "url": \#(q(origin + executionPath(e, version) + "/Context"))}"#
    }

    static func step(_ s: MockStep, of e: MockExecution, version: String) -> String {
        let url = origin + executionPath(e, version) + "/Steps/" + s.sid
        return
            #"{"sid": \#(q(s.sid)), "account_sid": \#(q(e.account)), "flow_sid": \#(q(e.flow)), "execution_sid": \#(q(e.sid)), "parent_step_sid": null, "name": \#(q(s.name)), "context": \#(s.context), "transitioned_from": \#(q(s.transitionedFrom)), "transitioned_to": \#(q(s.transitionedTo)), "type": "Widget", "date_created": \#(date(s.dateCreated)), "date_updated": \#(date(s.dateCreated)), "url": \#(q(url)), "links": {"step_context": \#(q(url + "/Context"))}}"#
    }

    static func stepContext(_ s: MockStep, of e: MockExecution, version: String) -> String {
        let url = origin + executionPath(e, version) + "/Steps/" + s.sid + "/Context"
        return
            #"{"account_sid": \#(q(e.account)), "context": \#(s.context), "execution_sid": \#(q(e.sid)), "flow_sid": \#(q(e.flow)), "step_sid": \#(q(s.sid)), "url": \#(q(url))}"#
    }

    static func flow(_ f: MockFlow, version: String) -> String {
        let url = origin + "/\(version)/Flows/\(f.sid)"
        let created = q("2026-01-01T00:00:00Z")
        if version == "v1" {
            return
                #"{"sid": \#(q(f.sid)), "account_sid": \#(q(f.account)), "friendly_name": \#(q(f.friendlyName)), "status": "published", "version": 1, "date_created": \#(created), "date_updated": null, "url": \#(q(url)), "links": {"engagements": \#(q(url + "/Engagements")), "executions": \#(q(url + "/Executions"))}}"#
        }
        return
            #"{"sid": \#(q(f.sid)), "account_sid": \#(q(f.account)), "author_sid": null, "friendly_name": \#(q(f.friendlyName)), "definition": {"states": []}, "status": "published", "revision": 1, "commit_message": null, "valid": true, "errors": [], "warnings": [], "date_created": \#(created), "date_updated": null, "webhook_url": \#(q("https://webhooks.twilio.com/v1/Accounts/\(f.account)/Flows/\(f.sid)")), "url": \#(q(url)), "links": {"test_users": \#(q(url + "/TestUsers")), "revisions": \#(q(url + "/Revisions")), "executions": \#(q(url + "/Executions"))}}"#
    }

    /// A list page: `meta` (with absolute paging URLs that keep the filters) then the items.
    static func page(
        key: String, path: String, filters: [(name: String, value: String)], items: [String],
        page: Int, pageSize: Int, nextToken: String?, previousToken: String?
    ) -> String {
        func pageURL(_ number: Int, token: String?) -> String {
            var pairs = filters + [("PageSize", String(pageSize)), ("Page", String(number))]
            if let token { pairs.append(("PageToken", token)) }
            return origin + path + "?" + FormURLEncoded.serialize(pairs)
        }
        let next = nextToken.map { q(pageURL(page + 1, token: $0)) } ?? "null"
        let previous = previousToken.map { q(pageURL(page - 1, token: $0)) } ?? "null"
        let meta =
            #"{"key": \#(q(key)), "url": \#(q(pageURL(page, token: nil))), "page": \#(page), "page_size": \#(pageSize), "next_page_url": \#(next), "first_page_url": \#(q(pageURL(0, token: nil))), "previous_page_url": \#(previous)}"#
        return #"{"meta": \#(meta), \#(q(key)): [\#(items.joined(separator: ", "))]}"#
    }
}
