import KithAPI
import Foundation
import KithCore
#if canImport(Glibc)
import Glibc
#endif

/// Turns the paths of `kith push` into the entries of an offer: files as they are, folders with
/// everything under them (structure kept, empty folders too). Symbolic links, devices and other
/// special files are not sent, and named in `skipped` so the sender's user learns which (a push
/// that silently leaves files out reads as a success); names that a receiver would refuse are
/// refused here first.
struct PushPlan {
    /// What fits one FileOffer: an envelope has at most 256 fields (spec §Envelope).
    static let maxEntries = 250

    var entries: [TransferRecord.Entry] = []
    /// Links and special files inside the folders pushed, left out.
    var skipped: [SkippedEntry] = []

    init(paths: [String]) throws {
        guard !paths.isEmpty else { throw AgentError(.invalidRequest, "push needs at least one path") }
        var tops = Set<String>()
        for path in paths {
            guard path.hasPrefix("/") else { throw AgentError(.invalidRequest, "\(path): paths must be absolute") }
            let url = URL(fileURLWithPath: path).standardizedFileURL
            let name = url.lastPathComponent
            guard tops.insert(name).inserted else {
                throw AgentError(.invalidRequest, "two of the paths are named \(name); push them separately")
            }
            try add(url.path, as: name, top: true)
        }
        for entry in entries {
            // Hidden characters are the receiver's call (it refuses them unless its user allows them).
            do { _ = try TransferName.components(of: entry.path, allowingHidden: true) } catch {
                throw AgentError(.invalidRequest, "cannot send \(entry.source ?? entry.path): \(error)")
            }
        }
    }

    private mutating func add(_ path: String, as name: String, top: Bool) throws {
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
            for child in children { try add(path + "/" + child, as: name + "/" + child, top: false) }
        default:
            let kind = Self.kind(info.st_mode & S_IFMT)
            if top { throw AgentError(.invalidRequest, "\(path) is \(kind), not a regular file or a folder") }
            skipped.append(SkippedEntry(path: path, reason: kind))
            return
        }
        guard entries.count <= Self.maxEntries else {
            throw AgentError(.invalidRequest, "more than \(Self.maxEntries) files and folders in one push; push subfolders separately")
        }
    }

    /// What a file that is neither regular nor a folder is, for people.
    static func kind(_ type: mode_t) -> String {
        switch type {
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        default: "a special file"
        }
    }
}
