import LogCore

/// `show stat typed` and `show stat json`: each non-empty field of each row with its position, HAProxy 2.6's tags
/// (`StatsFieldTags`) and type.
enum StatsTyped {
    private static let positions = Dictionary(
        StatsCSV.columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })

    private static func fields(_ record: StatsCSV.Record) -> [(pos: Int, name: String, tags: String, type: String, value: String)] {
        var out: [(Int, String, String, String, String)] = []
        for (pos, name) in StatsCSV.columns.enumerated() {
            guard let value = record.fields[name], !value.isEmpty, let entry = StatsFieldTags.stat[name] else { continue }
            let tags: String? =
                switch record.kind {
                case .frontend: entry.frontend
                case .backend: entry.backend
                case .server: entry.server
                }
            guard let tags else { continue }
            out.append((pos, name, tags, entry.type, value))
        }
        return out
    }

    static func typed(_ records: [StatsCSV.Record]) -> String {
        var out = ""
        for record in records {
            for f in fields(record) {
                out += "\(record.kind.rawValue).\(record.iid).\(record.sid).\(f.pos).\(f.name).1:\(f.tags):\(f.type):\(f.value)\n"
            }
        }
        return out
    }

    static func json(_ records: [StatsCSV.Record]) -> String {
        let rows = records.map { record -> String in
            let items = fields(record).map { f -> String in
                let names = StatsFieldTags.names(f.tags)
                return "{\"objType\":\"\(record.kind.objType)\",\"proxyId\":\(record.iid),\"id\":\(record.sid),"
                    + "\"field\":{\"pos\":\(f.pos),\"name\":\"\(f.name)\"},\"processNum\":1,"
                    + "\"tags\":{\"origin\":\"\(names.origin)\",\"nature\":\"\(names.nature)\",\"scope\":\"\(names.scope)\"},"
                    + "\"value\":{\"type\":\"\(f.type)\",\"value\":\(JSONText.value(f.value, type: f.type))}}"
            }
            return "[" + items.joined(separator: ",") + "]"
        }
        return "[" + rows.joined(separator: ",") + "]\n"
    }
}
