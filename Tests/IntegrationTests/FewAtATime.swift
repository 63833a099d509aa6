import KithTestSupport
import Testing

/// At most two integration tests run at once. Each starts real processes and polls them with
/// blocking CLI calls; with every suite in parallel on two cores, the test process's thread pool
/// (one thread per core) was held by those calls for seconds, and tests timed out waiting for
/// tasks that could not run (a server then closed test connections that had gone quiet).
struct FewAtATime: SuiteTrait, TestTrait, TestScoping {
    static let limit = 2
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        // Suites (no test case) pass through; each test case takes a slot.
        guard testCase != nil else { return try await function() }
        await Slots.shared.acquire()
        do {
            try await HangWatch.watch("\(test.name) (\(test.sourceLocation.fileName):\(test.sourceLocation.line))", function)
        } catch {
            await Slots.shared.release()
            throw error
        }
        await Slots.shared.release()
    }

    private actor Slots {
        static let shared = Slots()
        private var free = FewAtATime.limit
        private var waiting: [CheckedContinuation<Void, Never>] = []

        func acquire() async {
            if free > 0 {
                free -= 1
                return
            }
            await withCheckedContinuation { waiting.append($0) }
        }

        func release() {
            if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
        }
    }
}

extension Trait where Self == FewAtATime {
    /// See `FewAtATime`.
    static var fewAtATime: FewAtATime { FewAtATime() }
}
