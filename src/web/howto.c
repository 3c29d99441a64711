/* howto.c — the page on closing an open relay: the rule every MTA needs (relay only for your
 * own networks and for authenticated users; accept the rest only for your own domains), in
 * Postfix, Exim, OpenSMTPD and relayguard terms. Static text. */
#include "web_int.h"

/* Each example is pre-escaped HTML (it is constant text: no value from outside). */
static const char howto_body[] =
    "<h1>How to close an open relay</h1>\n"
    "<p>An open relay accepts mail from anybody for anybody. A closed server relays only for "
    "clients it knows (its own networks, users who logged in with SMTP AUTH) and accepts mail "
    "from everybody else only for the domains it is responsible for. After changing the "
    "configuration, test it from <em>outside</em> your network, e.g. with "
    "<code>relayguard probe your.mx.example</code>, then request delisting.</p>\n"

    "<h2>Postfix</h2>\n"
    "<p>Since Postfix 2.10 the relay decision belongs in <code>smtpd_relay_restrictions</code>, "
    "which must end in a refusal of unknown destinations. Keep <code>mynetworks</code> to the "
    "networks you really trust: never <code>0.0.0.0/0</code> or a whole provider range. In "
    "<code>main.cf</code>:</p>\n"
    "<pre>mynetworks = 127.0.0.0/8 [::1]/128 192.0.2.0/24\n"
    "smtpd_relay_restrictions = permit_mynetworks,\n"
    "    permit_sasl_authenticated,\n"
    "    reject_unauth_destination</pre>\n"
    "<p>(<code>defer_unauth_destination</code> in place of the last one answers 4xx, handy "
    "while you test.) Run <code>postfix reload</code> and check with <code>postconf -n "
    "mynetworks smtpd_relay_restrictions smtpd_recipient_restrictions</code> that no "
    "<code>permit</code> comes before the reject.</p>\n"

    "<h2>Exim</h2>\n"
    "<p>The RCPT ACL decides. Hosts that may relay are in the host list "
    "<code>relay_from_hosts</code>; everybody else may only send to your own domains. In the "
    "main section:</p>\n"
    "<pre>domainlist local_domains = @ : example.org\n"
    "domainlist relay_to_domains =\n"
    "hostlist   relay_from_hosts = &lt;; 127.0.0.1 ; ::1 ; 192.0.2.0/24\n"
    "acl_smtp_rcpt = acl_check_rcpt</pre>\n"
    "<p>and in <code>begin acl</code>:</p>\n"
    "<pre>acl_check_rcpt:\n"
    "  accept  hosts         = +relay_from_hosts\n"
    "  accept  authenticated = *\n"
    "  require message       = relay not permitted\n"
    "          domains       = +local_domains : +relay_to_domains\n"
    "  require verify        = recipient\n"
    "  accept</pre>\n"
    "<p>Look for an early <code>accept</code> without conditions, or a "
    "<code>relay_from_hosts</code> that holds <code>*</code> or <code>0.0.0.0/0</code>. "
    "<code>exim -bh 203.0.113.9</code> replays a session from an outside address.</p>\n"

    "<h2>OpenSMTPD</h2>\n"
    "<p>Every envelope goes through the <code>match</code> rules, first match wins, and a "
    "rule names an <code>action</code>. Only local clients and authenticated users may reach "
    "the relaying action; the world may only reach local delivery. In "
    "<code>smtpd.conf</code>:</p>\n"
    "<pre>table aliases file:/etc/mail/aliases\n"
    "action \"local\" maildir alias &lt;aliases&gt;\n"
    "action \"outbound\" relay\n"
    "\n"
    "match from any for domain \"example.org\" action \"local\"\n"
    "match for local action \"local\"\n"
    "match from local for any action \"outbound\"\n"
    "match auth from any for any action \"outbound\"</pre>\n"
    "<p>The line that makes an open relay is <code>match from any for any action "
    "\"outbound\"</code> (any relaying action reachable <code>from any</code> without "
    "<code>auth</code>). Check the file with <code>smtpd -n</code>, then restart.</p>\n"

    "<h2>relayguard</h2>\n"
    "<p>Relay rules are tried in order and whatever no rule allows is refused. Allow only "
    "your own networks and logged-in users:</p>\n"
    "<pre>trusted-network 127.0.0.1 ::1 192.0.2.0/24\n"
    "relay allow from trusted id lan\n"
    "relay allow from authenticated id submission</pre>\n"
    "<p>Never <code>relay allow from any</code> without <code>to DOMAIN</code>. "
    "<code>relayguard check</code> prints the effective policy and runs the relay tests "
    "against it; <code>relayguard serve</code> refuses to start a configuration that "
    "relays for outside clients.</p>\n";

void web_page_howto(struct util_buf *b)
{
	web_page_head(b, "How to close an open relay");
	util_buf_add(b, howto_body, sizeof(howto_body) - 1);
	util_buf_printf(b, "<p><a href=\"/\">Back to the lookup</a></p>\n");
	web_page_foot(b);
}
