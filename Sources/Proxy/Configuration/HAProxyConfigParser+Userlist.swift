import LogCore

/// `userlist` sections and what uses them (`http_auth`, `http_auth_group`, `http-request auth`), as HAProxy 2.6
/// reads them.
extension HAProxyConfigParser {
    /// `group NAME [users U1,U2…]` and `user NAME [password HASH | insecure-password TEXT] [groups G1,G2…]`.
    mutating func userlistKeyword(_ keyword: String, _ args: [String], _ at: SourceLocation, _ list: inout Userlist) {
        guard let name = args.first else { return alert(at, "'\(keyword)' expects <name> as arguments.") }
        switch keyword {
        case "group":
            list.groups.insert(name)
            var i = 1
            while i < args.count {
                guard args[i] == "users", i + 1 < args.count else {
                    return alert(at, "'group' only supports 'users' option.")
                }
                for user in args[i + 1].split(separator: ",").map(String.init) {
                    list.users[user, default: Userlist.User()].groups.insert(name)
                }
                i += 2
            }
        case "user":
            var user = list.users[name] ?? Userlist.User()
            var i = 1
            while i < args.count {
                guard i + 1 < args.count else { return alert(at, "'\(args[i])' expects an argument.") }
                switch args[i] {
                case "password":
                    let hash = args[i + 1]
                    // HAProxy takes any text (a hash crypt(3) cannot compute never matches); said here.
                    if !Userlist.cryptAccepts(hash) {
                        warn(
                            at,
                            "the password of user '\(name)' is no hash crypt(3) computes: it never matches, as in "
                                + "HAProxy.")
                    }
                    user.password = .hashed(hash)
                case "insecure-password": user.password = .plain(args[i + 1])
                case "groups":
                    for group in args[i + 1].split(separator: ",").map(String.init) { user.groups.insert(group) }
                default:
                    return alert(at, "'user' only supports 'password', 'insecure-password' and 'groups' options.")
                }
                i += 2
            }
            list.users[name] = user
        default:
            alert(at, "unknown keyword '\(keyword)' in 'userlist' section")
        }
    }

    /// What only the whole file tells: the lists named exist, the groups users name are declared.
    mutating func checkUserlists() {
        for (name, at) in userlistTests where configuration.userlists[name] == nil {
            alert(at, "'http_auth' : unable to find userlist '\(name)'.")
        }
        for (name, list) in configuration.userlists.sorted(by: { $0.key < $1.key }) {
            for (user, entry) in list.users.sorted(by: { $0.key < $1.key }) {
                for group in entry.groups.sorted() where !list.groups.contains(group) {
                    alert(
                        userlistOrder[name] ?? SourceLocation(file: "", line: 0),
                        "userlist '\(name)': no such group '\(group)' specified in user '\(user)'.")
                }
            }
        }
    }
}
