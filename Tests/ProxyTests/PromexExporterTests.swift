import Testing

@testable import Proxy

/// The exporter's request options and value rules (the live comparison is `PrometheusExporterInteropTests`).
@Suite("Prometheus exporter")
struct PromexExporterTests {
    @Test func scopesAsHAProxyReadsThem() {
        #expect(PromexExporter.Request(query: "").scopes == ["global", "frontend", "backend", "server"])
        #expect(PromexExporter.Request(query: "scope=backend&scope=server").scopes == ["backend", "server"])
        #expect(PromexExporter.Request(query: "scope=").scopes.isEmpty, "an empty scope asks for none")
        #expect(PromexExporter.Request(query: "scope=*").scopes.count == 4)
        #expect(PromexExporter.Request(query: "no-maint").noMaint)
    }

    @Test func serverStatesFromShowStat() {
        #expect(PromexExporter.serverState("UP 1/3") == "UP")
        #expect(PromexExporter.serverState("no check") == "UP")
        #expect(PromexExporter.serverState("MAINT (resolution)") == "MAINT")
        #expect(PromexExporter.serverState("DOWN 1/2") == "DOWN")
        #expect(PromexExporter.serverState("DRAIN") == "DRAIN")
    }

    @Test func metricsInHAProxysOrderWithTheirTypes() {
        let backend = PromexExporter.metrics.filter { $0.objects.contains(.backend) }.map(\.name)
        #expect(backend.first == "current_queue")
        #expect(Array(backend.suffix(4)) == ["uweight", "agg_server_status", "agg_server_check_status", "agg_check_status"])
        #expect(PromexExporter.metrics.filter { $0.name == "http_responses_total" }.count == 6)
        #expect(PromexExporter.metrics.first { $0.name == "sessions_total" }?.counter == true)
    }
}
