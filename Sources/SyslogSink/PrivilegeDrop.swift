#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `$PrivDropToUser`/`$PrivDropToGroup` (and their `…ID` forms, `global(privdrop.*)`), as rsyslogd does it once
/// its inputs are bound: the group first (supplementary groups cleared unless `privdrop.group.keepSupplemental`),
/// then the user (with that user's supplementary groups). Files are opened afterwards, as the dropped user.
public struct PrivilegeDrop: Hashable, Sendable {
    public var user: UInt32?
    public var group: UInt32?
    public var keepSupplementalGroups = false

    public init(user: UInt32? = nil, group: UInt32? = nil, keepSupplementalGroups: Bool = false) {
        self.user = user
        self.group = group
        self.keepSupplementalGroups = keepSupplementalGroups
    }

    public var isRequested: Bool { user != nil || group != nil }

    /// Drops what is asked; nil when done, else what failed (the sink must then not go on as root).
    public func apply() -> String? {
        if let group {
            if !keepSupplementalGroups && setgroups(0, nil) != 0 {
                return "cannot clear the supplementary groups: \(String(cString: strerror(errno)))"
            }
            if setgid(gid_t(group)) != 0 {
                return "cannot set the group id to \(group): \(String(cString: strerror(errno)))"
            }
        }
        if let user {
            if !keepSupplementalGroups, let entry = getpwuid(uid_t(user)) {
                // The user's own supplementary groups, with the group already set.
                if initgroups(entry.pointee.pw_name, getgid()) != 0 {
                    return "cannot set the supplementary groups of user \(user): \(String(cString: strerror(errno)))"
                }
            }
            if setuid(uid_t(user)) != 0 {
                return "cannot set the user id to \(user): \(String(cString: strerror(errno)))"
            }
            // Fail closed: root must not be regained.
            if user != 0 && setuid(0) == 0 { return "the user id could be set back to root after dropping it" }
        }
        return nil
    }
}
