/// The tags HAProxy 2.6 gives each field of `show stat` and `show info` in their `typed` and `json` forms: origin
/// (Key, Config, Product, Status, Metric), nature (Name, Gauge, Limit, Max, Counter, Rate, Age, avg, Duration,
/// Output) and scope (Process, Service), then the value's type. Facts read from HAProxy 2.6.12's own `typed`
/// answers; a field this build never fills has no entry.
enum StatsFieldTags {
    /// Per `show stat` column: the tags for a frontend, backend and server row (nil: HAProxy never shows the field
    /// there), and the type.
    static let stat: [String: (frontend: String?, backend: String?, server: String?, type: String)] = [
        "pxname": ("KNS", "KNS", "KNS", "str"),
        "svname": ("KNS", "KNS", "KNS", "str"),
        "qcur": (nil, "MGP", "MGP", "u32"),
        "qmax": (nil, "MMP", "MMP", "u32"),
        "scur": ("MGP", "MGP", "MGP", "u32"),
        "smax": ("MMP", "MMP", "MMP", "u32"),
        "slim": ("CLP", "CLP", "CLP", "u32"),
        "stot": ("MCP", "MCP", "MCP", "u64"),
        "bin": ("MCP", "MCP", "MCP", "u64"),
        "bout": ("MCP", "MCP", "MCP", "u64"),
        "dreq": ("MCP", "MCP", nil, "u64"),
        "dresp": ("MCP", "MCP", "MCP", "u64"),
        "ereq": ("MCP", nil, nil, "u64"),
        "econ": (nil, "MCP", "MCP", "u64"),
        "eresp": (nil, "MCP", "MCP", "u64"),
        "wretr": (nil, "MCP", "MCP", "u64"),
        "wredis": (nil, "MCP", "MCP", "u64"),
        "status": ("SGP", "SGP", "SGP", "str"),
        "weight": (nil, "MaP", "MaP", "u32"),
        "act": (nil, "MGP", "SGP", "u32"),
        "bck": (nil, "MGP", "SGP", "u32"),
        "chkfail": (nil, nil, "MCP", "u64"),
        "chkdown": (nil, "MCP", "MCP", "u64"),
        "lastchg": (nil, "MAP", "MAP", "u32"),
        "downtime": (nil, "MCP", "MCP", "u32"),
        "pid": ("KGP", "KGP", "KGP", "u32"),
        "iid": ("KGS", "KGS", "KGS", "u32"),
        "sid": ("KGS", "KGS", "KGS", "u32"),
        "lbtot": (nil, "MCP", "MCP", "u64"),
        "type": ("CGS", "CGS", "CGS", "u32"),
        "rate": ("MRP", "MGP", "MRP", "u32"),
        "rate_lim": ("CLP", nil, nil, "u32"),
        "rate_max": ("MMP", "MGP", "MMP", "u32"),
        "check_status": (nil, nil, "MOP", "str"),
        "check_duration": (nil, nil, "MDP", "u64"),
        "hrsp_1xx": ("MCP", "MCP", "MCP", "u64"),
        "hrsp_2xx": ("MCP", "MCP", "MCP", "u64"),
        "hrsp_3xx": ("MCP", "MCP", "MCP", "u64"),
        "hrsp_4xx": ("MCP", "MCP", "MCP", "u64"),
        "hrsp_5xx": ("MCP", "MCP", "MCP", "u64"),
        "hrsp_other": ("MCP", "MCP", "MCP", "u64"),
        "req_rate": ("MRP", nil, nil, "u32"),
        "req_rate_max": ("MMP", nil, nil, "u32"),
        "req_tot": ("MCP", "MCP", "MCP", "u64"),
        "cli_abrt": (nil, "MCP", "MCP", "u64"),
        "srv_abrt": (nil, "MCP", "MCP", "u64"),
        "comp_in": ("MCP", "MCP", nil, "u64"),
        "comp_out": ("MCP", "MCP", nil, "u64"),
        "comp_byp": ("MCP", "MCP", nil, "u64"),
        "comp_rsp": ("MCP", "MCP", nil, "u64"),
        "lastsess": (nil, "MAP", "MAP", "s32"),
        "last_chk": (nil, nil, "MOP", "str"),
        "qtime": (nil, "MaP", "MaP", "u32"),
        "ctime": (nil, "MaP", "MaP", "u32"),
        "rtime": (nil, "MaP", "MaP", "u32"),
        "ttime": (nil, "MaP", "MaP", "u32"),
        "check_desc": (nil, nil, "MOP", "str"),
        "check_rise": (nil, nil, "CGS", "u32"),
        "check_fall": (nil, nil, "CGS", "u32"),
        "check_health": (nil, nil, "CGS", "u32"),
        "addr": (nil, nil, "CGS", "str"),
        "mode": ("CGS", "CGS", "CGS", "str"),
        "algo": (nil, "CGS", nil, "str"),
        "conn_rate": ("MRP", nil, nil, "u32"),
        "conn_rate_max": ("MMP", nil, nil, "u32"),
        "conn_tot": ("MCP", nil, nil, "u64"),
        "intercepted": ("MCP", nil, nil, "u64"),
        "dcon": ("MCP", nil, nil, "u64"),
        "dses": ("MCP", nil, nil, "u64"),
        "wrew": ("MCP", "MCP", "MCP", "u64"),
        "connect": (nil, "MCP", "MCP", "u64"),
        "reuse": (nil, "MCP", "MCP", "u64"),
        "cache_lookups": ("MCP", "MCP", nil, "u64"),
        "cache_hits": ("MCP", "MCP", nil, "u64"),
        "srv_icur": (nil, nil, "MGP", "u32"),
        "qtime_max": (nil, "MMP", "MMP", "u32"),
        "ctime_max": (nil, "MMP", "MMP", "u32"),
        "rtime_max": (nil, "MMP", "MMP", "u32"),
        "ttime_max": (nil, "MMP", "MMP", "u32"),
        "eint": ("MCP", "MCP", "MCP", "u64"),
        "idle_conn_cur": (nil, nil, "MGP", "u32"),
        "safe_conn_cur": (nil, nil, "MGP", "u32"),
        "used_conn_cur": (nil, nil, "MGP", "u32"),
        "need_conn_est": (nil, nil, "MGP", "u32"),
        "uweight": (nil, "MaP", "MaP", "u32"),
        "agg_server_status": (nil, "MGP", nil, "u32"),
        "agg_server_check_status": (nil, "MGP", nil, "u32"),
        "agg_check_status": (nil, "MGP", nil, "u32"),
        "check_code": (nil, nil, "MOP", "u32"),
    ]

    /// `show info`'s fields in order, with their position (HAProxy skips the positions of fields a build lacks),
    /// tags and type.
    static let info: [(position: Int, name: String, tags: String, type: String)] = [
        (0, "Name", "POS", "str"),
        (1, "Version", "POS", "str"),
        (2, "Release_date", "POS", "str"),
        (3, "Nbthread", "CGS", "u32"),
        (4, "Nbproc", "CGS", "u32"),
        (5, "Process_num", "KGP", "u32"),
        (6, "Pid", "SGP", "u32"),
        (7, "Uptime", "MDP", "str"),
        (8, "Uptime_sec", "MDP", "u32"),
        (9, "Memmax_MB", "CLP", "u32"),
        (10, "PoolAlloc_MB", "MGP", "u32"),
        (11, "PoolUsed_MB", "MGP", "u32"),
        (12, "PoolFailed", "MCP", "u32"),
        (13, "Ulimit-n", "CLP", "u32"),
        (14, "Maxsock", "CLP", "u32"),
        (15, "Maxconn", "CLP", "u32"),
        (16, "Hard_maxconn", "CLP", "u32"),
        (17, "CurrConns", "MGP", "u32"),
        (18, "CumConns", "MCP", "u32"),
        (19, "CumReq", "MCP", "u32"),
        (20, "MaxSslConns", "MMP", "u32"),
        (21, "CurrSslConns", "MGP", "u32"),
        (22, "CumSslConns", "MCP", "u32"),
        (23, "Maxpipes", "CLP", "u32"),
        (24, "PipesUsed", "MGP", "u32"),
        (25, "PipesFree", "MGP", "u32"),
        (26, "ConnRate", "MRP", "u32"),
        (27, "ConnRateLimit", "CLP", "u32"),
        (28, "MaxConnRate", "MMP", "u32"),
        (29, "SessRate", "MRP", "u32"),
        (30, "SessRateLimit", "CLP", "u32"),
        (31, "MaxSessRate", "MRP", "u32"),
        (32, "SslRate", "MRP", "u32"),
        (33, "SslRateLimit", "CLP", "u32"),
        (34, "MaxSslRate", "MMP", "u32"),
        (35, "SslFrontendKeyRate", "MGP", "u32"),
        (36, "SslFrontendMaxKeyRate", "MMP", "u32"),
        (37, "SslFrontendSessionReuse_pct", "MGP", "u32"),
        (38, "SslBackendKeyRate", "MRP", "u32"),
        (39, "SslBackendMaxKeyRate", "MMP", "u32"),
        (40, "SslCacheLookups", "MCP", "u32"),
        (41, "SslCacheMisses", "MCP", "u32"),
        (42, "CompressBpsIn", "MRP", "u32"),
        (43, "CompressBpsOut", "MRP", "u32"),
        (44, "CompressBpsRateLim", "CLP", "u32"),
        (47, "Tasks", "MGP", "u32"),
        (48, "Run_queue", "MGP", "u32"),
        (49, "Idle_pct", "MaP", "u32"),
        (50, "node", "COS", "str"),
        (52, "Stopping", "MGP", "u32"),
        (53, "Jobs", "MGP", "u32"),
        (54, "Unstoppable Jobs", "MGP", "u32"),
        (55, "Listeners", "MGP", "u32"),
        (56, "ActivePeers", "MGP", "u32"),
        (57, "ConnectedPeers", "MGP", "u32"),
        (58, "DroppedLogs", "MGP", "u32"),
        (59, "BusyPolling", "MGP", "u32"),
        (60, "FailedResolutions", "MGP", "u32"),
        (61, "TotalBytesOut", "MGP", "u64"),
        (62, "TotalSplicdedBytesOut", "MGP", "u64"),
        (63, "BytesOutRate", "MRP", "u64"),
        (64, "DebugCommandsIssued", "MGP", "u32"),
        (65, "CumRecvLogs", "MCP", "u32"),
        (66, "Build info", "POS", "str"),
        (67, "Memmax_bytes", "CLP", "u32"),
        (68, "PoolAlloc_bytes", "MGP", "u64"),
        (69, "PoolUsed_bytes", "MGP", "u64"),
        (70, "Start_time_sec", "MDP", "u32"),
        (71, "Tainted", "SGP", "str"),
    ]

    /// The JSON names of a tag's three letters.
    static func names(_ tags: String) -> (origin: String, nature: String, scope: String) {
        let letters = Array(tags)
        guard letters.count == 3 else { return ("Unknown", "Unknown", "Unknown") }
        let origin: String =
            switch letters[0] {
            case "M": "Metric"
            case "S": "Status"
            case "K": "Key"
            case "C": "Config"
            case "P": "Product"
            default: "Unknown"
            }
        let nature: String =
            switch letters[1] {
            case "A": "Age"
            case "a": "Avg"
            case "C": "Counter"
            case "D": "Duration"
            case "G": "Gauge"
            case "L": "Limit"
            case "M": "Max"
            case "N": "Name"
            case "O": "Output"
            case "R": "Rate"
            case "T": "Time"
            default: "Unknown"
            }
        let scope: String =
            switch letters[2] {
            case "P": "Process"
            case "S": "Service"
            case "s": "System"
            case "C": "Cluster"
            default: "Unknown"
            }
        return (origin, nature, scope)
    }
}
