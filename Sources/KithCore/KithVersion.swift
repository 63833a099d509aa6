import KithWire

/// The software's version and the wire protocol it speaks, as `kith --version` and `Hello` report them.
public enum KithVersion {
    public static let software = "0.1.0"
    public static let protocolVersion = WireLimits.protocolVersion
    /// What goes in `Hello.software`.
    public static let userAgent = "kith/\(software)"
}
