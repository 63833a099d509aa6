/// A failure a person can act on, printed as `Error: …` without the usage text that
/// ArgumentParser adds to a `ValidationError` (which is for malformed arguments only).
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
