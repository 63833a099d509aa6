import Foundation
import KithCore
#if canImport(Glibc)
import Glibc
#endif

/// A password from a file's first line, from standard input when it is not a terminal, or from
/// a prompt that does not echo. Never from the command line, where `ps` would show it.
func readPassword(file: String?, prompt: String) throws -> String {
    if let file {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw UserError("cannot read the password file \(file)")
        }
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }
    if isatty(STDIN_FILENO) == 0 {
        guard let line = readLine(strippingNewline: true) else { throw UserError("no password on standard input") }
        return line
    }
    guard let typed = getpass(prompt) else { throw UserError("no password given") }
    return String(cString: typed)
}

/// A new password for `account`: asked twice on a terminal (a typo would lock the account's
/// owner out), once from a file or standard input; checked against the password rules.
func readNewPassword(file: String?, for account: String) throws -> String {
    let password = try readPassword(file: file, prompt: "Password for \(account): ")
    if let problem = AccountRules.problem(withPassword: password) { throw UserError(problem) }
    if file == nil && isatty(STDIN_FILENO) == 1 {
        guard let again = getpass("Again: "), String(cString: again) == password else {
            throw UserError("the two passwords differ; nothing was changed")
        }
    }
    return password
}
