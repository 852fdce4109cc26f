// rsyslog's golden parser vectors (tests/parsertest-*.sh in rsyslog's source), as data. Each input is what the test
// sends (without the trailing LF); each expected line is what rsyslog's template renders from the parsed message.
// Vectors whose expected hostname is the receiver's name for 127.0.0.1 are given `localhost`, the fromhost the
// tests inject. The parse3 regex column is template-engine output and is computed by the test, not the parser.
@testable import SyslogProtocol

let rsyslogGoldenVectors: [GoldenVector] = [
    GoldenVector(
        "<167>Mar  6 16:57:54 172.20.245.8 %PIX-7-710005: UDP request discarded from SERVER1/2741 to test_app:255.255.255.255/61601",
        .standard, .defaults,
        "167,local4,debug,Mar  6 16:57:54,172.20.245.8,%PIX-7-710005,%PIX-7-710005:, UDP request discarded from SERVER1/2741 to test_app:255.255.255.255/61601",
        "parsertest-parse1.sh message #1"),
    GoldenVector(
        "<167>Mar 27 19:06:53 source_server sshd(pam_unix)[12750]: session opened for user foo by (uid=0)",
        .standard, .defaults,
        "167,local4,debug,Mar 27 19:06:53,source_server,sshd(pam_unix),sshd(pam_unix)[12750]:, session opened for user foo by (uid=0)",
        "parsertest-parse1.sh message #2"),
    GoldenVector(
        "<167>Apr  6 15:07:10 lxcvs07 sshd(pam_unix)[31738]: session closed for user cvsadmin",
        .standard, .defaults,
        "167,local4,debug,Apr  6 15:07:10,lxcvs07,sshd(pam_unix),sshd(pam_unix)[31738]:, session closed for user cvsadmin",
        "parsertest-parse1.sh message #3"),
    GoldenVector(
        "<167>Jul 31 21:39:21 example-b example-gw[10538]: disconnect host=/192.0.2.1 destination=192.0.2.2/11282 in=3274 out=1448 duration=0",
        .standard, .defaults,
        "167,local4,debug,Jul 31 21:39:21,example-b,example-gw,example-gw[10538]:, disconnect host=/192.0.2.1 destination=192.0.2.2/11282 in=3274 out=1448 duration=0",
        "parsertest-parse1.sh message #4"),
    GoldenVector(
        "<167>AUG 10 22:18:24 host tag This msg contains 8-bit European chars: äöü",
        .standard, .defaults,
        "167,local4,debug,Aug 10 22:18:24,host,tag,tag, This msg contains 8-bit European chars: äöü",
        "parsertest-parse1.sh message #5"),
    GoldenVector(
        "<167> Mar  7 19:06:53 example tag: testmessage (only date actually tested)",
        .standard, .defaults,
        "167,local4,debug,Mar  7 19:06:53,example,tag,tag:, testmessage (only date actually tested)",
        "parsertest-parse1.sh message #6"),
    GoldenVector(
        "<167>Mar 7 2008 19:06:53: example tag: testmessage (only date actually tested)",
        .standard, .defaults,
        "167,local4,debug,Mar  7 19:06:53,example,tag,tag:, testmessage (only date actually tested)",
        "parsertest-parse1.sh message #7"),
    GoldenVector(
        "<167>Mar 7 2008 19:06:53 example tag: testmessage (only date actually tested)",
        .standard, .defaults,
        "167,local4,debug,Mar  7 19:06:53,example,tag,tag:, testmessage (only date actually tested)",
        "parsertest-parse1.sh message #8"),
    GoldenVector(
        "<167>Mar 7 19:06:53: example tag: testmessage (only date actually tested)",
        .standard, .defaults,
        "167,local4,debug,Mar  7 19:06:53,example,tag,tag:, testmessage (only date actually tested)",
        "parsertest-parse1.sh message #9"),
    GoldenVector(
        "<14>Jan  6 2009 15:22:26 localhost",
        .standard, .defaults,
        "14,user,info,Jan  6 15:22:26,localhost,,,",
        "parsertest-parse1.sh message #10"),
    GoldenVector(
        "<167>Oct  8 23:05:06 10.321.1.123 05\",result_code=200,b",
        .standard, .defaults,
        "167,local4,debug,Oct  8 23:05:06,10.321.1.123,05\",result_code=200,b,05\",result_code=200,b,",
        "parsertest-parse1.sh message #11"),
    GoldenVector(
        "<167>Feb 18 16:01:59 serverX -- MARK --",
        .standard, .defaults,
        "167,local4,debug,Feb 18 16:01:59,serverX,--,--, MARK --",
        "parsertest-parse1.sh message #12"),
    GoldenVector(
        "Feb 18 16:01:59 serverX -- MARK --",
        .standard, .defaults,
        "13,user,notice,Feb 18 16:01:59,serverX,--,--, MARK --",
        "parsertest-parse1.sh message #13"),
    GoldenVector(
        "<38>Mar 27 19:06:53 source_server 0123456789012345678901234567890123456789: MSG part",
        .standard, .defaults,
        "38,auth,info,Mar 27 19:06:53,source_server,0123456789012345678901234567890123456789,0123456789012345678901234567890123456789:, MSG part",
        "parsertest-parse1.sh message #14"),
    GoldenVector(
        "<29>Oct 16 20:47:24 example-p exam-pl[12345]: connect host= /192.0.2.1",
        .standard, .defaults,
        "29,daemon,notice,Oct 16 20:47:24,example-p,exam-pl,exam-pl[12345]:, connect host= /192.0.2.1",
        "parsertest-parse1.sh message #15"),
    GoldenVector(
        "<34>Oct 11 22:14:15 mymachine su: su root failed for lonvick on /dev/pts/8",
        .standard, .defaults,
        "34,auth,crit,Oct 11 22:14:15,mymachine,su,su:, su root failed for lonvick on /dev/pts/8",
        "parsertest-parse1.sh message #16"),
    GoldenVector(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOMsu root failed for lonvick on /dev/pts/8",
        .standard, .defaults,
        "34,auth,crit,Oct 11 22:14:15,mymachine.example.com,su,su,BOMsu root failed for lonvick on /dev/pts/8",
        "parsertest-parse1.sh message #17"),
    GoldenVector(
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% Its time to make the do-nuts.",
        .standard, .defaults,
        "165,local4,notice,Aug 24 05:14:15,192.0.2.1,myproc,myproc[8710],%% Its time to make the do-nuts.",
        "parsertest-parse1.sh message #18"),
    GoldenVector(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource= \"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
        .standard, .defaults,
        "165,local4,notice,Oct 11 22:14:15,mymachine.example.com,evntslog,evntslog,",
        "parsertest-parse1.sh message #19"),
    GoldenVector(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource= \"Application\" eventID=\"1011\"] BOMAn application event log entry...",
        .standard, .defaults,
        "165,local4,notice,Oct 11 22:14:15,mymachine.example.com,evntslog,evntslog,BOMAn application event log entry...",
        "parsertest-parse1.sh message #20"),
    GoldenVector(
        "<6>AUG 10 22:18:24 2009  netips-warden2-p [audit] user=[*SMS] src=192.168.11.11 iface=5 access=9 Update State Reset",
        .standard, .defaults,
        "6,kern,info,Aug 10 22:18:24,2009,,, netips-warden2-p [audit] user=[*SMS] src=192.168.11.11 iface=5 access=9 Update State Reset",
        "parsertest-parse1.sh message #21"),
    GoldenVector(
        "<14>Aug 30 23:00:05 X4711 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,X4711,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,",
        "parsertest-parse1.sh message #22"),
    GoldenVector(
        "<14>Aug 30 23:00:05 X4711 ",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,X4711,,,",
        "parsertest-parse1.sh message #23"),
    GoldenVector(
        "<14>Aug 30 23:00:05 X4711",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,X4711,,,",
        "parsertest-parse1.sh message #24"),
    GoldenVector(
        "<14>2010-08-30T23:00:05Z X4711 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,X4711,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,",
        "parsertest-parse1.sh message #27"),
    GoldenVector(
        "<14>2010-08-30T23:00:05Z X4711 ",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,X4711,,,",
        "parsertest-parse1.sh message #28"),
    GoldenVector(
        "<14>2010-08-30T23:00:05Z X4711",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,X4711,,,",
        "parsertest-parse1.sh message #29"),
    GoldenVector(
        "<175>Oct 16 23:47:31 #001 MSWinEventLog 0#011Security#01119023582#011Fri Oct 16 16:30:44 2009#011592#011Security#011rgabcde#011User#011Success Audit#011XSXSXSN01#011Detailed Tracking#011#0112572#01119013885",
        .noHostname, .defaults,
        "175,local5,debug,Oct 16 23:47:31,#001,#001, MSWinEventLog 0#011Security#01119023582#011Fri Oct 16 16:30:44 2009#011592#011Security#011rgabcde#011User#011Success Audit#011XSXSXSN01#011Detailed Tracking#011#0112572#01119013885",
        "parsertest-parse2.sh message #1"),
    GoldenVector(
        "<175>Oct 16 2009 23:47:31 hostname tag This is a message",
        .csvRFC3339, .defaults,
        "\"2009-10-16T23:47:31\", \"hostname\", \"tag\", \"\", \"7\", \" This is a message\"",
        "parsertest-parse3.sh message #1"),
    GoldenVector(
        "<175>Oct 16 2009 23:47:31 hostname tag[1234] This is a message",
        .csvRFC3339, .defaults,
        "\"2009-10-16T23:47:31\", \"hostname\", \"tag\", \"1234\", \"7\", \" This is a message\"",
        "parsertest-parse3.sh message #2"),
    GoldenVector(
        "This is a message!",
        .noTimestamp, .defaults,
        "13,user,notice,This,is,is, a message!",
        "parsertest-parse-nodate.sh message #2"),
    GoldenVector(
        "<38> Mar  7 19:06:53 example tag: testmessage (only date actually tested)",
        .buggyDay, .defaults,
        "38,auth,info,Mar 07 19:06:53,example,tag,tag:, testmessage (only date actually tested)",
        "parsertest-parse-3164-buggyday.sh message #1"),
    GoldenVector(
        "<38> Mar 17 19:06:53 example tag: testmessage (only date actually tested)",
        .buggyDay, .defaults,
        "38,auth,info,Mar 17 19:06:53,example,tag,tag:, testmessage (only date actually tested)",
        "parsertest-parse-3164-buggyday.sh message #2"),
    GoldenVector(
        "<6>AUG 10 22:18:24 host tag This msg contains 8-bit European chars: äöü",
        .standard, .escape8Bit,
        "6,kern,info,Aug 10 22:18:24,host,tag,tag, This msg contains 8-bit European chars: #303#244#303#266#303#274",
        "parsertest-parse_8bit_escape.sh message #1"),
    GoldenVector(
        "<175>Feb 08 2008 23:47:31 hostname tag This is a message",
        .csvRFC3339, .defaults,
        "\"2008-02-08T23:47:31\", \"hostname\", \"tag\", \"<regex>\", \"7\", \" This is a message\"",
        "parsertest-parse_invld_regex.sh message #1"),
    GoldenVector(
        "test",
        .sqlSpaceCC, .noControlEscape,
        "insert into windows (Message, Facility,FromHost, Priority, DeviceReportedTime, ReceivedAt, InfoUnitID, SysLogTag) values (, 1, test,5, 20100321185328, 20100321185328, 1, )",
        "parsertest-snare_ccoff_udp2.sh message #1"),
    GoldenVector(
        "<14>Aug 30 23:00:05 ",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,localhost,,,",
        "parsertest-parse1.sh message #25"),
    GoldenVector(
        "<14>Aug 30 23:00:05",
        .standard, .defaults,
        "14,user,info,Aug 30 23:00:05,localhost,,,",
        "parsertest-parse1.sh message #26"),
    GoldenVector(
        "<27>xapi: [error|xen3|15|Guest liveness monitor D:bca30ab3f1c1|master_connection] Connection to master died. I will continue to retry indefinitely (suppressing future logging of this message)",
        .noTimestamp, .defaults,
        "27,daemon,err,localhost,xapi,xapi:, [error|xen3|15|Guest liveness monitor D:bca30ab3f1c1|master_connection] Connection to master died. I will continue to retry indefinitely (suppressing future logging of this message)",
        "parsertest-parse-nodate.sh message #1"),
    GoldenVector(
        "windowsserver\u{09}MSWinEventLog\u{09}1\u{09}Security\u{09}1167\u{09}Fri Mar 19 15:33:30 2010\u{09}540\u{09}Security\u{09}SYSTEM\u{09}User\u{09}Success Audit\u{09}WINDOWSSERVER\u{09}Logon/Logoff\u{09}\u{09}Successful Network Logon:     User Name: WINDOWSSERVER$     Domain: DOMX     Logon ID: (0x0,0xF88396)     Logon Type: 3     Logon Process: Kerberos     Authentication Package: Kerberos     Workstation Name:      Logon GUID: {79b6eb79-7bcc-8a2e-7dad-953c51dc00fd}     Caller User Name: -     Caller Domain: -     Caller Logon ID: -     Caller Process ID: -     Transited Services: -     Source Network Address: 10.11.11.3     Source Port: 3306    \u{09}733\\n",
        .noTimestamp, .noControlEscape,
        "13,user,notice,localhost,windowsserver,windowsserver\u{09}MSWinEventLog\u{09}1\u{09}Security\u{09}1167\u{09}Fri, Mar 19 15:33:30 2010\u{09}540\u{09}Security\u{09}SYSTEM\u{09}User\u{09}Success Audit\u{09}WINDOWSSERVER\u{09}Logon/Logoff\u{09}\u{09}Successful Network Logon:     User Name: WINDOWSSERVER$     Domain: DOMX     Logon ID: (0x0,0xF88396)     Logon Type: 3     Logon Process: Kerberos     Authentication Package: Kerberos     Workstation Name:      Logon GUID: {79b6eb79-7bcc-8a2e-7dad-953c51dc00fd}     Caller User Name: -     Caller Domain: -     Caller Logon ID: -     Caller Process ID: -     Transited Services: -     Source Network Address: 10.11.11.3     Source Port: 3306    \u{09}733\\n",
        "parsertest-snare_ccoff_udp.sh message #1"),
    GoldenVector(
        "UX=Abcd-efg-hij-klmno; XXXXX=1111111111, Z123=192.12.231.245:11111, S1234=123456789, XXXXXX=111111111",
        .sqlSpaceCC, .noControlEscape,
        "insert into windows (Message, Facility,FromHost, Priority, DeviceReportedTime, ReceivedAt, InfoUnitID, SysLogTag) values ( XXXXX=1111111111, Z123=192.12.231.245:11111, S1234=123456789, XXXXXX=111111111, 1, localhost,5, 20100321185328, 20100321185328, 1, UX=Abcd-efg-hij-klmno;)",
        "parsertest-snare_ccoff_udp2.sh message #2"),
    GoldenVector(
        "windowsserver\u{09}MSWinEventLog\u{09}1\u{09}Security\u{09}1167\u{09}Fri Mar 19 15:33:30 2010\u{09}540\u{09}Security\u{09}SYSTEM\u{09}User\u{09}Success Audit\u{09}WINDOWSSERVER\u{09}Logon/Logoff\u{09}\u{09}Successful Network Logon:     User Name: WINDOWSSERVER$     Domain: DOMX     Logon ID: (0x0,0xF88396)     Logon Type: 3     Logon Process: Kerberos     Authentication Package: Kerberos     Workstation Name:      Logon GUID: {79b6eb79-7bcc-8a2e-7dad-953c51dc00fd}     Caller User Name: -     Caller Domain: -     Caller Logon ID: -     Caller Process ID: -     Transited Services: -     Source Network Address: 10.11.11.3     Source Port: 3306    \u{09}733\\n",
        .sqlSpaceCC, .noControlEscape,
        "insert into windows (Message, Facility,FromHost, Priority, DeviceReportedTime, ReceivedAt, InfoUnitID, SysLogTag) values ( Mar 19 15:33:30 2010 540 Security SYSTEM User Success Audit WINDOWSSERVER Logon/Logoff  Successful Network Logon:     User Name: WINDOWSSERVER$     Domain: DOMX     Logon ID: (0x0,0xF88396)     Logon Type: 3     Logon Process: Kerberos     Authentication Package: Kerberos     Workstation Name:      Logon GUID: {79b6eb79-7bcc-8a2e-7dad-953c51dc00fd}     Caller User Name: -     Caller Domain: -     Caller Logon ID: -     Caller Process ID: -     Transited Services: -     Source Network Address: 10.11.11.3     Source Port: 3306     733\\n, 1, localhost,5, 20100321185328, 20100321185328, 1, windowsserver MSWinEventLog 1 Security 1167 Fri)",
        "parsertest-snare_ccoff_udp2.sh message #3"),
]
