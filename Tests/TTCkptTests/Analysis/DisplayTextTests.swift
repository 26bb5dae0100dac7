import Foundation
import Testing
@testable import TTAnalysis

@Suite struct DisplayTextTests {
    @Test func tableAlignsColumns() {
        let lines = DisplayText.table([["a", "1"], ["bbb", "22"]], rightAligned: [false, true])
        #expect(lines == ["a     1", "bbb  22"])
    }
}
