import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Workbench

@Suite struct WorkbenchGuardTests {
    @Test func secretsDifferPerProcessStart() {
        let a = WorkbenchSession()
        let b = WorkbenchSession()
        #expect(a.launchKey != b.launchKey)
        #expect(a.cookieName != b.cookieName)
        #expect(a.launchKey.count == 64)
        #expect(WorkbenchSession.same(a.launchKey, a.launchKey))
        #expect(!WorkbenchSession.same(b.launchKey, a.launchKey))
        #expect(!WorkbenchSession.same(nil, a.launchKey))
        #expect(!WorkbenchSession.same(String(a.launchKey.dropLast()), a.launchKey))
    }
}
