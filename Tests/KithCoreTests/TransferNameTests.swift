import KithCore
import Testing

/// Free names for what lands (spec §File transfer, Landing).
@Suite struct TransferNameTests {
    @Test func aTakenNameGetsANumberBeforeItsExtension() {
        let taken: Set<String> = ["report.pdf", "report (1).pdf", "photos"]
        #expect(TransferName.free("report.pdf", isFile: true) { taken.contains($0) } == "report (2).pdf")
        #expect(TransferName.free("photos", isFile: false) { taken.contains($0) } == "photos (1)")
        #expect(TransferName.free("new.txt", isFile: true) { taken.contains($0) } == "new.txt")
    }

    @Test func aNameOf255BytesStaysWithinTheLimitWithItsSuffix() {
        let name = String(repeating: "é", count: 125) + "x.pdf"  // 250 + 5 = 255 bytes
        #expect(name.utf8.count == 255)
        let free = TransferName.free(name, isFile: true) { $0 == name }
        #expect(free == String(repeating: "é", count: 123) + " (1).pdf", "cut on a character boundary, before the suffix")
        #expect(free.utf8.count <= 255 && (try? TransferName.components(of: free)) != nil)
    }
}
