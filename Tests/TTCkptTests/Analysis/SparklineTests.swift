import Foundation
import Testing
@testable import TTAnalysis

@Suite struct SparklineTests {
    @Test func oneCharacterPerValue() {
        // lo 1, hi 8: level ⌊8(v−1)/7⌋ = 0,1,2,3,4,5,6,8→7.
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8], width: 8) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([8, 1], width: 10) == "█▁")
    }

    @Test func bucketsAreMeans() {
        // Means 1, 2, 3, 4 -> ⌊8·(0, 1/3, 2/3, 1)⌋ = 0, 2, 5, 8→7.
        #expect(Sparkline.render([1, 1, 2, 2, 3, 3, 4, 4], width: 4) == "▁▃▆█")
        // n = 5, w = 2: buckets 0..<2 and 2..<5 -> means 1 and 10.
        #expect(Sparkline.render([0, 2, 10, 10, 10], width: 2) == "▁█")
    }

    @Test func widthIsRespected() {
        let values = (0..<1000).map { Float($0) }
        let line = Sparkline.render(values, width: 60)
        #expect(line.count == 60)
        #expect(line.first == "▁" && line.last == "█")
    }

    @Test func edgeCases() {
        #expect(Sparkline.render([], width: 10) == "")
        #expect(Sparkline.render([1, 2], width: 0) == "")
        #expect(Sparkline.render([3, 3, 3], width: 10) == "▁▁▁")
        #expect(Sparkline.render([1, .nan, 3], width: 3) == "▁ █")
        #expect(Sparkline.render([.nan, .infinity], width: 2) == "  ")
    }
}
