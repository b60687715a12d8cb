import Auth
import Cache
import Foundation
import HTTP
import Studio
import XCTest

@testable import Gateway
@testable import TestSupport

/// Issue 18 #8: `POST /admin/purge?account=AC…` purges one tenant without emptying everyone's
/// cache; with `execution` or `flow` it narrows that purge to the one account.
final class AdminPurgeTests: XCTestCase {
    let accountA = "AC" + String(repeating: "a", count: 32)
    let accountB = "AC" + String(repeating: "b", count: 32)
    let flow = "FW" + String(repeating: "f", count: 32)
    let execution = "FN" + String(repeating: "e", count: 32)

    func purge(_ admin: AdminHandler, _ query: String) -> (status: HTTPStatus, purged: Int?) {
        let response = admin.answer(
            HTTPRequest(method: "POST", target: "/admin/purge?" + query, headers: ["Host": "x"]))
        let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return (response.status, json?["purged"] as? Int)
    }

    func fill(_ gateway: Gateway) {
        for account in [accountA, accountB] {
            for resource in [
                "/v2/Flows/\(flow)/Executions/\(execution)", "/v2/Flows/\(flow)/Executions/\(execution)/Context",
            ] {
                let entry = CachedResponse(
                    status: 200, contentType: "application/json", requestID: nil, gzipBody: [1], identityLength: 1,
                    account: account, storedAt: 0, expiresAt: nil)
                gateway.store.adopt(
                    CacheKey(account: account, resource: resource, group: CacheGroup(execution)!), entry)
            }
            let list = CachedResponse(
                status: 200, contentType: "application/json", requestID: nil, gzipBody: [1], identityLength: 1,
                account: account, storedAt: 0, expiresAt: 100)
            gateway.store.adopt(
                CacheKey(
                    account: account, resource: "/v2/Flows/\(flow)/Executions", group: CacheGroup(flow + "/lists")!),
                list)
        }
    }

    func accounts(_ gateway: Gateway) -> [String] {
        gateway.store.entries { _, _ in true }.map(\.0.account).sorted()
    }

    func testPurgeByAccountLeavesOtherTenantsAlone() {
        let gateway = Gateway(config: GatewayConfig())
        let admin = AdminHandler(gateway: gateway, token: nil)
        fill(gateway)
        XCTAssertEqual(purge(admin, "account=\(accountA)&execution=\(execution)").purged, 2)
        XCTAssertEqual(accounts(gateway), [accountA, accountB, accountB, accountB])
        XCTAssertEqual(purge(admin, "flow=\(flow)&account=\(accountB)").purged, 3)
        XCTAssertEqual(accounts(gateway), [accountA])
        fill(gateway)
        XCTAssertEqual(purge(admin, "account=\(accountB)").purged, 3)
        XCTAssertEqual(accounts(gateway), [accountA, accountA, accountA])
        XCTAssertEqual(purge(admin, "account=not-an-account").status, 400)
        XCTAssertEqual(purge(admin, "").status, 400)
        XCTAssertEqual(purge(admin, "execution=\(execution)").purged, 2, "without account: every tenant, as before")
    }
}
