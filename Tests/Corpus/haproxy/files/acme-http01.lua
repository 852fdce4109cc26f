-- Minimal ACME http-01 responder for tests: answers every token with a fixed body.
core.register_service("acme-http01", "http", function(applet)
    local body = "tollgate-acme-token\n"
    applet:set_status(200)
    applet:add_header("content-type", "text/plain")
    applet:add_header("content-length", tostring(#body))
    applet:start_response()
    applet:send(body)
end)
