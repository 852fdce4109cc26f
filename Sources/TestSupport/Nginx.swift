import Foundation

/// Debian's nginx on 127.0.0.1 (one worker, in the foreground), serving `index.html` from its own directory,
/// `/post` answering `posted` to any method, and 404 for anything else: the real origin server of the HTTP interop
/// tests and the demo.
public final class Nginx: Sendable {
    public let port: Int
    public let directory: String
    private let peer: RunningPeer
    public static let page = "<html><body>Hello from nginx</body></html>\n"

    public init(in dir: TemporaryDirectory) throws {
        let nginx = try Peers.find("nginx")
        port = try Peers.freePort()
        directory = dir.file("nginx")
        try FileManager.default.createDirectory(atPath: directory + "/html", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        try Nginx.page.write(toFile: directory + "/html/index.html", atomically: true, encoding: .utf8)
        let config = """
            worker_processes 1;
            daemon off;
            pid \(directory)/nginx.pid;
            error_log \(directory)/logs/error.log;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(directory)/body;
                server {
                    listen 127.0.0.1:\(port);
                    root \(directory)/html;
                    location = /post { return 200 "posted\\n"; }
                    # What reached the server, for the tests of header rules and forwardfor.
                    location = /headers {
                        return 200 "xff=$http_x_forwarded_for real=$http_x_real_ip gate=$http_x_gate\\n";
                    }
                }
            }

            """
        try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        peer = try RunningPeer(
            nginx, ["-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/logs/error.log"],
            logPath: directory + "/nginx.out")
        guard Peers.waitUntil(seconds: 10, { Peers.isListening(port: port) }) else {
            throw PeerFailed(description: "nginx did not listen: \(peer.output)")
        }
    }

    public func stop() { peer.stop() }
}
