import Foundation
import TestSupport
import Testing

/// `syslog-sink -N1` beside Debian's `rsyslogd -N1` on forms found in real-world files: both accept, or both refuse.
@Suite("syslog-sink -N1 against real rsyslogd -N1")
struct SinkConfigInteropTests {
    static let accepted = [
        // A `/*` inside a `#` comment (Red Hat's stock header) opens no block comment.
        "# /* rsyslog configuration file\n#  * see /usr/share/doc/rsyslog-*/rsyslog_conf.html\n#  */\n*.info OUT/messages\n",
        // config.enabled: an include, an input and an action left out; one switched on by a backtick constant.
        "include(file=\"/nonexistent/tollgate.conf\" config.enabled=\"off\")\nmodule(load=\"imudp\")\n"
            + "input(type=\"imudp\" port=\"5514\" config.enabled=\"off\")\ninput(type=\"imudp\" port=\"5515\")\n"
            + "action(type=\"omfile\" file=\"OUT/off.log\" config.enabled=\"no\")\n"
            + "action(type=\"omfile\" file=\"OUT/on.log\" config.enabled=`echo on`)\n",
        // A backtick constant in an expression.
        "set $.index = \"logs-\" & `echo $HOME` & \"-main\";\n*.* OUT/x.log\n",
        // A legacy action alone on its line, after a rule.
        "*.info OUT/a.log\nOUT/all.log\n",
        // A built-in module by its built-in name.
        "module(load=\"builtin:omfwd\")\n*.* OUT/x.log\n",
        // Legacy queues with their discard mark below their size; the main queue's new form (its marks follow).
        "$MainMsgQueueSize 50000\n$MainMsgQueueDiscardMark 40000\n*.* OUT/x.log\n",
        "$ActionQueueType LinkedList\n$ActionQueueSize 500\n$ActionQueueDiscardMark 400\n*.* OUT/x.log\n",
        "main_queue(queue.size=\"50000\")\n*.* OUT/x.log\n",
        // imptcp loaded with no input (rsyslogd's -N1 lets it pass).
        "module(load=\"imptcp\")\n*.* OUT/x.log\n",
        // imfile with a state file directory.
        "module(load=\"imfile\" statefile.directory=\"OUT\")\ninput(type=\"imfile\" file=\"OUT/in.log\" tag=\"in:\")\n*.* OUT/x.log\n",
    ]

    static let refused = [
        // Built-in modules by their bare name: rsyslogd looks for a file and finds none.
        "module(load=\"omfwd\")\n*.* OUT/x.log\n",
        "$ModLoad omfile\n*.* OUT/x.log\n",
        // imfile with nowhere for its state files.
        "module(load=\"imfile\")\ninput(type=\"imfile\" file=\"OUT/in.log\" tag=\"in:\")\n*.* OUT/x.log\n",
        // A disabled action is still checked.
        "action(type=\"omfile\" fil=\"OUT/x.log\" config.enabled=\"off\")\n*.* OUT/y.log\n",
        // Legacy queues smaller than their discard mark (98000 for the main queue, 980 for an action's, unless set).
        "$MainMsgQueueSize 50000\n*.* OUT/x.log\n",
        "$ActionQueueType LinkedList\n$ActionQueueSize 500\n*.* OUT/x.log\n",
        // Input modules loaded for nothing (the only input switched off, or none at all).
        "module(load=\"imudp\")\ninput(type=\"imudp\" port=\"5514\" config.enabled=\"off\")\n*.* OUT/x.log\n",
        "$ModLoad imtcp\n*.* OUT/x.log\n",
        "module(load=\"imfile\" statefile.directory=\"OUT\")\n*.* OUT/x.log\n",
    ]

    func check(_ text: String) throws -> (ours: Int32, theirs: Int32, said: String) {
        let dir = try TemporaryDirectory(prefix: "sink-N1")
        try text.replacingOccurrences(of: "OUT", with: dir.path)
            .write(toFile: dir.file("rsyslog.conf"), atomically: true, encoding: .utf8)
        let ours = try Peers.run(try Products.path("syslog-sink"), ["-N1", "-f", dir.file("rsyslog.conf")])
        let theirs = try Peers.run(try Peers.find("rsyslogd"), ["-N1", "-f", dir.file("rsyslog.conf")])
        return (
            ours.status, theirs.status,
            String(decoding: ours.stdout + ours.stderr, as: UTF8.self) + "\n--- rsyslogd:\n"
                + String(decoding: theirs.stdout + theirs.stderr, as: UTF8.self)
        )
    }

    @Test(arguments: accepted)
    func bothAccept(_ text: String) throws {
        let r = try check(text)
        #expect(r.theirs == 0 && r.ours == 0, "\(r.said)")
    }

    @Test(arguments: refused)
    func bothRefuseNamingTheLine(_ text: String) throws {
        let r = try check(text)
        #expect(r.theirs != 0 && r.ours != 0, "\(r.said)")
        #expect(r.said.contains("rsyslog.conf:"), "\(r.said)")
    }
}
