import KithAPI
import CDNSSD
import Foundation
import KithCore
#if canImport(Glibc)
import Glibc
#endif

/// DNS-SD through avahi's Bonjour compatibility library (spec §LAN discovery): announces this
/// agent's `_kith._udp` service and browses for the others, resolving each to an IPv4 address,
/// port and TXT record. One thread owns every DNS-SD reference (the library is not thread-safe)
/// and polls their sockets. With no avahi-daemon (or no D-Bus) the library fails at once; this
/// says so once and tries again every 5 s, so discovery starts soon after the daemon does.
final class LANDiscovery: @unchecked Sendable {
    enum Event: Sendable {
        case found(name: String, address: String, port: UInt16, txt: [UInt8])
        case lost(name: String)
        /// DNS-SD is not available (the reason), or is again (nil).
        case availability(String?)
    }

    /// How soon DNS-SD is tried again after it failed (no daemon, or the daemon went away).
    static let retryInterval: TimeInterval = 5

    private let instance: String
    private let port: UInt16
    private let txt: [UInt8]
    private let onEvent: @Sendable (Event) -> Void
    private var thread: Thread?
    private let stopped = NSLock()
    private var isStopped = false

    /// What one DNS-SD reference is for; the context its callbacks get.
    private final class Operation {
        enum Kind { case register, browse, resolve, query }
        let kind: Kind
        unowned let owner: LANDiscovery
        var ref: DNSServiceRef?
        var name = ""
        var port: UInt16 = 0
        var txt: [UInt8] = []
        var done = false
        init(_ kind: Kind, owner: LANDiscovery) {
            self.kind = kind
            self.owner = owner
        }
    }

    // Touched only on the discovery thread.
    private var operations: [Operation] = []
    private var failedAt: Date?
    private var reportedFailure = false

    init(instance: String, port: UInt16, record: LANRecord, onEvent: @escaping @Sendable (Event) -> Void) {
        self.instance = instance
        self.port = port
        txt = record.txt
        self.onEvent = onEvent
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "kith-dns-sd"
        self.thread = thread
        thread.start()
    }

    /// Ends the thread, which withdraws the service and releases every reference.
    func stop() {
        stopped.withLock { isStopped = true }
    }

    private var shouldStop: Bool { stopped.withLock { isStopped } }

    // MARK: - The thread

    private func run() {
        while !shouldStop {
            if operations.isEmpty, failedAt.map({ Date().timeIntervalSince($0) > Self.retryInterval }) ?? true { begin() }
            var fds = operations.compactMap { op in op.ref.map { pollfd(fd: DNSServiceRefSockFD($0), events: Int16(POLLIN), revents: 0) } }
            if fds.isEmpty {
                usleep(200_000)
                continue
            }
            guard poll(&fds, nfds_t(fds.count), 200) > 0 else { continue }
            for (op, fd) in zip(operations, fds) where fd.revents != 0 {
                guard let ref = op.ref, DNSServiceProcessResult(ref) == kDNSServiceErr_NoError else {
                    fail("the DNS-SD daemon went away")
                    break
                }
            }
            for op in operations where op.done { release(op) }
            operations.removeAll { $0.done }
        }
        for op in operations { release(op) }
        operations = []
    }

    /// Registers this agent's service and starts browsing.
    private func begin() {
        let register = Operation(.register, owner: self)
        let context = Unmanaged.passRetained(register).toOpaque()
        var status = txt.withUnsafeBytes { raw in
            DNSServiceRegister(&register.ref, 0, 0, instance, LANRecord.serviceType, nil, nil, port.bigEndian,
                               UInt16(txt.count), raw.baseAddress, Self.registered, context)
        }
        guard status == kDNSServiceErr_NoError else {
            Unmanaged<Operation>.fromOpaque(context).release()
            return fail("avahi-daemon is not reachable (DNS-SD error \(status)); Kith works through the server meanwhile")
        }
        operations.append(register)
        let browse = Operation(.browse, owner: self)
        let browseContext = Unmanaged.passRetained(browse).toOpaque()
        status = DNSServiceBrowse(&browse.ref, 0, 0, LANRecord.serviceType, nil, Self.browsed, browseContext)
        guard status == kDNSServiceErr_NoError else {
            Unmanaged<Operation>.fromOpaque(browseContext).release()
            return fail("DNS-SD browsing failed (error \(status))")
        }
        operations.append(browse)
        if reportedFailure { onEvent(.availability(nil)) }
        reportedFailure = false
        failedAt = nil
    }

    private func fail(_ reason: String) {
        for op in operations { release(op) }
        operations = []
        failedAt = Date()
        if !reportedFailure { onEvent(.availability(reason)) }
        reportedFailure = true
    }

    private func release(_ op: Operation) {
        if let ref = op.ref { DNSServiceRefDeallocate(ref) }
        op.ref = nil
        Unmanaged.passUnretained(op).release()
    }

    private func add(_ kind: Operation.Kind, name: String, start: (Operation, UnsafeMutableRawPointer) -> DNSServiceErrorType) -> Operation? {
        let op = Operation(kind, owner: self)
        op.name = name
        let context = Unmanaged.passRetained(op).toOpaque()
        guard start(op, context) == kDNSServiceErr_NoError else {
            Unmanaged<Operation>.fromOpaque(context).release()
            return nil
        }
        operations.append(op)
        return op
    }

    // MARK: - Callbacks (on the thread, inside DNSServiceProcessResult)

    private static let registered: DNSServiceRegisterReply = { _, _, error, _, _, _, context in
        guard let context, error != kDNSServiceErr_NoError else { return }
        Unmanaged<Operation>.fromOpaque(context).takeUnretainedValue().owner.fail("DNS-SD registration failed (error \(error))")
    }

    private static let browsed: DNSServiceBrowseReply = { _, flags, interface, error, name, type, domain, context in
        guard let context else { return }
        let owner = Unmanaged<Operation>.fromOpaque(context).takeUnretainedValue().owner
        // With the daemon gone, the callback comes with an error and NULL strings: check first.
        guard error == kDNSServiceErr_NoError, let name, let type, let domain else {
            return owner.fail("the DNS-SD daemon went away")
        }
        let service = String(cString: name)
        guard flags & DNSServiceFlags(kDNSServiceFlagsAdd) != 0 else { return owner.onEvent(.lost(name: service)) }
        _ = owner.add(.resolve, name: service) { op, context in
            DNSServiceResolve(&op.ref, 0, interface, name, type, domain, LANDiscovery.resolved, context)
        }
    }

    private static let resolved: DNSServiceResolveReply = { _, _, interface, error, _, host, port, txtLength, txt, context in
        guard let context else { return }
        let op = Unmanaged<Operation>.fromOpaque(context).takeUnretainedValue()
        op.done = true
        guard error == kDNSServiceErr_NoError, let host else { return }
        let record = txt.map { Array(UnsafeRawBufferPointer(start: $0, count: Int(txtLength))) } ?? []
        // The compat layer has no DNSServiceGetAddrInfo: ask for the host's A record instead.
        let query = op.owner.add(.query, name: op.name) { next, context in
            DNSServiceQueryRecord(&next.ref, 0, interface, host, UInt16(kDNSServiceType_A), UInt16(kDNSServiceClass_IN),
                                  LANDiscovery.answered, context)
        }
        query?.port = UInt16(bigEndian: port)
        query?.txt = record
    }

    private static let answered: DNSServiceQueryRecordReply = { _, _, _, error, _, type, _, length, data, _, context in
        guard let context else { return }
        let op = Unmanaged<Operation>.fromOpaque(context).takeUnretainedValue()
        op.done = true
        guard error == kDNSServiceErr_NoError, type == UInt16(kDNSServiceType_A), length == 4, let data else { return }
        let ip = UnsafeRawBufferPointer(start: data, count: 4).map(String.init).joined(separator: ".")
        op.owner.onEvent(.found(name: op.name, address: ip, port: op.port, txt: op.txt))
    }
}
