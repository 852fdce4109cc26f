-- Tiny CORS helper for tests: copies Origin into a txn variable.
core.register_action("cors-origin", { "http-req" }, function(txn)
    local origin = txn.sf:req_hdr("Origin") or ""
    txn:set_var("txn.cors_origin", origin)
end, 0)
