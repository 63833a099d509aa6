import KithAPI
import Foundation
import KithCore
#if canImport(Glibc)
import Glibc
#endif

/// Turns the paths of `kith push` into the entries of an offer: files as they are, folders with
/// everything under them (structure kept, empty folders too). Symbolic links, devices and other
/// special files are not sent; names that a receiver would refuse are refused here first.
enum PushPlan {
    /// What fits one FileOffer: an envelope has at most 256 fields (spec §Envelope).
    static let maxEntries = 250

    static func entries(for paths: [String]) throws -> [TransferRecord.Entry] {
        guard !paths.isEmpty else { throw AgentError(.invalidRequest, "push needs at least one path") }
        var entries: [TransferRecord.Entry] = [], tops = Set<String>()
        for path in paths {
            guard path.hasPrefix("/") else { throw AgentError(.invalidRequest, "\(path): paths must be absolute") }
            let url = URL(fileURLWithPath: path).standardizedFileURL
            let name = url.lastPathComponent
            guard tops.insert(name).inserted else {
                throw AgentError(.invalidRequest, "two of the paths are named \(name); push them separately")
            }
            try add(url.path, as: name, to: &entries, top: true)
        }
        for entry in entries {
            // Hidden characters are the receiver's call (it refuses them unless its user allows them).
            do { _ = try TransferName.components(of: entry.path, allowingHidden: true) } catch {
                throw AgentError(.invalidRequest, "cannot send \(entry.source ?? entry.path): \(error)")
            }
        }
        return entries
    }

    private static func add(_ path: String, as name: String, to entries: inout [TransferRecord.Entry], top: Bool) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw AgentError(.invalidRequest, "\(path): \(String(cString: strerror(errno)))")
        }
        let mode = UInt32(info.st_mode) & 0o777
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard access(path, R_OK) == 0 else { throw AgentError(.invalidRequest, "\(path): not readable") }
            entries.append(.init(path: name, size: UInt64(info.st_size), mode: mode, isFolder: false, source: path,
                                 modifiedNanos: SourceFile.modifiedNanos(info)))
        case S_IFDIR:
            entries.append(.init(path: name, size: 0, mode: mode, isFolder: true, source: path))
            let children = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            for child in children { try add(path + "/" + child, as: name + "/" + child, to: &entries, top: false) }
        default:
            if top { throw AgentError(.invalidRequest, "\(path) is not a regular file or a folder") }
            return  // links and special files inside a folder are skipped
        }
        guard entries.count <= maxEntries else {
            throw AgentError(.invalidRequest, "more than \(maxEntries) files and folders in one push; push subfolders separately")
        }
    }
}
