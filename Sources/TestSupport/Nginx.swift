import Foundation

/// Debian's nginx on 127.0.0.1 (one worker, in the foreground), serving `index.html` from its own directory,
/// `/post` answering `posted` to any method, and 404 for anything else: the real origin server of the HTTP interop
/// tests and the demo.
///
/// With `tls`, two TLS listeners too (the certificate and key given; client certificates checked against `tls.ca`
/// when sent): `tlsPort`, and `tlsProxyPort`, which expects a PROXY protocol header first. On both, `/sni` answers
/// what the connection carried: the SNI, the client certificate's verdict and subject, the PROXY header's address.
public final class Nginx: Sendable {
    public let port: Int
    /// The TLS listeners (0 without `tls`).
    public let tlsPort: Int
    public let tlsProxyPort: Int
    public let directory: String
    private let peer: RunningPeer
    public static let page = "<html><body>Hello from nginx</body></html>\n"

    public init(in dir: TemporaryDirectory, tls: (certificate: String, key: String, ca: String)? = nil) throws {
        let nginx = try Peers.find("nginx")
        port = try Peers.freePort()
        let tlsPorts = tls == nil ? (0, 0) : (try Peers.freePort(), try Peers.freePort())
        (tlsPort, tlsProxyPort) = tlsPorts
        let directory = dir.file("nginx")
        self.directory = directory
        let tlsServers =
            tls.map { tls in
                [(tlsPorts.0, ""), (tlsPorts.1, " proxy_protocol")].map { port, option in
                    """
                        server {
                            listen 127.0.0.1:\(port) ssl\(option);
                            ssl_certificate \(tls.certificate);
                            ssl_certificate_key \(tls.key);
                            ssl_client_certificate \(tls.ca);
                            ssl_verify_client optional;
                            root \(directory)/html;
                            location = /sni {
                                return 200 "sni=$ssl_server_name client=$ssl_client_verify $ssl_client_s_dn proxy=$proxy_protocol_addr\\n";
                            }
                        }
                    """
                }.joined(separator: "\n")
            } ?? ""
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
                        return 200 "orig=$http_x_original_to xff=$http_x_forwarded_for real=$http_x_real_ip gate=$http_x_gate\\n";
                    }
                }
            \(tlsServers)
            }

            """
        try config.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        peer = try RunningPeer(
            nginx, ["-p", directory, "-c", directory + "/nginx.conf", "-e", directory + "/logs/error.log"],
            logPath: directory + "/nginx.out")
        guard Peers.waitUntil(seconds: 10, { Peers.isListening(port: port) && (tls == nil || Peers.isListening(port: tlsPorts.0)) })
        else {
            throw PeerFailed(description: "nginx did not listen: \(peer.output)")
        }
    }

    public func stop() { peer.stop() }
}
