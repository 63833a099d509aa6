import KithWire
import NIOCore

extension EndpointAddress {
    /// The IP and port of a NIO socket address; nil for a Unix socket.
    public init?(_ address: SocketAddress) {
        guard let port = address.port else { return nil }
        switch address {
        case .v4(let v4):
            self.init(ip: withUnsafeBytes(of: v4.address.sin_addr.s_addr) { Array($0) }, port: UInt16(port))
        case .v6(let v6):
            self.init(ip: withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }, port: UInt16(port))
        default:
            return nil
        }
    }
}
